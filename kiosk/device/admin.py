"""The librarian's sign-in and the data behind the admin page (password, throttle, notices).

The password hash (Argon2id, OWASP parameters) lives in ``admin.json``. Each failed sign-in is
one row in ``admin.db`` (``sign_in_failures``: the source and the time, nothing about who),
kept for one hour, so the throttle survives a restart and counts a truly sliding hour. The
source is the kiosk's own screen or the hotspot, so an attacker on the hotspot never locks out
the screen.
"""

from __future__ import annotations

import datetime as dt
import hmac
import json
import os
import re
import sqlite3
import time
from collections.abc import Callable
from pathlib import Path

import sqlite_utils
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from kiosk.errors import KioskError
from kiosk.files import write_atomic

MIN_PASSWORD = 12
MAX_FAILURES_PER_HOUR = 100
WINDOW = 3600.0  # seconds: the hour slides with every try (ASVS 2.2.1), it has no edges
USER = "librarian"
# OWASP's recommended Argon2id parameters: 19 MiB, 2 passes, 1 lane (well under a second on a Pi).
HASHER = PasswordHasher(time_cost=2, memory_cost=19 * 1024, parallelism=1)
# Checked when nobody has that name, so a wrong name costs the same time as a wrong password.
_DUMMY = HASHER.hash("not a real password, only here to spend the same time")


# Explicit direction marks, embeddings, overrides and isolates. With U+202E a notice showed
# "Room 21" while the voice read "Room 12"; the browser orders text well without them.
BIDI_CONTROLS = dict.fromkeys(
    [0x061C, 0x200E, 0x200F, *range(0x202A, 0x202F), *range(0x2066, 0x206A)]
)


def strip_bidi(text: str) -> str:
    """``text`` without bidirectional control characters, so it shows as it is read aloud."""
    return text.translate(BIDI_CONTROLS)


THROTTLE_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS sign_in_failures (source TEXT NOT NULL, at REAL NOT NULL)",
    "CREATE INDEX IF NOT EXISTS sign_in_failures_by_source ON sign_in_failures (source, at)",
)
SCHEMA = (
    *THROTTLE_SCHEMA,
    "CREATE TABLE IF NOT EXISTS notices (id INTEGER PRIMARY KEY, lang TEXT NOT NULL, "
    "text TEXT NOT NULL, start TEXT NOT NULL, end TEXT NOT NULL)",
)


class Throttled(KioskError):
    """Too many failed sign-ins from this source in the last hour."""


class Auth:
    """The librarian's password and sign-in throttle, and the kiosk's notices (admin.db).

    Headquarters' staff accounts (kiosk.hq.accounts) reuse the throttle and the check: a
    subclass names its own database, schema and stored hashes (``stored_hash``).
    """

    schema = SCHEMA
    db_name = "admin.db"

    def __init__(
        self, data_dir: str | os.PathLike[str], clock: Callable[[], float] = time.time
    ) -> None:
        self.folder = Path(data_dir)
        self.clock = clock  # seconds since the epoch; tests pass their own
        self._ready = False
        self.file = self.folder / "admin.json"
        self.db_path = self.folder / self.db_name

    def has_password(self) -> bool:
        return self._hash() is not None

    def _hash(self) -> str | None:
        try:
            value = json.loads(self.file.read_text(encoding="utf-8")).get("hash")
        except (OSError, ValueError, AttributeError):
            return None
        return value if isinstance(value, str) else None

    def set_password(self, password: str) -> None:
        if len(password) < MIN_PASSWORD:
            raise KioskError(f"The password needs at least {MIN_PASSWORD} characters.")
        if "\0" in password:
            raise KioskError("The password cannot contain a NUL character.")
        self.folder.mkdir(parents=True, exist_ok=True)
        hashed = {"user": USER, "hash": HASHER.hash(password)}
        write_atomic(self.file, json.dumps(hashed), mode=0o600)  # readable by the kiosk only

    # ---------------------------------------------------------------- throttle

    def _connect(self) -> sqlite3.Connection:
        """admin.db in autocommit mode, so every transaction is one we BEGIN on purpose."""
        self.folder.mkdir(parents=True, exist_ok=True)
        # Waits for a writer instead of failing: parallel sign-ins queue at BEGIN IMMEDIATE.
        conn = sqlite3.connect(self.db_path, timeout=30, isolation_level=None)
        if not self._ready:
            conn.execute("PRAGMA journal_mode = WAL")
            conn.execute("BEGIN IMMEDIATE")
            try:
                for statement in self.schema:
                    conn.execute(statement)
                self._from_minute_buckets(conn)
                conn.execute("COMMIT")
            except BaseException:
                conn.execute("ROLLBACK")
                conn.close()
                raise
            self._ready = True
        return conn

    def _from_minute_buckets(self, conn: sqlite3.Connection) -> None:
        """Carry an older kiosk's per-minute counts over, so an upgrade resets no throttle."""
        if not conn.execute("SELECT 1 FROM sqlite_master WHERE name = 'failures'").fetchone():
            return
        since = self.clock() - WINDOW
        for minute, source, count in conn.execute("SELECT minute, source, count FROM failures"):
            try:
                start = dt.datetime.strptime(minute, "%Y-%m-%dT%H:%M").replace(tzinfo=dt.UTC)
            except (TypeError, ValueError):
                continue
            at = start.timestamp() + 59  # the bucket's last second: never shortens the wait
            if at > since:
                rows = [(source, at)] * min(int(count), MAX_FAILURES_PER_HOUR)
                conn.executemany("INSERT INTO sign_in_failures VALUES (?, ?)", rows)
        conn.execute("DROP TABLE failures")

    def _db(self) -> sqlite_utils.Database:
        return sqlite_utils.Database(self._connect())

    def failures(self, source: str) -> int:
        """Wrong tries from ``source`` in the hour up to now."""
        conn = self._connect()
        try:
            return self._count(conn, source, self.clock())
        finally:
            conn.close()

    @staticmethod
    def _count(conn: sqlite3.Connection, source: str, now: float) -> int:
        row = conn.execute(
            "SELECT count(*) FROM sign_in_failures WHERE source = ? AND at > ? AND at <= ?",
            [source, now - WINDOW, now],
        ).fetchone()
        return int(row[0])

    def _reserve(self, source: str) -> int:
        """Count this try as a failure before checking it, or raise Throttled.

        Checking and recording in one IMMEDIATE transaction is what makes the limit exact:
        parallel sign-ins take turns here, so none of them sees a count that another one is
        about to raise. The row is removed again if the password turns out right.
        """
        conn = self._connect()
        try:
            conn.execute("BEGIN IMMEDIATE")
            try:
                now = self.clock()  # read inside the lock, so rows are written in time order
                # Older rows are spent; rows from the future are left by a clock set back
                # (a Pi has no battery clock) and would otherwise lock a source out for days.
                conn.execute(
                    "DELETE FROM sign_in_failures WHERE at <= ? OR at > ?", [now - WINDOW, now]
                )
                if self._count(conn, source, now) >= MAX_FAILURES_PER_HOUR:
                    raise Throttled("Too many wrong tries in the last hour.")
                cursor = conn.execute(
                    "INSERT INTO sign_in_failures (source, at) VALUES (?, ?)", [source, now]
                )
                conn.execute("COMMIT")
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            return int(cursor.lastrowid)
        finally:
            conn.close()

    def _forget(self, try_id: int) -> None:
        conn = self._connect()
        try:
            conn.execute("DELETE FROM sign_in_failures WHERE rowid = ?", [try_id])
        finally:
            conn.close()

    def check(self, user: str, password: str, source: str) -> bool:
        """True for the right name and password; raises Throttled after too many failures."""
        try_id = self._reserve(source)
        stored = self.stored_hash(user)
        ok = False
        try:
            ok = HASHER.verify(stored or _DUMMY, password) and stored is not None
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            ok = False
        if ok:
            self._forget(try_id)
        return ok

    def stored_hash(self, user: str) -> str | None:
        """The hash to check ``user``'s password against; None for a name nobody has."""
        known = hmac.compare_digest(user.encode("utf-8", "replace"), USER.encode())
        return self._hash() if known else None

    # ---------------------------------------------------------------- notices

    def notices(self, today: dt.date | None = None) -> list[dict]:
        """Notices, newest first; with ``today``, only those showing that day."""
        db = self._db()
        try:
            rows = [
                dict(zip(("id", "lang", "text", "start", "end"), r, strict=True))
                for r in db.execute(
                    "SELECT id, lang, text, start, end FROM notices ORDER BY start DESC, id DESC"
                ).fetchall()
            ]
        finally:
            db.close()
        for row in rows:
            row["text"] = strip_bidi(row["text"])  # notices saved before they were refused
        if today is not None:
            day = today.isoformat()
            rows = [r for r in rows if r["start"] <= day <= r["end"]]
        return rows

    def add_notice(self, lang: str, text: str, start: dt.date, end: dt.date) -> int:
        db = self._db()
        try:
            with db.conn:
                cursor = db.execute(
                    "INSERT INTO notices (lang, text, start, end) VALUES (?, ?, ?, ?)",
                    [lang, strip_bidi(text), start.isoformat(), end.isoformat()],
                )
            return int(cursor.lastrowid)
        finally:
            db.close()

    def remove_notice(self, notice_id: int) -> None:
        db = self._db()
        try:
            with db.conn:
                db.execute("DELETE FROM notices WHERE id = ?", [notice_id])
        finally:
            db.close()


# ---------------------------------------------------------------- USB sticks

MOUNTS_FILE = "/proc/self/mounts"
MAX_MOUNTS_BYTES = 1 << 20  # a few hundred mounts fit in 64 KB; more is not a kiosk's file
# Kernel names of block devices, as the device mounts a stick: sdb1, mmcblk1p1, nvme0n1p1.
STICK_NAME = re.compile(r"[a-z][a-z0-9]{1,31}")


def _unescape(field: str) -> str:
    """A mounts-file field as a path: the kernel writes space, tab, newline, \\ as \\ooo."""
    return re.sub(r"\\([0-7]{3})", lambda m: chr(int(m.group(1), 8)), field)


def mounted_sticks(usb_root: str | os.PathLike[str], mounts_file: str = MOUNTS_FILE) -> list[str]:
    """Names of the file systems mounted right under ``usb_root``, as the device mounts sticks.

    Only these are offered on the librarian's page, and a form may choose only among them, so
    nothing typed into a form ever becomes a path.
    """
    try:
        with open(mounts_file, "rb") as file:
            text = file.read(MAX_MOUNTS_BYTES).decode("utf-8", "replace")
    except OSError:
        return []
    root = os.path.normpath(os.fspath(usb_root))
    names = set()
    for line in text.splitlines():
        fields = line.split(" ")
        if len(fields) < 3:
            continue
        parent, name = os.path.split(_unescape(fields[1]))
        if parent == root and STICK_NAME.fullmatch(name):
            names.add(name)
    return sorted(names)


def notice_duration(data_dir, notice_id: int) -> int | None:
    """How long a notice's recording is, in ms, or None when it has none."""
    try:
        path = Path(data_dir) / "notices" / f"{notice_id}.json"
        return int(json.loads(path.read_text())["duration_ms"])
    except (OSError, ValueError, KeyError, TypeError):
        return None
