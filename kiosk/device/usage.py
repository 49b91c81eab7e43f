"""Anonymous usage counters: what was read and what was missing, never who.

Counting is an increment of an in-memory counter (microseconds, no I/O on the request path).
A background thread adds the counts to SQLite in one transaction every few seconds; a count is
"acknowledged" once that transaction commits (WAL, synchronous=FULL), and from then on no
power cut loses it. When the database is locked, full, read-only or corrupt, counts wait in
memory (up to a limit), the failure is counted and described for the librarian, and counting
resumes when the database is back. Pages never wait for any of this.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import sqlite3
import threading
from collections import Counter
from collections.abc import Callable
from pathlib import Path

from kiosk.db import open_db, transaction
from kiosk.formats.snapshot import TABLES, outbox_lock, snapshot, write_snapshot
from kiosk.formats.snapshot import week_of as _week

MAX_PENDING_KEYS = 50_000
MAX_TERM_VISITS = 100_000  # (term, visit) pairs remembered in a week: a few MB at most


class Usage:
    """The device's counters. One per process; every method is safe from any thread."""

    def __init__(
        self,
        path: str | os.PathLike[str],
        flush_seconds: float = 2.0,
        now: Callable[[], dt.datetime] = dt.datetime.now,
        start: bool = True,
        snapshots: Callable[[], object] | None = None,
        snapshot_seconds: float = 3600,
        k: int = 5,
    ) -> None:
        self.path = Path(path)
        self.flush_seconds = flush_seconds
        self.now = now
        self.snapshots = snapshots
        self.snapshot_seconds = snapshot_seconds
        self._next_snapshot = 0.0
        self._pending: Counter = Counter()
        self.k = k
        # Which visits searched each failed term this week, in memory only. A term reaches
        # the disk once k distinct visits searched it, so a word one person typed (a name, a
        # place), however often, cannot be read back from a seized device. Visits are kept as
        # hash() of the token: salted per process, and smaller than the token itself.
        self._term_visits: dict[tuple, set[int]] = {}
        self._term_visits_week = ""
        self._term_visit_pairs = 0
        self._lock = threading.Lock()
        self._write_lock = threading.Lock()
        self._stop = threading.Event()
        self.failures = 0
        self.dropped = 0
        self.last_error: str | None = None
        # A sqlite3 connection belongs to the thread that opened it (using it from another
        # raises ProgrammingError), so the background thread and whoever calls close() each
        # open, use and close their own.
        self._local = threading.local()
        self._thread = None
        if start:
            self._thread = threading.Thread(target=self._run, name="usage-flush", daemon=True)
            self._thread.start()

    # ------------------------------------------------------------ counting (request path)

    def _add(self, table: str, key: tuple, column: str, n: int = 1) -> None:
        with self._lock:
            if (table, key, column) not in self._pending and len(self._pending) >= MAX_PENDING_KEYS:
                self.dropped += n
                return
            self._pending[(table, key, column)] += n

    def _day(self) -> str:
        return self.now().date().isoformat()

    def count_page(self, channel: str) -> None:
        now = self.now()
        self._add("channel_day", (now.date().isoformat(), channel), "pages")
        self._add("hour_day", (now.date().isoformat(), now.hour), "pages")

    def count_visit(self, channel: str) -> None:
        self._add("channel_day", (self._day(), channel), "visits")

    def count_view(self, guide: str, lang: str, channel: str) -> None:
        self._add("guide_day", (self._day(), guide, lang, channel), "views")

    def count_listen(self, guide: str, lang: str, channel: str, finished: bool) -> None:
        column = "listens_finished" if finished else "listens_started"
        self._add("guide_day", (self._day(), guide, lang, channel), column)

    def count_helpful(self, guide: str, lang: str, channel: str, helpful: bool) -> None:
        column = "helpful_yes" if helpful else "helpful_no"
        self._add("guide_day", (self._day(), guide, lang, channel), column)

    def count_language(self, lang: str, channel: str) -> None:
        self._add("language_day", (self._day(), lang, channel), "choices")

    def count_search(
        self, lang: str, channel: str, found: bool, term: str | None, visit: str | None = None
    ) -> None:
        """Count a search; a failed one's term counts once per visit, and only with a visit."""
        column = "searches_found" if found else "searches_missed"
        self._add("language_day", (self._day(), lang, channel), column)
        if not found and term and visit:
            self._count_unmet((_week(self.now().date()), lang, term), hash(visit))

    def _count_unmet(self, key: tuple, visit: int) -> None:
        with self._lock:
            if key[0] != self._term_visits_week:
                # Rows are kept per week, so last week's visits can never count again.
                self._term_visits, self._term_visits_week = {}, key[0]
                self._term_visit_pairs = 0
            visits = self._term_visits.get(key)
            if visits is None:
                if len(self._term_visits) >= MAX_PENDING_KEYS:
                    return
                visits = self._term_visits[key] = set()
            # When memory is full a visit goes uncounted: too few on disk, never too many.
            if visit in visits or self._term_visit_pairs >= MAX_TERM_VISITS:
                return
            visits.add(visit)
            self._term_visit_pairs += 1
            seen = len(visits)
        if seen == self.k:
            self._add("unmet_week", key, "searches", self.k)
        elif seen > self.k:
            self._add("unmet_week", key, "searches")

    # ------------------------------------------------------------ writing (background)

    def _connect(self):
        db = getattr(self._local, "db", None)
        if db is None:
            db = self._local.db = open_db(self.path)
        return db

    def _disconnect(self) -> None:
        db, self._local.db = getattr(self._local, "db", None), None
        if db is not None:
            with contextlib.suppress(sqlite3.Error):
                db.close()

    def flush(self) -> bool:
        """Add pending counts to the database in one transaction; True when all were written."""
        with self._write_lock:
            with self._lock:
                batch, self._pending = self._pending, Counter()
            if not batch:
                return True
            try:
                db = self._connect()
                with transaction(db, immediate=True):
                    for (table, key, column), n in sorted(batch.items(), key=repr):
                        keys, _ = TABLES[table]
                        names = ", ".join(keys)
                        marks = ", ".join("?" for _ in keys)
                        db.execute(
                            f"INSERT INTO {table} ({names}, {column}) VALUES ({marks}, ?) "  # noqa: S608 - names from TABLES
                            f"ON CONFLICT DO UPDATE SET {column} = {column} + excluded.{column}",
                            [*key, n],
                        )
            except (sqlite3.Error, OSError) as exc:
                self._failed(exc, batch)
                return False
            self.last_error = None
            return True

    def _failed(self, exc: Exception, batch: Counter) -> None:
        self.failures += 1
        self.last_error = plain_error(exc)
        self._disconnect()
        with self._lock:
            for item, n in batch.items():
                if item in self._pending or len(self._pending) < MAX_PENDING_KEYS:
                    self._pending[item] += n
                else:
                    self.dropped += n

    def _run(self) -> None:
        import time

        try:
            while not self._stop.wait(self.flush_seconds):
                if self.flush() and self.snapshots and time.monotonic() >= self._next_snapshot:
                    self._next_snapshot = time.monotonic() + self.snapshot_seconds
                    try:
                        self.snapshots()
                    except (sqlite3.Error, OSError) as exc:
                        self.failures += 1
                        self.last_error = (
                            f"A usage snapshot could not be written: {plain_error(exc)}"
                        )
        finally:
            self._disconnect()

    def close(self) -> bool:
        """Stop the background thread and write what is pending; True when all was written."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
        try:
            return self.flush()
        finally:
            self._disconnect()

    def health(self) -> dict:
        with self._lock:
            waiting = sum(self._pending.values())
        return {
            "failures": self.failures,
            "dropped": self.dropped,
            "waiting": waiting,
            "last_error": self.last_error,
        }


def plain_error(exc: Exception) -> str:
    """What went wrong with usage.db, in one sentence a librarian can act on."""
    text = str(exc).lower()
    if "readonly" in text or "read-only" in text or "unable to open" in text:
        return (
            "The usage database cannot be written (read-only, or its folder is missing). "
            "Counting waits in memory."
        )
    if "full" in text or "no space" in text:
        return "The storage is full. Counting waits in memory; free some space."
    if "malformed" in text or "not a database" in text or "corrupt" in text:
        return "The usage database is damaged. Counting waits in memory; ask for help."
    if "locked" in text or "busy" in text:
        return "The usage database is busy. Counting will retry."
    return f"Counting could not be saved: {exc}"


# ---------------------------------------------------------------- reading


def read_counts(path: str | os.PathLike[str], since: dt.date | None = None) -> dict[str, list]:
    """Every counter row (since a day, if given), table by table, for reports and snapshots."""
    db = open_db(path, readonly=True)
    try:
        out = {}
        for table, (keys, columns) in TABLES.items():
            where, args = "", []
            if since is not None:
                column = "week" if "week" in keys else "day"
                where = f" WHERE {column} >= ?"
                args = [_week(since) if column == "week" else since.isoformat()]
            rows = db.execute(
                f"SELECT {', '.join(keys + columns)} FROM {table}{where} "  # noqa: S608
                f"ORDER BY {', '.join(keys)}",
                args,
            ).fetchall()
            out[table] = [dict(zip(keys + columns, row, strict=True)) for row in rows]
        return out
    finally:
        db.close()


def write_snapshots(
    db_path: Path, outbox: Path, device: str, k: int, days: int = 2, today: dt.date | None = None
) -> list[Path]:
    """Write today's and the previous days' snapshots (re-sending replaces, never adds)."""
    if not db_path.exists():
        return []
    today = today or dt.date.today()
    first = today - dt.timedelta(days=days - 1)
    with outbox_lock(outbox):  # the day's numbering follows the order counts were read in
        counts = read_counts(db_path, since=first - dt.timedelta(days=7))
        written = []
        for n in range(days):
            day = (first + dt.timedelta(days=n)).isoformat()
            written.append(write_snapshot(outbox, snapshot(counts, day, device, k)))
    return written
