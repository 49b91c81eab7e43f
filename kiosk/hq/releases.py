"""Releases as headquarters sees them: published, waiting to be published, and withdrawn.

A release folder ``releases/<channel>/<version>/`` is published when ``LATEST`` names it or a
lower version: kiosks fetch what ``LATEST`` names. A folder above ``LATEST`` is a candidate
(``kiosk hq publish --candidate`` builds one): it can be opened in headquarters' app exactly as
phones and the touchscreen would show it (``Previews``), then published from there.

Withdrawing points ``LATEST`` back to the highest lower version that still verifies. Kiosks
never install an older release than one they have, so a kiosk that already took the withdrawn
release keeps it until a newer one is published; withdrawing stops the others from taking it.
"""

from __future__ import annotations

import datetime as dt
import os
import shutil
import tempfile
import threading
import weakref
from dataclasses import dataclass
from pathlib import Path

from kiosk.errors import KioskError
from kiosk.files import write_atomic
from kiosk.formats.manifest import Manifest, verify_release
from kiosk.hq.root import CHANNEL_NAME


@dataclass
class ReleaseRow:
    channel: str
    version: int
    state: str  # "latest", "published" (older), "candidate" (above LATEST)
    manifest: Manifest | None  # None when it does not verify
    problem: str = ""


def latest(root: Path, channel: str) -> int:
    try:
        return int((root / "releases" / channel / "LATEST").read_text().strip())
    except (OSError, ValueError):
        return 0


def channels(root: Path) -> list[str]:
    folder = root / "releases"
    return sorted(p.name for p in folder.iterdir() if p.is_dir() and CHANNEL_NAME.fullmatch(
        p.name)) if folder.is_dir() else []  # fmt: skip


def versions(root: Path, channel: str) -> list[int]:
    folder = root / "releases" / channel
    return sorted(int(p.name) for p in folder.iterdir() if p.name.isdigit() and p.is_dir())


def releases(root: Path, channel: str, trusted) -> list[ReleaseRow]:
    """Every release folder of a channel, newest first, each verified against ``trusted``."""
    newest = latest(root, channel)
    rows = []
    for version in sorted(versions(root, channel), reverse=True):
        state = "latest" if version == newest else "candidate" if version > newest else "published"
        try:
            manifest = checked(root / "releases" / channel / str(version), version, trusted)
            rows.append(ReleaseRow(channel, version, state, manifest))
        except KioskError as exc:
            rows.append(ReleaseRow(channel, version, state, None, exc.message))
    return rows


def checked(folder: Path, version: int, trusted) -> Manifest:
    """The folder's manifest when its signature and every file verify and it is ``version``."""
    manifest = verify_release(folder, trusted)
    if manifest.version != version:
        raise KioskError(f"The folder {version} holds release {manifest.version}.")
    return manifest


def folder_of(root: Path, channel: str, version: int) -> Path:
    if not CHANNEL_NAME.fullmatch(channel) or version not in versions(root, channel):
        raise KioskError(f"There is no release {version} on channel {channel}.")
    return root / "releases" / channel / str(version)


def publish_candidate(root: Path, channel: str, version: int, trusted) -> Manifest:
    """Point LATEST at a candidate that verifies and is newer than what LATEST names."""
    folder = folder_of(root, channel, version)
    newest = latest(root, channel)
    if version <= newest:
        raise KioskError(f"Release {version} is not newer than the published {newest}.")
    manifest = checked(folder, version, trusted)
    write_atomic(root / "releases" / channel / "LATEST", f"{version}\n")
    return manifest


def withdraw(root: Path, channel: str, trusted) -> int:
    """Point LATEST back to the highest lower release that verifies; return its version."""
    newest = latest(root, channel)
    if not newest:
        raise KioskError(f"Nothing is published on channel {channel}.")
    for version in sorted((v for v in versions(root, channel) if v < newest), reverse=True):
        try:
            checked(root / "releases" / channel / str(version), version, trusted)
        except KioskError:
            continue
        write_atomic(root / "releases" / channel / "LATEST", f"{version}\n")
        return version
    raise KioskError(
        f"Release {newest} is the only one on channel {channel} that verifies: there is "
        "nothing to go back to. Publish a newer release instead."
    )


class Previews:
    """A kiosk's own web app for each release opened in preview, read-only, never counting.

    Each is the kiosk's app (kiosk.device.web) on a throwaway data folder whose live release is the
    headquarters folder itself (a link), verified as a kiosk verifies before it shows anything.
    """

    def __init__(self, trusted) -> None:
        self.trusted = trusted
        self._apps: dict[tuple[str, int], object] = {}
        self._lock = threading.Lock()
        self._folder = tempfile.mkdtemp(prefix="kiosk-hq-preview-")
        weakref.finalize(self, shutil.rmtree, self._folder, ignore_errors=True)

    def app(self, root: Path, channel: str, version: int):
        from kiosk.config import load_settings
        from kiosk.device.library import Library
        from kiosk.device.web import create_app

        folder = folder_of(root, channel, version)
        key = (channel, version)
        with self._lock:
            if key not in self._apps:
                checked(folder, version, self.trusted)  # refused: KioskError, nothing shown
                data = Path(self._folder) / f"{channel}-{version}"
                data.mkdir(parents=True, exist_ok=True)
                link = data / "current"
                if not link.is_symlink():
                    os.symlink(folder.resolve(), link)
                settings = load_settings(environ={}, data_dir=str(data))
                library = Library(data, self.trusted)
                usage = _NotCounted(data / "usage.db")
                self._apps[key] = create_app(settings, library=library, usage=usage)
            return self._apps[key]


class _NotCounted:
    """Usage counting that counts nothing: a preview is not a visit."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.k = 5

    def __getattr__(self, name: str):
        if name.startswith("count_"):
            return lambda *args, **kwargs: None
        raise AttributeError(name)

    def health(self) -> dict:
        return {"failures": 0, "last_error": ""}


def created(manifest: Manifest | None) -> str:
    return manifest.created.date().isoformat() if manifest else "?"


def expired(manifest: Manifest | None) -> bool:
    return manifest is not None and manifest.expires <= dt.datetime.now(dt.UTC)
