"""The usage snapshot a kiosk sends headquarters: one writer and one reader, side by side.

``<outbox>/usage-<day>.json``, one file per day, rewritten while the day lasts and the day
after (docs/usage.md)::

    {"format": 1, "device": "kiosk-1", "day": "2026-11-25", "week": "2026-W48", "k": 5,
     "seq": 7, "tables": {"guide_day": [{"day": ..., "guide": ..., "views": 12}, ...], ...}}

``seq`` is one more than the day's previous file had, so headquarters can keep the newest
whatever order copies reach it in: a USB stick may bring an older copy days after a newer one
came over SSH. It is a count, not a clock: a Pi without a clock battery may not know the
time, and a write time next to the counts would say when somebody read something. Files
written before ``seq`` existed have none and count as 0.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import json
import os
import re
from collections.abc import Iterator
from pathlib import Path

from kiosk.files import write_atomic

FORMAT = 1
# The busiest day we can imagine (60 guides x 12 languages x 2 channels, 2,000 unmet terms)
# writes 370 KB. 2 MiB leaves five times that, and bounds what a hostile file can cost the
# reader: parsing 2 MiB of hostile JSON takes at most about 65 MB of memory.
MAX_BYTES = 2 * 1024 * 1024
# Sequence numbers and counts stay within SQLite's INTEGER: a larger number would stop ingest.
MAX_SEQ = 2**62
NAME = re.compile(r"usage-(\d{4}-\d{2}-\d{2})\.json")

# table → (key columns, counter columns)
TABLES = {
    "guide_day": (
        ("day", "guide", "lang", "channel"),
        ("views", "listens_started", "listens_finished", "helpful_yes", "helpful_no"),
    ),
    "language_day": (("day", "lang", "channel"), ("choices", "searches_found", "searches_missed")),
    "channel_day": (("day", "channel"), ("visits", "pages")),
    "hour_day": (("day", "hour"), ("pages",)),
    "unmet_week": (("week", "lang", "term"), ("searches",)),
}


def week_of(day: dt.date) -> str:
    year, week, _ = day.isocalendar()
    return f"{year}-W{week:02d}"


# ---------------------------------------------------------------- writing (the kiosk)


def snapshot(counts: dict[str, list], day: str, device: str, k: int) -> dict:
    """The day's counts as headquarters may see them: only cells of at least k, no totals.

    Every published number is one cell (one key, one counter) of at least k. Nothing is
    summed across cells, so a suppressed cell cannot be recovered by subtracting one
    published figure from another: changing any suppressed cell to any other value below k
    yields the very same snapshot.
    """
    week = week_of(dt.date.fromisoformat(day))
    tables = {}
    for table, (keys, columns) in TABLES.items():
        rows = []
        for row in counts.get(table, []):
            if row.get("day", day) != day or row.get("week", week) != week:
                continue
            kept = {c: row[c] for c in columns if row[c] >= k}
            if kept:
                rows.append({**{key: row[key] for key in keys}, **kept})
        tables[table] = rows
    return {"format": FORMAT, "device": device, "day": day, "week": week, "k": k,
            "tables": tables}  # fmt: skip


@contextlib.contextmanager
def outbox_lock(outbox: Path) -> Iterator[None]:
    """Let one process at a time number and write snapshots (the server and ``kiosk sync``)."""
    outbox.mkdir(parents=True, exist_ok=True)
    # The folder itself is the lock: no lock file to travel with the snapshots.
    fd = os.open(outbox, os.O_RDONLY | os.O_DIRECTORY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def _previous_seq(path: Path) -> int:
    try:
        # O_NOFOLLOW | O_NONBLOCK: only our own plain file counts; a link or FIFO is ignored.
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except OSError:
        return 0
    with os.fdopen(fd, "rb") as fh:
        try:
            seq = json.loads(fh.read(MAX_BYTES + 1)).get("seq", 0)
        except (ValueError, AttributeError, RecursionError):
            return 0
    return seq if _is_seq(seq) else 0


def write_snapshot(outbox: Path, data: dict) -> Path:
    """Write a snapshot numbered one past the day's previous file, crash-safely.

    Temporary name, fsync, rename, fsync of the folder. Processes that may write the same
    outbox at once hold ``outbox_lock`` around reading the counts and writing.
    """
    path = outbox / f"usage-{data['day']}.json"
    data = {**data, "seq": min(_previous_seq(path) + 1, MAX_SEQ)}
    body = json.dumps(data, ensure_ascii=False, sort_keys=True, separators=(",", ":")) + "\n"
    return write_atomic(path, body)


# ---------------------------------------------------------------- reading (headquarters)


class Malformed(ValueError):
    """A snapshot that cannot be taken in; the message says why in a few words."""


def _is_seq(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and 0 < value <= MAX_SEQ


def _is_count(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= MAX_SEQ


def _is_key(name: str, value: object) -> bool:
    if name == "hour":
        return _is_count(value) and value < 24
    return isinstance(value, str) and len(value) <= 200


def seq_of(data: dict) -> int:
    """The snapshot's place among the day's files (0 for files written before there was one)."""
    return data.get("seq", 0)


def read_snapshot(raw: bytes, day: str) -> dict:
    """Parse and check a snapshot's bytes (at most MAX_BYTES) for the day its name gives."""
    if len(raw) > MAX_BYTES:
        raise Malformed("file is too large")
    try:
        data = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:
        raise Malformed(f"not readable JSON ({exc.__class__.__name__})") from None
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise Malformed("unknown snapshot format")
    if data.get("day") != day:
        raise Malformed("the day inside does not match the file name")
    if "seq" in data and not _is_seq(data["seq"]):
        raise Malformed("its sequence number is not a positive whole number")
    tables = data.get("tables")
    if not isinstance(tables, dict):
        raise Malformed("no tables")
    for table, rows in tables.items():
        if table not in TABLES or not isinstance(rows, list):
            raise Malformed(f"unknown table {table!r}")
        keys, columns = TABLES[table]
        for row in rows:
            if not isinstance(row, dict) or any(k not in row for k in keys):
                raise Malformed(f"a row of {table} lacks its keys")
            if any(c not in keys and c not in columns for c in row):
                raise Malformed(f"a row of {table} has an unknown field")
            if any(not _is_key(k, row[k]) for k in keys):
                raise Malformed(f"a row of {table} has a key that is not a short text")
            for c in columns:
                value = row.get(c)
                if value is not None and not _is_count(value):
                    raise Malformed(f"a count in {table} is not a whole number")
            if table != "unmet_week" and row.get("day") != day:
                raise Malformed(f"a row of {table} belongs to another day")
    return data
