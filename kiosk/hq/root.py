"""Headquarters' sync root: register a kiosk's keys, publish a signed release into it."""

from __future__ import annotations

import datetime as dt
import os
import re
import subprocess
from pathlib import Path

from kiosk.errors import KioskError
from kiosk.files import write_atomic
from kiosk.hq.database import open_hq

DEVICE_NAME = re.compile(r"[a-z0-9][a-z0-9-]{0,62}")
CHANNEL_NAME = re.compile(r"[a-z0-9-]{1,63}")


class Refused(KioskError, ValueError):
    """Headquarters refused to do something unsafe; nothing was changed."""

    exit_code = 3


def _check_name(name: str) -> str:
    if not DEVICE_NAME.fullmatch(name):
        raise KioskError("A device name uses a-z, 0-9 and '-' (up to 63 characters).")
    return name


COUNTRY = re.compile(r"[A-Z]{2}")
MAX_PLACE = 80


def add_device(root: Path, name: str, country: str = "", place: str = "") -> list[str]:
    """Make a device's two SSH keys and return the authorized_keys lines that confine them.

    ``country`` (ISO 3166 two letters, such as NP) and ``place`` (the library's name and town)
    are what headquarters' fleet page sorts and filters kiosks by.
    """
    _check_name(name)
    country = country.strip().upper()
    if country and not COUNTRY.fullmatch(country):
        raise KioskError("A country is its two-letter ISO code, such as NP, MX or MD.")
    place = " ".join(place.split())
    if len(place) > MAX_PLACE or any(ord(c) < 32 or ord(c) == 127 for c in place):
        raise KioskError(f"A place is one line of at most {MAX_PLACE} characters.")
    folder = root / "devices" / name
    if folder.exists():
        raise KioskError(f"A device called {name} already exists.")
    folder.mkdir(parents=True)
    (root / "inbox" / name).mkdir(parents=True, exist_ok=True)
    (root / "releases").mkdir(exist_ok=True)
    lines = []
    for role, command in (
        ("read", f"rrsync -ro {(root / 'releases').resolve()}"),
        # -munge: a link a kiosk uploads is stored as /rsyncd-munged/<target>, which points
        # nowhere, so nothing at headquarters can be fooled into following it.
        ("write", f"rrsync -wo -munge -no-lock {(root / 'inbox' / name).resolve()}"),
    ):
        key = folder / f"{role}_key"
        subprocess.run(
            ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", f"kiosk-{name}-{role}",
             "-f", str(key)],
            check=True,
        )  # fmt: skip
        public = (folder / f"{role}_key.pub").read_text().strip()
        lines.append(f'restrict,command="{command}" {public}')
    from kiosk.hq.totals import rollup

    db = open_hq(root)
    try:
        with db.conn:
            db.execute(
                "INSERT INTO kiosks VALUES (?, ?, ?, ?) ON CONFLICT DO UPDATE SET "
                "country = excluded.country, place = excluded.place",
                [name, country or None, place or None, dt.date.today().isoformat()],
            )
        if db.execute("SELECT 1 FROM device_month WHERE device = ? LIMIT 1", [name]).fetchone():
            rollup(db)  # its figures so far now count toward another country
    finally:
        db.close()
    return lines


def check_key_apart(key: str | os.PathLike[str], root: Path) -> None:
    """Refuse a signing key kept inside the sync root, where kiosks' uploads are handled.

    Both the path as given and the file it resolves to are checked, so a link from inside
    the root to a key elsewhere is refused too.
    """
    keys = {Path(os.path.abspath(key)), Path(os.path.realpath(key))}
    roots = {Path(os.path.abspath(root)), Path(os.path.realpath(root))}
    if any(k.is_relative_to(r) for k in keys for r in roots):
        raise Refused(
            f"The signing key {key} is inside the sync root {root}, where kiosks' uploads "
            "arrive and are read; keep it elsewhere (see docs/headquarters.md)."
        )


def publish(src, key, root: Path, channel: str, speaker, version: int | None = None,
            candidate: bool = False, **kw):  # fmt: skip
    """Build and sign a release into releases/<channel>/<version>, then point LATEST at it
    (unless it is a ``candidate``, published later from headquarters' app)."""
    from kiosk.content.build import build_release

    if not CHANNEL_NAME.fullmatch(channel):
        raise KioskError("A channel name uses a-z, 0-9 and '-'.")
    check_key_apart(key, root)
    folder = root / "releases" / channel
    folder.mkdir(parents=True, exist_ok=True)
    latest = folder / "LATEST"
    now = dt.datetime.now(dt.UTC)
    version = version or int(now.strftime("%Y%m%d%H%M%S"))
    current = int(latest.read_text()) if latest.exists() else 0
    if version <= current:
        raise KioskError(f"Version {version} is not newer than the published {current}.")
    built = max((int(p.name) for p in folder.iterdir() if p.name.isdigit()), default=0)
    if version <= built:
        raise KioskError(f"Version {version} is not newer than release {built}, already built "
                         f"on channel {channel} (a candidate, or one withdrawn).")  # fmt: skip
    result = build_release(src, folder / str(version), key, speaker, version=version, now=now, **kw)
    if not candidate:
        write_atomic(latest, f"{version}\n")
    return result
