"""The fleet at a glance: every kiosk's last word, and red, amber or green by plain rules.

A kiosk is **red** when somebody should act now:
- silent: no heartbeat for more than ``SILENT_RED_DAYS`` days (or never heard from);
- full: its storage more than ``DISK_RED`` used;
- behind: ``BEHIND_RED`` or more newer releases are published than the one it shows;
- refused: its last update refused a release (a bad signature, an expired or older one).

**Amber** when it needs watching: silent for more than a day, storage over ``DISK_AMBER``, one
release behind, its last sync failed, counting errors, or hot (``HOT`` °C and over).
Otherwise **green**. Each rule that fired is listed in words beside the colour.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path

from kiosk.formats import heartbeat as beats
from kiosk.hq.database import open_hq

SILENT_RED_DAYS = 3
SILENT_AMBER_DAYS = 1
DISK_RED = 0.90
DISK_AMBER = 0.80
BEHIND_RED = 2
HOT = 80.0
COLOURS = ("red", "amber", "green")


@dataclass
class KioskState:
    name: str
    country: str = ""
    place: str = ""
    received: dt.datetime | None = None  # when headquarters last heard from it
    release: int | None = None
    behind: int = 0  # releases published after the one it shows
    disk_used: float | None = None  # share of its storage in use
    disk_free: int | None = None
    temperature: float | None = None
    errors: int = 0
    last_error: str = ""
    last_sync: str = ""
    last_sync_ok: bool | None = None
    last_stick: dt.datetime | None = None  # last heartbeat that came on a USB stick
    colour: str = "green"
    reasons: list[str] = field(default_factory=list)

    def heard_ago(self, now: dt.datetime | None = None) -> str:
        """How long ago headquarters last heard from it, in words ("3 hours", "5 days")."""
        if self.received is None:
            return "never"
        seconds = ((now or dt.datetime.now(dt.UTC)) - self.received).total_seconds()
        if seconds < 3600:
            return "within the hour"
        if seconds < 86400:
            hours = int(seconds // 3600)
            return f"{hours} hour{'s' if hours != 1 else ''} ago"
        days = int(seconds // 86400)
        return f"{days} day{'s' if days != 1 else ''} ago"


def published(root: Path) -> dict[str, list[int]]:
    """Each channel's published releases (up to what LATEST names: candidates above it are
    not published), oldest first."""
    channels: dict[str, list[int]] = {}
    for latest in (root / "releases").glob("*/LATEST"):
        try:
            newest = int(latest.read_text().strip())
        except (OSError, ValueError):
            continue
        channels[latest.parent.name] = sorted(
            int(f.name) for f in latest.parent.iterdir()
            if f.name.isdigit() and int(f.name) <= newest and (f / "manifest.json").exists()
        )  # fmt: skip
    return channels


def _behind(release: int, channels: dict[str, list[int]]) -> int:
    """Releases published after ``release`` on the channel the kiosk follows: the one that
    holds its release (else "stable", the default channel)."""
    channel = next((c for c, v in sorted(channels.items()) if release in v), "stable")
    return sum(1 for v in channels.get(channel, []) if v > release)


def _when(text: str | None) -> dt.datetime | None:
    try:
        when = dt.datetime.fromisoformat(text) if text else None
    except ValueError:
        return None
    return when.replace(tzinfo=when.tzinfo or dt.UTC) if when else None


def fleet(root: Path, now: dt.datetime | None = None) -> list[KioskState]:
    """Every kiosk headquarters knows (added, or heard from), reddest first, then by name."""
    now = now or dt.datetime.now(dt.UTC)
    versions = published(root)
    db = open_hq(root)
    try:
        known = _known(db, root)
        for name, beat, received in db.execute("SELECT device, heartbeat, received FROM devices"):
            _read_heartbeat(known[name], beat, received, versions)
        for name, last in db.execute("SELECT device, received FROM stick_seen"):
            if name in known:
                known[name].last_stick = _when(last)
    finally:
        db.close()
    for state in known.values():
        _judge(state, now)
    return sorted(known.values(), key=lambda s: (COLOURS.index(s.colour), s.name))


def _known(db, root: Path) -> dict[str, KioskState]:
    """Every kiosk headquarters knows: added (with its country and place), with keys made,
    or heard from."""
    known = {
        row[0]: KioskState(row[0], row[1] or "", row[2] or "")
        for row in db.execute("SELECT device, country, place FROM kiosks")
    }
    for name in (p.name for p in (root / "devices").glob("*") if p.is_dir()):
        known.setdefault(name, KioskState(name))
    for (name,) in db.execute("SELECT device FROM devices"):
        known.setdefault(name, KioskState(name))
    return known


def kiosks(root: Path) -> dict[str, str]:
    """Each known kiosk's country ("" when none was given), without reading heartbeats."""
    db = open_hq(root)
    try:
        return {name: state.country for name, state in _known(db, root).items()}
    finally:
        db.close()


def _read_heartbeat(state: KioskState, stored: str, received: str, versions: dict) -> None:
    beat = beats.decode(stored, state.name) or beats.Heartbeat(state.name)
    state.received = _when(received)
    state.release = beat.release
    if state.release is not None:
        state.behind = _behind(state.release, versions)
    state.disk_free = beat.disk_free
    if beat.disk_free is not None and beat.disk_total:
        state.disk_used = max(0.0, min(1.0, 1 - beat.disk_free / beat.disk_total))
    state.temperature = beat.temperature
    state.errors = beat.failures
    state.last_error = beat.last_error[:200]
    state.last_sync = beat.last_sync
    state.last_sync_ok = beat.last_sync_ok


def _judge(state: KioskState, now: dt.datetime) -> None:
    red, amber = [], []
    if state.received is None:
        red.append("never heard from")
    else:
        days = (now - state.received).total_seconds() / 86400
        if days > SILENT_RED_DAYS:
            red.append(f"silent for {int(days)} days")
        elif days > SILENT_AMBER_DAYS:
            amber.append(f"silent for {int(days)} day{'s' if int(days) != 1 else ''}")
    if state.disk_used is not None:
        share = f"storage {state.disk_used:.0%} full"
        if state.disk_used > DISK_RED:
            red.append(share)
        elif state.disk_used > DISK_AMBER:
            amber.append(share)
    if state.behind >= BEHIND_RED:
        red.append(f"{state.behind} releases behind")
    elif state.behind == 1:
        amber.append("one release behind")
    if state.last_sync_ok is False:
        if "refused" in state.last_sync.lower():
            red.append("refused a release")
        else:
            amber.append("last update failed")
    if state.errors:
        amber.append(f"{state.errors} counting error{'s' if state.errors != 1 else ''}")
    if state.temperature is not None and state.temperature >= HOT:
        amber.append(f"hot ({state.temperature:.0f} °C)")
    state.colour = "red" if red else "amber" if amber else "green"
    state.reasons = red + amber


def history(root: Path, name: str, days: int = 90) -> list[dict]:
    """One kiosk's heartbeats, a day each, oldest first: release, storage, temperature."""
    db = open_hq(root)
    try:
        rows = db.execute(
            "SELECT day, heartbeat, received, via FROM heartbeat_day WHERE device = ? "
            "ORDER BY day DESC LIMIT ?",
            [name, days],
        ).fetchall()
    finally:
        db.close()
    out = []
    for day, stored, received, via in reversed(rows):
        beat = beats.decode(stored, name)
        if beat is None:
            continue
        free, total = beat.disk_free, beat.disk_total
        out.append({
            "day": day, "received": received, "via": via, "release": beat.release,
            "disk_used": (1 - free / total) if free is not None and total else None,
            "temperature": beat.temperature, "last_sync": beat.last_sync,
        })  # fmt: skip
    return out


def releases_installed(days: list[dict]) -> list[tuple[str, int]]:
    """The days a kiosk first showed each release it went to: (day, version)."""
    changes, last = [], None
    for day in days:
        if day["release"] is not None and day["release"] != last:
            changes.append((day["day"], day["release"]))
            last = day["release"]
    return changes
