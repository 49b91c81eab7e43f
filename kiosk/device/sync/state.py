"""How the last sync went, when the next may try, and the one lock every sync takes.

Files in the data folder::

    sync-state.json   ok, summary, failures, next_attempt, when; running and pid while a
                      sync runs (the status light), ignored once that process is gone
    sync.lock         flock()ed by whichever sync runs: the timer's, the USB stick's or the
                      librarian's button. The kernel drops the lock when its holder ends,
                      however it ends, so a crash leaves nothing for a person to clear.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import json
import math
import os
import time
from collections.abc import Iterator
from pathlib import Path

from kiosk.errors import KioskError
from kiosk.files import write_atomic

STATE = "sync-state.json"
LOCK = "sync.lock"
MAX_BACKOFF = 6 * 3600


class SyncBusy(KioskError):
    """Another sync holds the lock; this one did nothing and recorded nothing."""

    exit_code = 7


def read_state(data_dir) -> dict:
    try:
        data = json.loads((Path(data_dir) / STATE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    if not isinstance(data, dict):
        return {}
    if data.get("running") and not _alive(data.get("pid")):
        data["running"] = False  # its sync ended without saying so (power cut, kill -9)
    return data


def _alive(pid: object) -> bool:
    if not isinstance(pid, int) or pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def write_state(data_dir, state: dict) -> None:
    write_atomic(Path(data_dir) / STATE, json.dumps(state, sort_keys=True))


def due(data_dir, now: float | None = None) -> bool:
    """False while backing off after failures (headquarters unreachable)."""
    now = time.time() if now is None else now
    return now >= float(read_state(data_dir).get("next_attempt", 0))


def record(
    data_dir, ok: bool, summary: str, now: float | None = None, backoff: bool = True
) -> dict:
    """Save how a sync went. ``backoff=False`` (a USB stick) leaves headquarters' timing be."""
    now = time.time() if now is None else now
    state = read_state(data_dir)
    state.update(
        running=False,
        ok=ok,
        summary=summary,
        when=dt.datetime.fromtimestamp(now, dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
    )
    if backoff:
        failures = 0 if ok else int(state.get("failures", 0)) + 1
        wait = 0 if ok else min(MAX_BACKOFF, 60 * 2 ** min(failures, 12))
        state.update(failures=failures, next_attempt=now + wait)
    write_state(data_dir, state)
    return state


def in_words(seconds: float) -> str:
    """A wait as a person says it, never shorter than it really is: "2 minutes", "6 hours"."""
    minutes = max(1, math.ceil(seconds / 60))
    if minutes >= 120:
        hours = math.ceil(minutes / 60)
        return f"{hours} hours"
    return "1 minute" if minutes == 1 else f"{minutes} minutes"


@contextlib.contextmanager
def sync_lock(data_dir) -> Iterator[None]:
    """Hold the kiosk's one sync lock, or raise SyncBusy at once (never wait in line)."""
    path = Path(data_dir) / LOCK
    path.parent.mkdir(parents=True, exist_ok=True)
    # O_NOFOLLOW: a link planted under the lock's name must not make us create another file.
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        raise SyncBusy(
            "A sync is already running on this kiosk; this one was not started."
        ) from None
    try:
        state = read_state(data_dir)
        write_state(data_dir, {**state, "running": True, "pid": os.getpid()})
        yield
    finally:
        os.close(fd)  # closing the file drops the lock
