"""The release manifest and its Ed25519 signature: one writer, one reader, in one place.

``manifest.json`` lists every file with its size and sha256; ``manifest.sig`` holds
``ed25519 <key id> <base64 signature>`` over the exact bytes of ``manifest.json``. The
signature is checked before a single manifest byte is parsed, and even signed bytes are read
strictly (no duplicate keys, no huge numbers, bounded names), because a signing key can be
misused and two parsers must never read one manifest two ways. Each listed file is checked
against its entry by kiosk.formats.integrity; the keys are kiosk.formats.keys'.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import os
import re
import stat
from dataclasses import dataclass
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from kiosk.errors import KioskError, ReleaseNotFound, ReleaseRejected
from kiosk.formats.integrity import check_file, file_entry

# The keys live in their own module; these names stay importable from here, where they began.
from kiosk.formats.keys import PublicKey
from kiosk.formats.keys import generate_key as generate_key
from kiosk.formats.keys import load_private_key as load_private_key
from kiosk.formats.keys import load_public_key as load_public_key
from kiosk.formats.keys import trusted_keys as trusted_keys

FORMAT = 2  # 2: partial translations in the catalog, and the search index of kiosk.formats.search
READS = (1, 2)  # formats this kiosk shows
MANIFEST = "manifest.json"
SIGNATURE = "manifest.sig"
MAX_MANIFEST_BYTES = 1024 * 1024
MAX_SIGNATURE_BYTES = 4096
# A version is the build's UTC time as YYYYMMDDHHMMSS, or a smaller number given by hand.
VERSION_FORMAT = "%Y%m%d%H%M%S"
MAX_VERSION = 10**14 - 1
MAX_NAME = 255  # the longest file name Linux and a FAT or exFAT stick all accept
MAX_PATH = 1024  # well under PATH_MAX once joined below the kiosk's data folder
MAX_DIGITS = 20  # no number the format uses is longer; int() of 5,000 digits is an error
_SEGMENT = re.compile(r"[A-Za-z0-9._-]+\Z")


def shown(value: object, limit: int | None = 80) -> str:
    """Text from a release as it may be printed: invisible characters escaped, long text cut.

    A file name, key id or field from a release could hold terminal escape codes or
    right-to-left overrides that rewrite what the person at the terminal reads.
    """
    text = value if isinstance(value, str) else repr(value)
    text = "".join(ch if ch.isprintable() else ascii(ch)[1:-1] for ch in text)
    return text if limit is None or len(text) <= limit else text[: limit - 1] + "…"


# ---------------------------------------------------------------- writing


def write_manifest(
    root: Path,
    version: int,
    created: dt.datetime,
    expires: dt.datetime,
    key: Ed25519PrivateKey,
) -> dict:
    """List every file under ``root``, write manifest.json and sign it into manifest.sig."""
    check_version(version, created)
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
        # O_NOFOLLOW | O_NONBLOCK: a link or FIFO swapped in after a check is refused, not read.
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except FileNotFoundError:
        raise ReleaseRejected(f"The release has no {what} ({path.name} is missing).") from None
    except OSError:
        raise ReleaseRejected(f"The release's {path.name} is not a plain file.") from None
    st = os.fstat(fd)
    if not stat.S_ISREG(st.st_mode):
        os.close(fd)
        raise ReleaseRejected(f"The release's {path.name} is not a plain file.")
    if st.st_size > limit:
        os.close(fd)
        raise ReleaseRejected(f"The release's {path.name} is too large ({st.st_size} bytes).")
    with os.fdopen(fd, "rb") as fh:
        data = fh.read(limit + 1)
    if len(data) > limit:
        raise ReleaseRejected(f"The release's {path.name} is too large.")
    return data


def check_path(rel: object) -> str:
    """Refuse any manifest path that could point outside the release or confuse a filesystem."""
    if not isinstance(rel, str) or not rel:
        raise ReleaseRejected("The release lists a file with no name.")
    parts = rel.split("/")
    if any(p in ("", ".", "..") or not _SEGMENT.match(p) for p in parts):
        raise ReleaseRejected(f"The release lists an unsafe file name: '{shown(rel)}'.")
    if len(rel) > MAX_PATH or any(len(p) > MAX_NAME for p in parts):
        raise ReleaseRejected(
            f"The release lists a file name that is too long: '{shown(rel, 40)}' "
            f"(at most {MAX_NAME} characters a name, {MAX_PATH} a path)."
        )
    if rel in (MANIFEST, SIGNATURE):
        raise ReleaseRejected(f"The release lists its own {rel} as content.")
    return rel


def _parse_time(value: object, field: str) -> dt.datetime:
    try:
        return dt.datetime.strptime(str(value), "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=dt.UTC)
    except ValueError:
        raise ReleaseRejected(f"The release's {field} date is not readable.") from None


class _Unreadable(ValueError):
    """The manifest's JSON is not something this kiosk reads one way only."""


def _pairs(pairs: list[tuple[str, object]]) -> dict:
    # Last-one-wins would let two parsers read one signed manifest two ways.
    data: dict = {}
    for key, value in pairs:
        if key in data:
            raise _Unreadable(f"The release's list of files names the field {shown(key)} twice.")
        data[key] = value
    return data


def _number(text: str) -> int:
    if len(text.lstrip("-")) > MAX_DIGITS:
        raise _Unreadable("The release's list of files holds a number too long to be real.")
    return int(text)


def _no_constant(text: str) -> object:
    raise _Unreadable(f"The release's list of files is not readable ({text} is not JSON).")


def _parse(raw: bytes) -> dict:
    """Parse signed manifest bytes strictly: one reading only, bounded in size and depth."""
    try:
        data = json.loads(
            raw.decode("utf-8"),
            object_pairs_hook=_pairs,
            parse_int=_number,
            parse_constant=_no_constant,
        )
    except _Unreadable as exc:
        raise ReleaseRejected(str(exc)) from None
    except (UnicodeDecodeError, ValueError, RecursionError):
        # RecursionError: JSON nested thousands deep; the format itself is three levels deep.
        raise ReleaseRejected("The release's list of files is not readable.") from None
    if not isinstance(data, dict):
        raise ReleaseRejected("The release's list of files is not readable.")
    return data


def check_version(version: object, created: dt.datetime) -> int:
    """Refuse a version the build could not have written: a positive whole number, no later
    than the release's own creation time written as YYYYMMDDHHMMSS.

    A version beyond that would outrank every release built afterwards, so the kiosk could
    never take a normal release again.
    """
    stamp = int(created.astimezone(dt.UTC).strftime(VERSION_FORMAT))
    if type(version) is not int or not 0 < version <= min(stamp, MAX_VERSION):
        raise ReleaseRejected(
            f"The release's version {shown(version, 20)} is not one a build writes: a whole "
            f"number from 1 up to its creation time as YYYYMMDDHHMMSS ({stamp})."
        )
    return version


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
            "The release was signed with a key this kiosk does not trust "
            f"(key {shown(key_id, 32)})."
        )
    try:
        keys[0].key.verify(signature, raw)
    except InvalidSignature:
        raise ReleaseRejected(
            "The release was changed after it was signed: its signature does not match."
        ) from None

    data = _parse(raw)
    got = data.get("format")
    if type(got) is not int or got not in READS:  # bool is an int, and 1.0 == 1: neither is 1
        raise ReleaseRejected(
            f"The release uses format {shown(got)}, which this kiosk does not know. Update the "
            "kiosk software first."
        )
    created = _parse_time(data.get("created"), "creation")
    version = check_version(data.get("version"), created)
    files = data.get("files")
    if not isinstance(files, list):
        raise ReleaseRejected("The release's list of files is not readable.")
    seen: set[str] = set()
    folders: set[str] = set()
    for entry in files:
        if not isinstance(entry, dict):
            raise ReleaseRejected("The release's list of files is not readable.")
        rel = check_path(entry.get("path"))
        if rel.lower() in seen:
            raise ReleaseRejected(f"The release lists {rel} twice.")
        seen.add(rel.lower())
        parts = rel.lower().split("/")
        folders.update("/".join(parts[:n]) for n in range(1, len(parts)))
        size, digest = entry.get("size"), entry.get("sha256")
        if type(size) is not int or size < 0:
            raise ReleaseRejected(f"The release lists {rel} with no valid size.")
        if not isinstance(digest, str) or not re.fullmatch(r"[0-9a-f]{64}", digest):
            raise ReleaseRejected(f"The release lists {rel} with no valid checksum.")
    # Compared without case, as on a FAT stick, where "A" and "a/b" are one name.
    if both := sorted(seen & folders):
        raise ReleaseRejected(f"The release lists {both[0]} both as a file and as a folder.")
    return Manifest(
        version,
        created,
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


def check_listing(root: str | os.PathLike[str], manifest: Manifest) -> None:
    """Refuse links, special files and files the manifest does not list, without reading any."""
    root = Path(root)
    listed = {entry["path"] for entry in manifest.files} | {MANIFEST, SIGNATURE}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            full = Path(dirpath) / name
            rel = full.relative_to(root).as_posix()
            mode = full.lstat().st_mode
            # Names on disk are the release's, not checked yet: shown() before printing.
            if stat.S_ISLNK(mode):
                raise ReleaseRejected(
                    f"The release contains a link, which is not allowed: {shown(rel)}."
                )
            if stat.S_ISDIR(mode):
                continue
            if not stat.S_ISREG(mode):
                raise ReleaseRejected(f"The release contains a special file: {shown(rel)}.")
            if rel not in listed:
                raise ReleaseRejected(
                    f"The release contains a file it does not list: {shown(rel)}."
                )


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
