"""What comes in: a signed release, fetched into staging in three bounded steps, then installed.

1. ``LATEST`` (at most 64 bytes; rsync's ``--max-size`` skips anything bigger).
2. ``manifest.json`` and ``manifest.sig`` of that version (at most the manifest's own limit),
   and the signature is checked before anything else is asked for.
3. Exactly the files the signed manifest lists (``--files-from``), none bigger than the
   biggest listed size. A file the release does not list is never fetched at all.

Staging (``<data_dir>/staging/<channel>/``) keeps the previous release so that rsync sends only
what changed, and rsync's holding folders (``.~tmp~``) so that a cut transfer resumes. It is
the kiosk's own folder, so the kiosk also tidies it: whatever the new release does not list is
removed before the transfer, and the holding folders too once a transfer has completed. A
power cut mid-transfer can therefore never leave a file behind that blocks later installs.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from pathlib import Path

from kiosk.device.install import ReleaseStore
from kiosk.device.sync.outbox import limits
from kiosk.device.sync.transport import Transfer, rsync
from kiosk.errors import ReleaseRejected
from kiosk.files import write_atomic
from kiosk.formats.manifest import (
    MANIFEST,
    MAX_MANIFEST_BYTES,
    SIGNATURE,
    Manifest,
    PublicKey,
    check_expiry,
    read_manifest,
)

MAX_LATEST = 64  # a version number and a newline; anything bigger is not one
HOLDING = ".~tmp~"  # rsync's folder for --partial and --delay-updates


def _read_latest(path: Path, owner: str) -> int:
    try:
        # O_NOFOLLOW: rsync wrote this file; a link here would be someone else's doing.
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
    except FileNotFoundError:
        raise ReleaseRejected(
            f"{owner} LATEST file is larger than {MAX_LATEST} bytes (it should hold only a "
            "version number), so it was not fetched."
        ) from None
    with os.fdopen(fd, "rb") as fh:
        text = fh.read(MAX_LATEST + 1)
    try:
        version = int(text.decode("ascii").strip())
    except (UnicodeDecodeError, ValueError):
        version = 0
    if version <= 0 or len(text) > MAX_LATEST:
        raise ReleaseRejected(f"{owner} LATEST file does not hold a version number.")
    return version


def _needed_folders(listed: set[str]) -> set[str]:
    folders = set()
    for rel in listed:
        parts = rel.split("/")[:-1]
        folders.update("/".join(parts[: i + 1]) for i in range(len(parts)))
    return folders


def _remove(path: str) -> None:
    if os.path.isdir(path) and not os.path.islink(path):
        shutil.rmtree(path)
    else:
        os.unlink(path)


def tidy(staging: Path, listed: set[str], keep_held: bool) -> None:
    """Remove from staging all the release does not list (links and folders in a file's place
    included); rsync's holding folders only once ``keep_held`` is off."""
    folders = _needed_folders(listed)

    def walk(folder: str, prefix: str) -> None:
        with os.scandir(folder) as entries:
            for entry in list(entries):
                rel = prefix + entry.name
                real_dir = entry.is_dir(follow_symlinks=False)
                if entry.name == HOLDING and real_dir and keep_held:
                    # Partial files of listed names resume the transfer; the rest go.
                    with os.scandir(entry.path) as held:
                        for item in list(held):
                            if prefix + item.name not in listed or not item.is_file(
                                follow_symlinks=False
                            ):
                                _remove(item.path)
                elif real_dir and rel in folders:
                    walk(entry.path, rel + "/")
                elif real_dir or rel not in listed or entry.is_symlink():
                    _remove(entry.path)

    walk(str(staging), "")


def _list_file(staging: Path, names: list[str]) -> Path:
    # NUL-separated (--from0): no name in a checked manifest holds a NUL.
    return write_atomic(staging.parent / f"{staging.name}.files", "\0".join(names) + "\0",
                        durable=False)  # fmt: skip


def fetch_manifest(
    conn,
    known_hosts,
    source: str,
    staging: Path,
    version: int,
    trusted: list[PublicKey],
    owner: str,
    **how,
) -> tuple[Manifest, Transfer]:
    """Fetch and check one version's signed manifest, before a single release file."""
    for name in (MANIFEST, SIGNATURE):  # an old copy must not stand in for one not fetched
        (staging / name).unlink(missing_ok=True)
    names = _list_file(staging, [MANIFEST, SIGNATURE])
    transfer = rsync(conn, known_hosts, f"{source}/{version}/", f"{staging}/",
                     f"--files-from={names}", "--from0", f"--max-size={MAX_MANIFEST_BYTES}",
                     what=f"release {version}'s list of files", missing_ok=True, **how)  # fmt: skip
    if not (staging / MANIFEST).exists() and not (staging / SIGNATURE).exists():
        raise ReleaseRejected(f"{owner} release {version} has no list of files (manifest.json).")
    if not (staging / MANIFEST).exists():
        raise ReleaseRejected(
            f"{owner} release {version} has a manifest.json larger than "
            f"{MAX_MANIFEST_BYTES // 1024} KB, so it was not fetched."
        )
    manifest = read_manifest(staging, trusted)  # the signature first, then the fields
    if manifest.version != version:
        raise ReleaseRejected(
            f"{owner} LATEST names release {version}, but that folder holds release "
            f"{manifest.version}."
        )
    check_expiry(manifest)
    return manifest, transfer


def pull(
    conn,
    known_hosts,
    settings,
    trusted: list[PublicKey],
    root: str = ":",
    progress=False,
    check: Callable[[str], None] | None = None,
    owner: str = "Headquarters'",
) -> tuple[int | None, Transfer]:
    """Fetch the newest release into staging and install it if it is newer. Returns version.

    ``check`` sees every path (relative to the channel's folder) before it is fetched; a USB
    stick uses it to refuse links.
    """
    check = check or (lambda rel: None)
    data = Path(settings.data_dir)
    staging = data / "staging" / settings.release_channel
    staging.mkdir(parents=True, exist_ok=True)
    source = (
        f"{root.rstrip('/')}/releases/{settings.release_channel}"
        if root != ":"
        else f":{settings.release_channel}"
    )
    how = {"timeout": settings.sync_timeout, "peer": "Headquarters" if conn else "The USB stick",
           "pinned": "hq_known_hosts"}  # fmt: skip
    latest = data / "staging" / f"{settings.release_channel}.LATEST"
    latest.unlink(missing_ok=True)  # an old copy must not stand in for one skipped as too big
    check("LATEST")
    transfer = rsync(conn, known_hosts, f"{source}/LATEST", str(latest),
                     f"--max-size={MAX_LATEST}", what=f"{owner} LATEST", **how)  # fmt: skip
    version = _read_latest(latest, owner)
    store = ReleaseStore(data)
    if version <= store.highest():
        return None, transfer
    check(f"{version}/{MANIFEST}")
    check(f"{version}/{SIGNATURE}")
    manifest, got = fetch_manifest(conn, known_hosts, source, staging, version, trusted, owner,
                                   **how)  # fmt: skip
    transfer += got
    listed = [entry["path"] for entry in manifest.files]
    for rel in listed:
        check(f"{version}/{rel}")
    tidy(staging, {*listed, MANIFEST, SIGNATURE}, keep_held=True)
    if listed:
        biggest = max(entry["size"] for entry in manifest.files)
        names = _list_file(staging, listed)
        # Into the same staging folder every time: rsync then sends only what changed.
        transfer += rsync(conn, known_hosts, f"{source}/{version}/", f"{staging}/",
                          f"--files-from={names}", "--from0", f"--max-size={max(biggest, 1)}",
                          *limits(settings), progress=progress, missing_ok=True,
                          what=f"release {version}", **how)  # fmt: skip
    tidy(staging, {*listed, MANIFEST, SIGNATURE}, keep_held=False)
    store.install(staging, trusted)
    return version, transfer
