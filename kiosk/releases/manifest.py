"""The release manifest and its Ed25519 signature: one writer, one reader, in one place.

``manifest.json`` lists every file with its size and sha256; ``manifest.sig`` holds
``ed25519 <key id> <base64 signature>`` over the exact bytes of ``manifest.json``. The
signature is checked before a single manifest byte is parsed.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import json
import os
import re
import stat
from dataclasses import dataclass
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from kiosk.errors import KioskError, ReleaseNotFound, ReleaseRejected

# The keys live in their own module; these names stay importable from here, where they began.
from kiosk.releases.keys import PublicKey
from kiosk.releases.keys import generate_key as generate_key
from kiosk.releases.keys import load_private_key as load_private_key
from kiosk.releases.keys import load_public_key as load_public_key
from kiosk.releases.keys import trusted_keys as trusted_keys

FORMAT = 1
MANIFEST = "manifest.json"
SIGNATURE = "manifest.sig"
MAX_MANIFEST_BYTES = 1024 * 1024
MAX_SIGNATURE_BYTES = 4096
CHUNK = 1024 * 1024
_SEGMENT = re.compile(r"^[A-Za-z0-9._-]+$")


# ---------------------------------------------------------------- writing


def file_entry(root: Path, rel: str) -> dict:
    path = root / rel
    digest = hashlib.sha256()
    size = 0
    with path.open("rb") as fh:
        while chunk := fh.read(CHUNK):
            digest.update(chunk)
            size += len(chunk)
    return {"path": rel, "size": size, "sha256": digest.hexdigest()}


def write_manifest(
    root: Path,
    version: int,
    created: dt.datetime,
    expires: dt.datetime,
    key: Ed25519PrivateKey,
) -> dict:
    """List every file under ``root``, write manifest.json and sign it into manifest.sig."""
    files = sorted(
        p.relative_to(root).as_posix()
        for p in root.rglob("*")
        if p.is_file() and p.name not in (MANIFEST, SIGNATURE)
    )
    manifest = {
        "format": FORMAT,
        "version": version,
        "created": created.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "expires": expires.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "files": [file_entry(root, rel) for rel in files],
    }
    body = (json.dumps(manifest, indent=1, sort_keys=True, ensure_ascii=False) + "\n").encode()
    if len(body) > MAX_MANIFEST_BYTES:
        raise KioskError("The release lists too many files for one manifest (over 1 MiB).")
    (root / MANIFEST).write_bytes(body)
    public = PublicKey(key.public_key(), "")
    signature = base64.b64encode(key.sign(body)).decode()
    (root / SIGNATURE).write_text(f"ed25519 {public.id} {signature}\n", encoding="ascii")
    return manifest


# ---------------------------------------------------------------- reading and checking


@dataclass(frozen=True)
class Manifest:
    version: int
    created: dt.datetime
    expires: dt.datetime
    files: tuple[dict, ...]
    key_id: str
    raw: bytes
    signature_line: bytes


def _read_small(path: Path, limit: int, what: str) -> bytes:
    try:
        st = path.lstat()
    except FileNotFoundError:
        raise ReleaseRejected(f"The release has no {what} ({path.name} is missing).") from None
    if not stat.S_ISREG(st.st_mode):
        raise ReleaseRejected(f"The release's {path.name} is not a plain file.")
    if st.st_size > limit:
        raise ReleaseRejected(f"The release's {path.name} is too large ({st.st_size} bytes).")
    with path.open("rb") as fh:
        data = fh.read(limit + 1)
    if len(data) > limit:
        raise ReleaseRejected(f"The release's {path.name} is too large.")
    return data


def check_path(rel: object) -> str:
    """Refuse any manifest path that could point outside the release or confuse a filesystem."""
    if not isinstance(rel, str) or not rel:
        raise ReleaseRejected("The release lists a file with no name.")
    if "\0" in rel or "\\" in rel or rel.startswith("/") or re.match(r"^[A-Za-z]:", rel):
        raise ReleaseRejected(f"The release lists an unsafe file name: {rel!r}.")
    parts = rel.split("/")
    if any(p in ("", ".", "..") or not _SEGMENT.match(p) for p in parts):
        raise ReleaseRejected(f"The release lists an unsafe file name: {rel!r}.")
    if rel in (MANIFEST, SIGNATURE):
        raise ReleaseRejected(f"The release lists its own {rel} as content.")
    return rel


def _parse_time(value: object, field: str) -> dt.datetime:
    try:
        return dt.datetime.strptime(str(value), "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=dt.UTC)
    except ValueError:
        raise ReleaseRejected(f"The release's {field} date is not readable.") from None


def read_manifest(root: str | os.PathLike[str], trusted: list[PublicKey]) -> Manifest:
    """Check the signature over the exact manifest bytes, then parse and check its fields."""
    root = Path(root)
    if not root.is_dir():
        raise ReleaseNotFound(f"There is no release folder at {root}.")
    raw = _read_small(root / MANIFEST, MAX_MANIFEST_BYTES, "list of files")
    sig_line = _read_small(root / SIGNATURE, MAX_SIGNATURE_BYTES, "signature")
    if not trusted:
        raise ReleaseRejected("This kiosk trusts no signing key yet, so it cannot check releases.")
    try:
        kind, key_id, sig_b64 = sig_line.decode("ascii").split()
        signature = base64.b64decode(sig_b64, validate=True)
        if kind != "ed25519" or len(signature) != 64:
            raise ValueError
    except (ValueError, UnicodeDecodeError):
        raise ReleaseRejected("The release's signature file is damaged.") from None
    keys = [k for k in trusted if k.id == key_id]
    if not keys:
        raise ReleaseRejected(
            f"The release was signed with a key this kiosk does not trust (key {key_id[:16]})."
        )
    try:
        keys[0].key.verify(signature, raw)
    except InvalidSignature:
        raise ReleaseRejected(
            "The release was changed after it was signed: its signature does not match."
        ) from None

    try:
        data = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise ReleaseRejected("The release's list of files is not readable.") from None
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        got = data.get("format") if isinstance(data, dict) else None
        raise ReleaseRejected(
            f"The release uses format {got!r}, which this kiosk does not know. Update the kiosk "
            "software first."
        )
    version = data.get("version")
    if not isinstance(version, int) or isinstance(version, bool) or version <= 0:
        raise ReleaseRejected("The release has no valid version number.")
    files = data.get("files")
    if not isinstance(files, list):
        raise ReleaseRejected("The release's list of files is not readable.")
    seen: set[str] = set()
    for entry in files:
        if not isinstance(entry, dict):
            raise ReleaseRejected("The release's list of files is not readable.")
        rel = check_path(entry.get("path"))
        if rel.lower() in seen:
            raise ReleaseRejected(f"The release lists {rel!r} twice.")
        seen.add(rel.lower())
        size, digest = entry.get("size"), entry.get("sha256")
        if not isinstance(size, int) or isinstance(size, bool) or size < 0:
            raise ReleaseRejected(f"The release lists {rel!r} with no valid size.")
        if not isinstance(digest, str) or not re.fullmatch(r"[0-9a-f]{64}", digest):
            raise ReleaseRejected(f"The release lists {rel!r} with no valid checksum.")
    return Manifest(
        version,
        _parse_time(data.get("created"), "creation"),
        _parse_time(data.get("expires"), "expiry"),
        tuple(files),
        key_id,
        raw,
        sig_line,
    )


def check_expiry(manifest: Manifest, now: dt.datetime | None = None) -> None:
    now = now or dt.datetime.now(dt.UTC)
    if manifest.expires <= now:
        day = manifest.expires.date().isoformat()
        raise ReleaseRejected(f"The release expired on {day}. Ask headquarters for a newer one.")


def hash_file(path: Path, size: int, rel: str, copy_to: Path | None = None) -> str:
    """Check one file's size and sha256, reading no more than its declared size.

    With ``copy_to``, the bytes that were checked are the bytes written, so a file swapped
    on the stick while it is read cannot slip past the check.
    """
    try:
        # O_NONBLOCK: opening a FIFO must not hang the kiosk; it is refused just below.
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except FileNotFoundError:
        raise ReleaseRejected(f"The release is incomplete: {rel} is missing.") from None
    except OSError:
        raise ReleaseRejected(f"The release contains a link or special file: {rel}.") from None
    with os.fdopen(fd, "rb") as fh:
        st = os.fstat(fh.fileno())
        if not stat.S_ISREG(st.st_mode):
            raise ReleaseRejected(f"The release contains a special file: {rel}.")
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


def check_listing(root: str | os.PathLike[str], manifest: Manifest) -> None:
    """Refuse links, special files and files the manifest does not list, without reading any."""
    root = Path(root)
    listed = {entry["path"] for entry in manifest.files} | {MANIFEST, SIGNATURE}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            full = Path(dirpath) / name
            rel = full.relative_to(root).as_posix()
            mode = full.lstat().st_mode
            if stat.S_ISLNK(mode):
                raise ReleaseRejected(f"The release contains a link, which is not allowed: {rel}.")
            if stat.S_ISDIR(mode):
                continue
            if not stat.S_ISREG(mode):
                raise ReleaseRejected(f"The release contains a special file: {rel}.")
            if rel not in listed:
                raise ReleaseRejected(f"The release contains a file it does not list: {rel}.")


def check_file(root: Path, entry: dict, copy_to: Path | None = None) -> None:
    """Check (and optionally copy) one listed file against its size and checksum."""
    rel = entry["path"]
    if hash_file(root / rel, entry["size"], rel, copy_to) != entry["sha256"]:
        raise ReleaseRejected(f"The release is damaged: {rel} does not match its checksum.")


def verify_tree(root: str | os.PathLike[str], manifest: Manifest) -> None:
    """Check that ``root`` holds exactly the manifest's files, all intact, and nothing else."""
    check_listing(root, manifest)
    for entry in manifest.files:
        check_file(Path(root), entry)


def verify_release(
    root: str | os.PathLike[str], trusted: list[PublicKey], now: dt.datetime | None = None
) -> Manifest:
    """Verify signature, format, expiry and every file of the release folder at ``root``."""
    manifest = read_manifest(root, trusted)
    check_expiry(manifest, now)
    verify_tree(root, manifest)
    return manifest
