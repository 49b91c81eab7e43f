"""A USB stick: headquarters' layout on a filesystem that anybody may have prepared.

Whoever made the stick chose every name on it, links included. So:

- nothing is fetched through a link: each folder on the way to a fetched file must be a real
  folder on the stick's own filesystem, and the file a plain file (``path_checker``);
- nothing is written through a link: the inbox folders are opened one at a time, each
  relative to the one before and with ``O_NOFOLLOW``; a file is written under a fresh
  temporary name (``O_EXCL``) and renamed into place, which replaces a link of the same name
  instead of writing where it points (``save_on_stick``);
- a read-only, full or unwritable stick gets one plain sentence, not a traceback.

Every refusal is a ``StickRefused`` (exit code 3).
"""

from __future__ import annotations

import contextlib
import errno
import os
import secrets
import stat
from collections.abc import Callable
from pathlib import Path

from kiosk.errors import KioskError


class StickRefused(KioskError, OSError):
    """The stick holds something the kiosk will not read or write through."""

    exit_code = 3


def path_checker(stick: Path, channel: str) -> Callable[[str], None]:
    """A check that refuses links on the way to ``releases/<channel>/<rel>`` on the stick."""
    device = os.stat(stick).st_dev
    checked: set[str] = set()

    def check(rel: str) -> None:
        parts = ["releases", channel, *rel.split("/")]
        for i in range(len(parts)):
            shown = "/".join(parts[: i + 1])
            if shown in checked:
                continue
            try:
                st = os.lstat(stick / shown)
            except FileNotFoundError:
                return  # nothing to fetch: the verification after it says what is missing
            last = i == len(parts) - 1
            if stat.S_ISLNK(st.st_mode):
                raise StickRefused(
                    f"The stick's {shown} is a link, so nothing was copied from the stick."
                )
            if st.st_dev != device:
                raise StickRefused(
                    f"The stick's {shown} is on another disk, so nothing was copied from it."
                )
            if not (stat.S_ISREG(st.st_mode) if last else stat.S_ISDIR(st.st_mode)):
                kind = "a plain file" if last else "a folder"
                raise StickRefused(f"The stick's {shown} is not {kind}, so it was not copied.")
            if not last:
                checked.add(shown)

    return check


def _why(exc: OSError, what: str) -> str:
    if exc.errno == errno.EROFS:
        return f"The USB stick is read-only, so {what} could not be saved on it."
    if exc.errno in (errno.EACCES, errno.EPERM):
        return f"The kiosk may not write on the USB stick, so {what} could not be saved on it."
    if exc.errno in (errno.ENOSPC, errno.EDQUOT):
        return f"The USB stick is full, so {what} could not be saved on it."
    return f"Writing on the USB stick failed ({exc.strerror}), so {what} could not be saved on it."


def _open_folder(stick: Path, parts: list[str]) -> int:
    """Open (making them as needed) the folders ``parts`` under the stick, refusing links."""
    fd = os.open(stick, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    device = os.fstat(fd).st_dev
    shown = ""
    try:
        for part in parts:
            shown = f"{shown}/{part}" if shown else part
            with contextlib.suppress(FileExistsError):
                os.mkdir(part, 0o755, dir_fd=fd)
            try:
                # O_NOFOLLOW: a link named like our folder must not lead the write off the stick.
                child = os.open(part, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC,
                                dir_fd=fd)  # fmt: skip
            except OSError as exc:
                if exc.errno not in (errno.ELOOP, errno.ENOTDIR):
                    raise
                is_link = stat.S_ISLNK(os.stat(part, dir_fd=fd, follow_symlinks=False).st_mode)
                kind = "a link" if is_link else "not a folder"
                raise StickRefused(
                    f"The stick's {shown} is {kind}, so nothing was written through it."
                ) from None
            os.close(fd)
            fd = child
            if os.fstat(fd).st_dev != device:
                raise StickRefused(
                    f"The stick's {shown} is another disk, so nothing was written there."
                )
    except BaseException:
        os.close(fd)
        raise
    return fd


def _write_in(folder: int, name: str, data: bytes) -> None:
    tmp = f".{name}.{secrets.token_hex(6)}.tmp"
    # O_EXCL and O_NOFOLLOW: the temporary name is new; nothing already there is written into.
    out = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC,
                  0o644, dir_fd=folder)  # fmt: skip
    try:
        with os.fdopen(out, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())  # the stick may be pulled out right after
        # rename() replaces whatever has the final name, a link included; it never follows it.
        os.rename(tmp, name, src_dir_fd=folder, dst_dir_fd=folder)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp, dir_fd=folder)
        raise


def save_on_stick(stick: str | os.PathLike[str], parts: list[str], files: dict[str, bytes],
                  what: str = "the usage figures") -> None:  # fmt: skip
    """Write ``files`` into the folder ``parts`` on the stick, each whole or not at all."""
    try:
        folder = _open_folder(Path(stick), parts)
        try:
            for name, data in files.items():
                try:
                    _write_in(folder, name, data)
                except IsADirectoryError:
                    raise StickRefused(
                        f"The stick holds a folder named {name}, so {what} could not be saved."
                    ) from None
            with contextlib.suppress(OSError):  # not every filesystem syncs a folder
                os.fsync(folder)
        finally:
            os.close(folder)
    except StickRefused:
        raise
    except OSError as exc:
        raise StickRefused(_why(exc, what)) from None
