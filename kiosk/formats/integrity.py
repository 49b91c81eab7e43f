"""A release's files against their entries in its manifest: size and sha256, read safely.

    file_entry(root, rel) -> {"path": rel, "size": ..., "sha256": ...}   (writing a manifest)
    check_file(root, entry, copy_to=None)                                 (checking a release)

A listed file is opened without following a link or waiting on a FIFO, must be a plain file of
exactly its listed size, and is read no further. With ``copy_to`` the bytes that were checked
are the bytes written, so a file swapped on a stick while it is read cannot slip past.
"""

from __future__ import annotations

import errno
import hashlib
import os
import stat
from pathlib import Path

from kiosk.errors import ReleaseRejected

CHUNK = 1024 * 1024


def file_entry(root: Path, rel: str) -> dict:
    path = root / rel
    digest = hashlib.sha256()
    size = 0
    with path.open("rb") as fh:
        while chunk := fh.read(CHUNK):
            digest.update(chunk)
            size += len(chunk)
    return {"path": rel, "size": size, "sha256": digest.hexdigest()}


def hash_file(path: Path, size: int, rel: str, copy_to: Path | None = None) -> str:
    """Check one file's size and sha256, reading no more than its declared size.

    With ``copy_to``, the bytes that were checked are the bytes written, so a file swapped
    on the stick while it is read cannot slip past the check.
    """
    try:
        # O_NOFOLLOW: a link is refused, never followed. O_NONBLOCK: opening a FIFO must not
        # hang the kiosk; it is refused just below.
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except OSError as exc:
        raise ReleaseRejected(_unopenable(exc, rel)) from None
    st = os.fstat(fd)
    if not stat.S_ISREG(st.st_mode):
        # Checked on the open file itself, before fdopen, which raises on a folder.
        os.close(fd)
        if stat.S_ISDIR(st.st_mode):
            raise ReleaseRejected(f"The release has a folder where it lists the file {rel}.")
        raise ReleaseRejected(f"The release contains a special file: {rel}.")
    with os.fdopen(fd, "rb") as fh:
        if st.st_size != size:
            raise ReleaseRejected(
                f"The release is damaged: {rel} has {st.st_size} bytes, expected {size}."
            )
        digest = hashlib.sha256()
        out = None
        if copy_to is not None:
            copy_to.parent.mkdir(parents=True, exist_ok=True)
            out = copy_to.open("wb")
        try:
            left = size
            while left:
                chunk = fh.read(min(CHUNK, left))
                if not chunk:
                    raise ReleaseRejected(f"The release is damaged: {rel} is shorter than listed.")
                digest.update(chunk)
                if out is not None:
                    out.write(chunk)
                left -= len(chunk)
            if out is not None:
                out.flush()
                os.fsync(out.fileno())
        finally:
            if out is not None:
                out.close()
    return digest.hexdigest()


def _unopenable(exc: OSError, rel: str) -> str:
    """The sentence for a listed file that cannot be opened as a plain file."""
    if exc.errno == errno.ENOENT:
        return f"The release is incomplete: {rel} is missing."
    if exc.errno == errno.ELOOP:
        return f"The release contains a link, which is not allowed: {rel}."
    if exc.errno == errno.ENOTDIR:
        return f"The release is damaged: part of the folder path of {rel} is a file."
    if exc.errno == errno.ENAMETOOLONG:
        return f"The release lists a file name that is too long: {rel}."
    if exc.errno in (errno.ENXIO, errno.EOPNOTSUPP):  # a socket
        return f"The release contains a special file: {rel}."
    return f"The release's file {rel} cannot be read ({os.strerror(exc.errno or 0)})."


def check_file(root: Path, entry: dict, copy_to: Path | None = None) -> None:
    """Check (and optionally copy) one listed file against its size and checksum."""
    rel = entry["path"]
    if hash_file(root / rel, entry["size"], rel, copy_to) != entry["sha256"]:
        raise ReleaseRejected(f"The release is damaged: {rel} does not match its checksum.")
