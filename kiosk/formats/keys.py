"""Signing keys: an Ed25519 private key (PEM) at headquarters, its public half on each kiosk.

A public key file holds one line, ``ed25519 <base64 of the raw 32-byte key>``; a key's id is
the first 16 hex digits of the sha256 of those raw bytes.
"""

from __future__ import annotations

import base64
import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from kiosk.errors import KioskError


@dataclass(frozen=True)
class PublicKey:
    key: Ed25519PublicKey
    source: str

    @property
    def raw(self) -> bytes:
        return self.key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)

    @property
    def id(self) -> str:
        return hashlib.sha256(self.raw).hexdigest()[:16]

    def line(self) -> str:
        return f"ed25519 {base64.b64encode(self.raw).decode()}\n"


def generate_key(path: str | os.PathLike[str]) -> PublicKey:
    """Write a new private key to ``path`` (mode 600) and its public half to ``path.pub``."""
    path = Path(path)
    if path.exists():
        raise KioskError(f"{path} already exists; refusing to overwrite a signing key.")
    private = Ed25519PrivateKey.generate()
    pem = private.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(pem)
    public = PublicKey(private.public_key(), f"{path}.pub")
    Path(f"{path}.pub").write_text(public.line(), encoding="ascii")
    return public


def load_private_key(path: str | os.PathLike[str]) -> Ed25519PrivateKey:
    try:
        data = Path(path).read_bytes()
    except FileNotFoundError:
        raise KioskError(f"The signing key {path} does not exist.") from None
    try:
        key = serialization.load_pem_private_key(data, password=None)
    except (ValueError, TypeError):
        raise KioskError(f"{path} is not a signing key made by 'kiosk release keygen'.") from None
    if not isinstance(key, Ed25519PrivateKey):
        raise KioskError(f"{path} is not an Ed25519 key.")
    return key


def load_public_key(path: str | os.PathLike[str]) -> PublicKey:
    try:
        text = Path(path).read_text(encoding="ascii").strip()
    except (FileNotFoundError, UnicodeDecodeError):
        raise KioskError(f"The trusted key file {path} is missing or unreadable.") from None
    parts = text.split()
    try:
        if len(parts) != 2 or parts[0] != "ed25519":
            raise ValueError
        raw = base64.b64decode(parts[1], validate=True)
        return PublicKey(Ed25519PublicKey.from_public_bytes(raw), str(path))
    except ValueError:
        raise KioskError(f"{path} is not a public key made by 'kiosk release keygen'.") from None


def trusted_keys(settings, extra=()) -> list[PublicKey]:
    """The keys whose releases this kiosk accepts: from settings, plus any given by hand."""
    return [load_public_key(p) for p in (*settings.trusted_keys, *extra)]
