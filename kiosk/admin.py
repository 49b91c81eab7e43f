"""The librarian's sign-in and the data behind the admin page (password, throttle, notices).

The password hash (Argon2id, OWASP parameters) lives in ``admin.json``; failed sign-ins are
counted per minute and per source (the kiosk's own screen, or the hotspot) in ``admin.db`` so
the throttle survives a restart, and an attacker on the hotspot never locks out the screen.
"""

from __future__ import annotations

import datetime as dt
import hmac
import json
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import sqlite_utils
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from kiosk.errors import KioskError
from kiosk.files import write_atomic

MIN_PASSWORD = 12
MAX_FAILURES_PER_HOUR = 100
USER = "librarian"
# OWASP's recommended Argon2id parameters: 19 MiB, 2 passes, 1 lane (well under a second on a Pi).
HASHER = PasswordHasher(time_cost=2, memory_cost=19 * 1024, parallelism=1)
# Checked when nobody has that name, so a wrong name costs the same time as a wrong password.
_DUMMY = HASHER.hash("not a real password, only here to spend the same time")


class Throttled(KioskError):
    """Too many failed sign-ins from this source in the last hour."""


class Auth:
    def __init__(
        self, data_dir: str | os.PathLike[str], clock: Callable[[], float] = time.time
    ) -> None:
        self.folder = Path(data_dir)
        self.clock = clock  # seconds since the epoch; tests pass their own
        self.file = self.folder / "admin.json"
        self.db_path = self.folder / "admin.db"

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

    def _db(self) -> sqlite_utils.Database:
        self.folder.mkdir(parents=True, exist_ok=True)
        db = sqlite_utils.Database(self.db_path)
        db.execute("PRAGMA journal_mode = WAL")
        db.execute(
            "CREATE TABLE IF NOT EXISTS failures (minute TEXT NOT NULL, source TEXT NOT NULL, "
            "count INTEGER NOT NULL DEFAULT 0, PRIMARY KEY (minute, source)) WITHOUT ROWID"
        )
        db.execute(
            "CREATE TABLE IF NOT EXISTS notices (id INTEGER PRIMARY KEY, lang TEXT NOT NULL, "
            "text TEXT NOT NULL, start TEXT NOT NULL, end TEXT NOT NULL)"
        )
        return db

    @staticmethod
    def _minute(now: dt.datetime) -> str:
        return now.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M")

    def _now(self) -> dt.datetime:
        return dt.datetime.fromtimestamp(self.clock(), dt.UTC)

    def failures(self, source: str) -> int:
        now = self._now()
        since = self._minute(now - dt.timedelta(hours=1))
        db = self._db()
        try:
            row = db.execute(
                "SELECT coalesce(sum(count), 0) FROM failures WHERE source = ? AND minute > ?",
                [source, since],
            ).fetchone()
            return int(row[0])
        finally:
            db.close()

    def _failed(self, source: str, now: dt.datetime) -> None:
        db = self._db()
        try:
            with db.conn:
                db.execute(
                    "INSERT INTO failures (minute, source, count) VALUES (?, ?, 1) "
                    "ON CONFLICT DO UPDATE SET count = count + 1",
                    [self._minute(now), source],
                )
                db.execute(
                    "DELETE FROM failures WHERE minute < ?",
                    [self._minute(now - dt.timedelta(days=1))],
                )
        finally:
            db.close()

    def check(self, user: str, password: str, source: str) -> bool:
        """True for the right name and password; raises Throttled after too many failures."""
        now = self._now()
        if self.failures(source) >= MAX_FAILURES_PER_HOUR:
            raise Throttled("Too many wrong tries in the last hour.")
        stored = self._hash()
        known = hmac.compare_digest(user.encode("utf-8", "replace"), USER.encode())
        ok = False
        try:
            ok = HASHER.verify(stored if (stored and known) else _DUMMY, password) and (
                stored is not None and known
            )
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            ok = False
        if not ok:
            self._failed(source, now)
        return ok

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
                    [lang, text, start.isoformat(), end.isoformat()],
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


@dataclass
class AdminSession:
    token: str
    csrf: str
    last_seen: float
