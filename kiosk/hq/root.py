"""Headquarters' sync root: register a kiosk's keys, publish a signed release into it."""

from __future__ import annotations

import datetime as dt
import re
import subprocess
from pathlib import Path

from kiosk.errors import KioskError
from kiosk.files import write_atomic

DEVICE_NAME = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}$")


def _check_name(name: str) -> str:
    if not DEVICE_NAME.match(name):
        raise KioskError("A device name uses a-z, 0-9 and '-' (up to 63 characters).")
    return name


def add_device(root: Path, name: str) -> list[str]:
    """Make a device's two SSH keys and return the authorized_keys lines that confine them."""
    _check_name(name)
    folder = root / "devices" / name
    if folder.exists():
        raise KioskError(f"A device called {name} already exists.")
    folder.mkdir(parents=True)
    (root / "inbox" / name).mkdir(parents=True, exist_ok=True)
    (root / "releases").mkdir(exist_ok=True)
    lines = []
    for role, command in (
        ("read", f"rrsync -ro {(root / 'releases').resolve()}"),
        ("write", f"rrsync -wo -no-lock {(root / 'inbox' / name).resolve()}"),
    ):
        key = folder / f"{role}_key"
        subprocess.run(
            ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", f"kiosk-{name}-{role}",
             "-f", str(key)],
            check=True,
        )  # fmt: skip
        public = (folder / f"{role}_key.pub").read_text().strip()
        lines.append(f'restrict,command="{command}" {public}')
    return lines


def publish(src, key, root: Path, channel: str, speaker, version: int | None = None, **kw):
    """Build and sign a release into releases/<channel>/<version>, then point LATEST at it."""
    from kiosk.releases.build import build_release

    if not re.match(r"^[a-z0-9-]+$", channel):
        raise KioskError("A channel name uses a-z, 0-9 and '-'.")
    folder = root / "releases" / channel
    folder.mkdir(parents=True, exist_ok=True)
    latest = folder / "LATEST"
    now = dt.datetime.now(dt.UTC)
    version = version or int(now.strftime("%Y%m%d%H%M%S"))
    current = int(latest.read_text()) if latest.exists() else 0
    if version <= current:
        raise KioskError(f"Version {version} is not newer than the published {current}.")
    result = build_release(src, folder / str(version), key, speaker, version=version, now=now, **kw)
    write_atomic(latest, f"{version}\n")
    return result
