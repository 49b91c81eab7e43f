"""What goes out: usage snapshots and a heartbeat, written to the outbox and sent from there."""

from __future__ import annotations

import datetime as dt
import sqlite3
from pathlib import Path

from kiosk import __version__
from kiosk.device.install import ReleaseStore
from kiosk.device.sync.state import read_state
from kiosk.device.sync.transport import Transfer, rsync
from kiosk.files import write_atomic
from kiosk.formats import heartbeat as beats


def heartbeat(
    settings,
    store: ReleaseStore,
    usage_health: dict | None = None,
    news: tuple[bool, str] | None = None,
) -> beats.Heartbeat:
    """How this kiosk is doing, for headquarters' fleet view. No visitor data at all.

    ``news`` is how this sync's fetch went, when it is newer than the last recorded sync.
    """
    from kiosk.device import health

    state = read_state(settings.data_dir)
    ok, summary = news if news is not None else (state.get("ok"), state.get("summary"))
    return beats.Heartbeat(
        device=settings.device_name,
        day=dt.date.today().isoformat(),
        release=store.current_version,
        app_version=__version__,
        last_sync=summary or "",
        last_sync_ok=ok,
        disk_free=health.disk_free(settings.data_dir),
        disk_total=health.disk_total(settings.data_dir),
        temperature=health.cpu_temperature(),
        uptime=health.uptime_seconds(),
        errors=usage_health or {},
    )


def prepare_outbox(settings, news: tuple[bool, str] | None = None) -> Path:
    """Write today's and yesterday's snapshots and a heartbeat into the outbox."""
    from kiosk.device.usage import plain_error, write_snapshots

    data = Path(settings.data_dir)
    outbox = data / "outbox"
    outbox.mkdir(parents=True, exist_ok=True)
    # The snapshots read usage.db whole: what goes wrong there is what headquarters' fleet
    # page needs to hear (a kiosk turns amber), and the heartbeat still goes out.
    try:
        write_snapshots(data / "usage.db", outbox, settings.device_name, settings.k_anonymity)
        counting = {"failures": 0, "last_error": ""}
    except sqlite3.DatabaseError as exc:
        counting = {"failures": 1, "last_error": plain_error(exc)}
    beat = heartbeat(settings, ReleaseStore(data), usage_health=counting, news=news)
    write_atomic(outbox / beats.NAME, beats.encode(beat))
    # Snapshots older than 60 days have long been delivered; the outbox stays small.
    cutoff = (dt.date.today() - dt.timedelta(days=60)).isoformat()
    for old in outbox.glob("usage-*.json"):
        if old.stem[len("usage-") :] < cutoff:
            old.unlink()
    return outbox


def outbox_files(outbox: Path) -> dict[str, bytes]:
    """The outbox's files by name (the kiosk's own, small; hidden temporaries left out)."""
    return {
        item.name: item.read_bytes()
        for item in sorted(outbox.iterdir())
        if item.is_file() and not item.is_symlink() and not item.name.startswith(".")
    }


def limits(settings) -> list[str]:
    return [f"--bwlimit={settings.sync_bwlimit}"] if settings.sync_bwlimit > 0 else []


def push(conn, known_hosts, settings, target: str = ":", progress=False, news=None) -> Transfer:
    """Send the outbox (snapshots and heartbeat) to this device's inbox."""
    outbox = prepare_outbox(settings, news)
    return rsync(conn, known_hosts, f"{outbox}/", target if target != ":" else ":./",
                 "--exclude", ".*", *limits(settings), progress=progress,
                 timeout=settings.sync_timeout, what="the usage figures",
                 peer="Headquarters", pinned="hq_known_hosts")  # fmt: skip
