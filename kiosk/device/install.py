"""Install releases on a device: verify first, then switch ``current`` in one atomic step.

Layout under the data folder::

    releases/<version>/      complete, verified releases (the live one and the one before)
    current  -> releases/<version>     what the kiosk shows
    previous -> releases/<version>     what ``kiosk release rollback`` goes back to
    release-state.json       the highest version ever installed (outside the release folders)
    releases.lock            flock()ed by every process that changes anything above

A ``kill -9`` at any moment leaves ``current`` pointing at a complete release: the new one is
copied, checked and fsynced under a temporary name first, and the switch is a rename of a
symlink. Whatever a killed install left behind is removed by ``recover()`` at the next start.

Install, rollback and recovery hold one exclusive lock, so recovery can never take another
process's half-made copy for a leftover. The kernel drops the lock when its holder dies, even
by ``kill -9``. Install and rollback wait for it; recovery, which only tidies up, skips its work
when another process holds the lock, so ``kiosk release status`` or a starting server never
waits behind a long install, nor disturbs it.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import json
import os
import shutil
from collections.abc import Iterator
from pathlib import Path

from kiosk.errors import ReleaseNotFound, ReleaseRejected
from kiosk.files import fsync_dir as _fsync_dir
from kiosk.files import write_atomic
from kiosk.formats.integrity import check_file
from kiosk.formats.manifest import (
    MANIFEST,
    MAX_VERSION,
    SIGNATURE,
    Manifest,
    PublicKey,
    check_expiry,
    check_listing,
    read_manifest,
    verify_release,
)

INCOMING = ".incoming-"
KEEP = ("current", "previous")
LOCK = "releases.lock"


class ReleaseStore:
    """The releases held in one device data folder."""

    def __init__(self, data_dir: str | os.PathLike[str]) -> None:
        self.root = Path(data_dir)
        self.releases = self.root / "releases"
        self.state_file = self.root / "release-state.json"
        self.lock_file = self.root / LOCK

    # ------------------------------------------------------------ reading

    def _target(self, name: str) -> Path | None:
        link = self.root / name
        try:
            target = os.readlink(link)
        except (FileNotFoundError, OSError):
            return None
        return (self.root / target).resolve() if not os.path.isabs(target) else Path(target)

    def _version_of(self, name: str) -> int | None:
        target = self._target(name)
        if target is None or not target.is_dir():
            return None
        try:
            return int(target.name)
        except ValueError:
            return None

    @property
    def current_version(self) -> int | None:
        return self._version_of("current")

    @property
    def previous_version(self) -> int | None:
        return self._version_of("previous")

    def active(self) -> Path:
        """The folder of the live release."""
        target = self._target("current")
        if target is None or not (target / MANIFEST).is_file():
            raise ReleaseNotFound(
                "No release is installed yet. Install one from headquarters or a USB stick."
            )
        return target

    def highest(self) -> int:
        """The highest version ever installed here; nothing at or below it is accepted.

        A version beyond what a build writes (taken before such versions were refused) is
        ignored, so it cannot hold back every normal release for ever.
        """
        recorded = 0
        with contextlib.suppress(FileNotFoundError, ValueError, KeyError, TypeError):
            recorded = int(json.loads(self.state_file.read_text())["highest"])
        known = (recorded, self.current_version or 0, self.previous_version or 0)
        return max((v for v in known if v <= MAX_VERSION), default=0)

    @contextlib.contextmanager
    def _locked(self, wait: bool = True) -> Iterator[bool]:
        """Hold the releases lock; with ``wait=False``, yield False at once if another has it."""
        self.root.mkdir(parents=True, exist_ok=True)
        # O_NOFOLLOW: a link planted as the lock file must not make us create a file elsewhere.
        # Read-only is enough for flock(), and lets a kiosk user lock a file root made.
        flags = os.O_RDONLY | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC
        try:
            fd = os.open(self.lock_file, flags, 0o644)
        except PermissionError:
            if wait:
                raise
            yield False  # someone without write access only looks; tidying is not theirs
            return
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX if wait else fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                yield False
                return
            yield True
        finally:
            os.close(fd)  # closing the last descriptor releases the lock

    # ------------------------------------------------------------ writing

    def recover(self) -> list[str] | None:
        """Remove what an interrupted install left: partial copies and temporary links.

        Returns None, having touched nothing, while another process holds the releases.
        """
        if not self.root.is_dir():
            return []
        with self._locked(wait=False) as mine:
            return self._recover() if mine else None

    def _recover(self) -> list[str]:
        """Remove leftovers; only with the lock held, else another's copy looks like one."""
        removed: list[str] = []
        for entry in self.root.iterdir():
            if entry.name.startswith((".current.", ".previous.")) and entry.is_symlink():
                entry.unlink()
                removed.append(entry.name)
        if self.releases.is_dir():
            keep = {self._target(name) for name in KEEP}
            for entry in self.releases.iterdir():
                if entry.resolve() in keep:
                    continue
                shutil.rmtree(entry, ignore_errors=True)
                removed.append(f"releases/{entry.name}")
        return removed

    def _point(self, name: str, version: int) -> None:
        tmp = self.root / f".{name}.{os.getpid()}"
        tmp.unlink(missing_ok=True)
        os.symlink(f"releases/{version}", tmp)
        os.replace(tmp, self.root / name)

    def install(
        self,
        source: str | os.PathLike[str],
        trusted: list[PublicKey],
        now: dt.datetime | None = None,
    ) -> Manifest:
        """Verify the release at ``source``, copy it in, and make it live."""
        with self._locked():
            return self._install(Path(source), trusted, now)

    def _install(self, source: Path, trusted: list[PublicKey], now: dt.datetime | None) -> Manifest:
        self.releases.mkdir(exist_ok=True)
        self._recover()
        manifest = read_manifest(source, trusted)
        check_expiry(manifest, now)
        highest = self.highest()
        if manifest.version <= highest:
            raise ReleaseRejected(
                f"This release (version {manifest.version}) is not newer than the one already "
                f"installed here (version {highest}), so it was not installed."
            )
        check_listing(source, manifest)

        staging = self.releases / f"{INCOMING}{manifest.version}-{os.getpid()}"
        staging.mkdir()
        (staging / MANIFEST).write_bytes(manifest.raw)
        (staging / SIGNATURE).write_bytes(manifest.signature_line)
        try:
            for entry in manifest.files:
                check_file(source, entry, copy_to=staging / entry["path"])
            # The copy is checked against the signed manifest once more, as it now lies.
            if read_manifest(staging, trusted).raw != manifest.raw:
                raise ReleaseRejected("The release changed while it was being copied.")
            for dirpath, _dirs, _files in os.walk(staging):
                _fsync_dir(Path(dirpath))
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise

        final = self.releases / str(manifest.version)
        if final.exists():
            shutil.rmtree(final)
        os.replace(staging, final)
        _fsync_dir(self.releases)

        old = self.current_version
        if old is not None:
            self._point("previous", old)
        self._point("current", manifest.version)
        _fsync_dir(self.root)
        write_atomic(self.state_file, json.dumps({"highest": max(highest, manifest.version)}))
        self._recover()
        return manifest

    def rollback(self, trusted: list[PublicKey], now: dt.datetime | None = None) -> int:
        """Make the previous release live again, after checking it is still intact."""
        with self._locked():
            return self._rollback(trusted, now)

    def _rollback(self, trusted: list[PublicKey], now: dt.datetime | None) -> int:
        back = self.previous_version
        if back is None:
            raise ReleaseNotFound("There is no earlier release on this kiosk to go back to.")
        verify_release(self.releases / str(back), trusted, now)
        current = self.current_version
        self._point("current", back)
        if current is not None:
            self._point("previous", current)
        _fsync_dir(self.root)
        return back
