"""A USB stick for kiosks headquarters cannot reach: the newest signed releases, an empty inbox.

Layout of a stick (what ``kiosk sync --usb`` reads, docs/sync.md)::

    releases/<channel>/LATEST       the newest version number, one line
    releases/<channel>/<version>/   that release: manifest.json, manifest.sig and what they list
    inbox/                          empty: each kiosk leaves its figures in inbox/<device>/

Never on a stick: devices/ (every kiosk's private SSH keys), hq.db, rejected/, other kiosks'
uploads, older releases, the signing key. Each release is verified first (signature, expiry,
every file's size and sha256) and copied file by file from its manifest, the bytes checked
being the bytes written, so the stick carries exactly what was signed and a release kiosks
would refuse never travels. Figures a returning stick still holds are taken in (as
``kiosk hq ingest --inbox`` would) before its inbox is emptied. The releases are written under
a hidden name and renamed into place: a stick pulled out half-way has no release on it, never
half of one.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path

from kiosk.errors import KioskError
from kiosk.files import fsync_dir
from kiosk.formats.integrity import check_file
from kiosk.formats.manifest import (
    MANIFEST,
    SIGNATURE,
    Manifest,
    PublicKey,
    check_expiry,
    read_manifest,
)
from kiosk.hq.ingest import ingest
from kiosk.hq.root import CHANNEL_NAME, Refused

# What a filesystem or an operating system puts on a stick by itself; left alone.
HOUSEKEEPING = {"lost+found", "System Volume Information"}
CARRIED = {"releases", "inbox"}
NEW, OLD = ".releases-new", ".releases-old"


@dataclass
class Stick:
    releases: list[tuple[str, Manifest]] = field(default_factory=list)
    files: int = 0
    size: int = 0
    took_in: dict | None = None


def _published(root: Path, channel: str, trusted: list[PublicKey]) -> tuple[Path, Manifest]:
    latest = root / "releases" / channel / "LATEST"
    try:
        # O_NOFOLLOW: LATEST is headquarters' own plain file; anything else is a mistake.
        fd = os.open(latest, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
        with os.fdopen(fd, "rb") as fh:
            version = int(fh.read(32).decode("ascii").strip())
    except (OSError, ValueError):
        raise Refused(f"Channel {channel} has no published release (kiosk hq publish).") from None
    folder = root / "releases" / channel / str(version)
    try:
        manifest = read_manifest(folder, trusted)
        check_expiry(manifest)
    except KioskError as exc:
        raise Refused(
            f"Release {version} of channel {channel} cannot go on a stick: {exc.message}"
        ) from None
    return folder, manifest


def _check_dest(dest: Path) -> None:
    if not dest.exists():
        return
    if dest.is_symlink() or not dest.is_dir():
        raise Refused(f"{dest} is not a folder.")
    others = sorted(
        name
        for name in os.listdir(dest)
        if name not in CARRIED and name not in HOUSEKEEPING and not name.startswith(".")
    )
    if others:
        raise Refused(
            f"{dest} holds things a stick must never carry ({', '.join(others[:6])}); use an "
            "empty stick or folder, or delete them first."
        )
    for name in CARRIED:
        path = dest / name
        if path.is_symlink() or (path.exists() and not path.is_dir()):
            raise Refused(f"{path} is not a folder; delete it first.")


def _remove(path: Path) -> None:
    if path.is_symlink() or not path.is_dir():
        path.unlink(missing_ok=True)
    else:
        shutil.rmtree(path)


def _write(path: Path, data: bytes) -> None:
    # Not write_atomic: the whole folder is renamed into place once complete, and a chmod
    # (which write_atomic does) is refused by the FAT filesystems most sticks carry.
    with path.open("wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())


def _copy_release(folder: Path, manifest: Manifest, out: Path, stick: Stick) -> None:
    for entry in manifest.files:
        check_file(folder, entry, copy_to=out / entry["path"])
        stick.files += 1
        stick.size += entry["size"]
    out.mkdir(parents=True, exist_ok=True)
    _write(out / MANIFEST, manifest.raw)
    _write(out / SIGNATURE, manifest.signature_line)


def _fsync_tree(top: Path) -> None:
    for dirpath, _dirs, _files in os.walk(top, topdown=False):
        fsync_dir(dirpath)


def make_stick(
    root: Path, dest: Path, trusted: list[PublicKey], channels: list[str] | None = None
) -> Stick:
    """Write what a kiosk's stick carries to ``dest``, and nothing else."""
    if not trusted:
        raise Refused(
            "Say which public key releases are signed with (--pubkey KEY.pub, or the "
            "trusted_keys setting), so the stick is checked before it travels."
        )
    if channels is None:
        published = root / "releases"
        channels = sorted(p.parent.name for p in published.glob("*/LATEST"))
        if not channels:
            raise Refused(f"Nothing is published in {published} yet (kiosk hq publish).")
    channels = list(dict.fromkeys(channels))
    for channel in channels:
        if not CHANNEL_NAME.fullmatch(channel):
            raise Refused("A channel name uses a-z, 0-9 and '-'.")
    # Everything that can refuse is checked before the stick is touched.
    releases = [(channel, *_published(root, channel, trusted)) for channel in channels]
    _check_dest(dest)

    try:
        return _write_stick(root, dest, releases)
    except OSError as exc:
        raise Refused(
            f"Writing to {dest} failed ({exc.strerror}); the releases it held before, if any, "
            "are still there. Free some space or use another stick."
        ) from None


def _write_stick(root: Path, dest: Path, releases: list[tuple[str, Path, Manifest]]) -> Stick:
    stick = Stick()
    dest.mkdir(parents=True, exist_ok=True)
    inbox = dest / "inbox"
    if inbox.is_dir() and os.listdir(inbox):
        stick.took_in = ingest(root, inbox)  # nothing a kiosk sent is lost by emptying it
        for entry in inbox.iterdir():
            _remove(entry)
    for leftover in (dest / NEW, dest / OLD):  # from a run that was cut short
        if leftover.exists() or leftover.is_symlink():
            _remove(leftover)
    new = dest / NEW
    for channel, folder, manifest in releases:
        out = new / channel
        _copy_release(folder, manifest, out / str(manifest.version), stick)
        _write(out / "LATEST", f"{manifest.version}\n".encode())
        stick.releases.append((channel, manifest))
    _fsync_tree(new)
    current = dest / "releases"
    if current.exists():
        os.rename(current, dest / OLD)
    os.rename(new, current)
    inbox.mkdir(exist_ok=True)
    fsync_dir(dest)
    if (dest / OLD).exists():
        shutil.rmtree(dest / OLD)
    return stick
