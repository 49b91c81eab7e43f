"""The device's usage database: sqlite-utils, WAL, schema by small named migrations.

Only counters live here (docs/usage.md lists every table and column; a test holds the schema
to that list). No table has a row id or a timestamp that could order events.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
from collections.abc import Callable, Iterator
from pathlib import Path

import sqlite_utils

Migration = Callable[[sqlite_utils.Database], None]


def m001_counters(db: sqlite_utils.Database) -> None:
    db.execute(
        """CREATE TABLE guide_day (
            day TEXT NOT NULL, guide TEXT NOT NULL, lang TEXT NOT NULL, channel TEXT NOT NULL,
            views INTEGER NOT NULL DEFAULT 0,
            listens_started INTEGER NOT NULL DEFAULT 0,
            listens_finished INTEGER NOT NULL DEFAULT 0,
            helpful_yes INTEGER NOT NULL DEFAULT 0,
            helpful_no INTEGER NOT NULL DEFAULT 0,
            PRIMARY KEY (day, guide, lang, channel)) WITHOUT ROWID"""
    )
    db.execute(
        """CREATE TABLE language_day (
            day TEXT NOT NULL, lang TEXT NOT NULL, channel TEXT NOT NULL,
            choices INTEGER NOT NULL DEFAULT 0,
            searches_found INTEGER NOT NULL DEFAULT 0,
            searches_missed INTEGER NOT NULL DEFAULT 0,
            PRIMARY KEY (day, lang, channel)) WITHOUT ROWID"""
    )
    db.execute(
        """CREATE TABLE channel_day (
            day TEXT NOT NULL, channel TEXT NOT NULL,
            visits INTEGER NOT NULL DEFAULT 0,
            pages INTEGER NOT NULL DEFAULT 0,
            PRIMARY KEY (day, channel)) WITHOUT ROWID"""
    )
    db.execute(
        """CREATE TABLE hour_day (
            day TEXT NOT NULL, hour INTEGER NOT NULL,
            pages INTEGER NOT NULL DEFAULT 0,
            PRIMARY KEY (day, hour)) WITHOUT ROWID"""
    )
    db.execute(
        """CREATE TABLE unmet_week (
            week TEXT NOT NULL, lang TEXT NOT NULL, term TEXT NOT NULL,
            searches INTEGER NOT NULL DEFAULT 0,
            PRIMARY KEY (week, lang, term)) WITHOUT ROWID"""
    )


MIGRATIONS: list[Migration] = [m001_counters]


def open_db(path: str | os.PathLike[str], readonly: bool = False) -> sqlite_utils.Database:
    """Open (and migrate) the usage database; WAL and full sync so a commit survives power loss."""
    path = Path(path)
    if readonly:
        import sqlite3

        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, check_same_thread=False)
        return sqlite_utils.Database(conn)
    path.parent.mkdir(parents=True, exist_ok=True)
    db = sqlite_utils.Database(path)
    db.execute("PRAGMA journal_mode = WAL")
    db.execute("PRAGMA synchronous = FULL")
    db.execute("PRAGMA busy_timeout = 2000")
    migrate(db)
    return db


@contextlib.contextmanager
def transaction(db: sqlite_utils.Database, immediate: bool = False) -> Iterator[None]:
    """One explicit transaction: committed whole, or rolled back keeping the first error.

    Python's sqlite3 would commit DDL at once and SQLite may already have rolled back by
    itself (a full disk), so the BEGIN is explicit and the ROLLBACK only when still needed.
    """
    db.execute("BEGIN IMMEDIATE" if immediate else "BEGIN")
    try:
        yield
        db.execute("COMMIT")
    except BaseException:
        if db.conn.in_transaction:
            with contextlib.suppress(sqlite3.Error):
                db.execute("ROLLBACK")
        raise


def migrate(db: sqlite_utils.Database) -> list[str]:
    """Apply every migration not yet applied, each in its own transaction."""
    db.execute("CREATE TABLE IF NOT EXISTS migrations (name TEXT PRIMARY KEY) WITHOUT ROWID")
    done = {row[0] for row in db.execute("SELECT name FROM migrations").fetchall()}
    applied = []
    for migration in MIGRATIONS:
        if migration.__name__ in done:
            continue
        with transaction(db):
            migration(db)
            db.execute("INSERT INTO migrations (name) VALUES (?)", [migration.__name__])
        applied.append(migration.__name__)
    return applied
