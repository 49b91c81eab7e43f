"""The heartbeat a kiosk sends headquarters: how the device is, never who came. One writer
(``encode``, on the kiosk) and one reader (``decode``, at headquarters), side by side.

``<outbox>/heartbeat.json``, rewritten at each sync (docs/sync.md)::

    {"format": 1, "device": "kiosk-1", "day": "2026-11-25", "release": 7,
     "app_version": "0.1.0", "last_sync": "...", "last_sync_ok": true,
     "disk_free": 123, "disk_total": 456, "temperature": 51.2, "uptime": 3600,
     "errors": {"failures": 0, "last_error": ""}}

The reader takes what a kiosk (or a stick that sat in a drawer, or somebody else) sent: every
field is checked for its type and bounded, a field it does not know is dropped, one of the
wrong type is read as unknown (None), and the device is the one the inbox folder names, not
what the file says.
"""

from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass, field

NAME = "heartbeat.json"
FORMAT = 1
MAX_BYTES = 64 * 1024  # a heartbeat is about 400 bytes
MAX_TEXT = 300  # last_sync, app_version and the like, as headquarters shows them
DAY = re.compile(r"\d{4}-\d{2}-\d{2}")


@dataclass(frozen=True)
class Heartbeat:
    device: str
    day: str | None = None  # None: the kiosk did not know the date
    release: int | None = None
    app_version: str = ""
    last_sync: str = ""
    last_sync_ok: bool | None = None
    disk_free: int | None = None
    disk_total: int | None = None
    temperature: float | None = None
    uptime: float | None = None  # seconds
    errors: dict = field(default_factory=dict)  # {"failures": int, "last_error": str}

    @property
    def failures(self) -> int:
        return self.errors.get("failures", 0)

    @property
    def last_error(self) -> str:
        return self.errors.get("last_error", "")


def encode(beat: Heartbeat) -> bytes:
    """The file's bytes, as the kiosk writes them."""
    return (json.dumps({"format": FORMAT, **asdict(beat)}, sort_keys=True) + "\n").encode()


def _int(value) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _number(value) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if value == value and abs(value) < 1e12 else None  # not NaN, not huge


def _bytes(value) -> int | None:
    number = _number(value)
    return int(number) if number is not None and number >= 0 else None


def _text(value) -> str:
    return value[:MAX_TEXT] if isinstance(value, str) else ""


def decode(raw: bytes | str, device: str) -> Heartbeat | None:
    """What a heartbeat says, checked; None if it is not one (not JSON, not an object, too
    big, or of a format this headquarters does not read)."""
    if len(raw) > MAX_BYTES:
        return None
    try:
        data = json.loads(raw)
    except (ValueError, RecursionError):
        return None
    if not isinstance(data, dict) or data.get("format", FORMAT) != FORMAT:
        return None
    day = data.get("day")
    errors = data.get("errors") if isinstance(data.get("errors"), dict) else {}
    ok = data.get("last_sync_ok")
    return Heartbeat(
        device=device,
        day=day if isinstance(day, str) and DAY.fullmatch(day) else None,
        release=_int(data.get("release")),
        app_version=_text(data.get("app_version")),
        last_sync=_text(data.get("last_sync")),
        last_sync_ok=ok if isinstance(ok, bool) else None,
        disk_free=_bytes(data.get("disk_free")),
        disk_total=_bytes(data.get("disk_total")),
        temperature=_number(data.get("temperature")),
        uptime=_number(data.get("uptime")),
        errors={
            "failures": max(0, _int(errors.get("failures")) or 0),
            "last_error": _text(errors.get("last_error")),
        },
    )
