"""hq.db, headquarters' figures: what kiosks sent (snapshots, heartbeats) and the kiosks known.

One module owns its schema, so ingest, the report, the fleet and ``add-device`` open the same.
"""

from __future__ import annotations

from pathlib import Path

import sqlite_utils

from kiosk.formats.snapshot import TABLES

ROLLUPS = (
    "CREATE TABLE IF NOT EXISTS views_by_country (month TEXT NOT NULL, country TEXT NOT NULL, "
    "guide TEXT NOT NULL, lang TEXT NOT NULL, channel TEXT NOT NULL, views INTEGER NOT NULL)",
    "CREATE TABLE IF NOT EXISTS views_by_device (month TEXT NOT NULL, device TEXT NOT NULL, "
    "country TEXT NOT NULL, guide TEXT NOT NULL, lang TEXT NOT NULL, channel TEXT NOT NULL, "
    "views INTEGER NOT NULL)",
    "CREATE TABLE IF NOT EXISTS visits_by_country (month TEXT NOT NULL, country TEXT NOT NULL, "
    "channel TEXT NOT NULL, visits INTEGER NOT NULL)",
    "CREATE TABLE IF NOT EXISTS visits_by_device (month TEXT NOT NULL, device TEXT NOT NULL, "
    "country TEXT NOT NULL, channel TEXT NOT NULL, visits INTEGER NOT NULL)",
    "CREATE TABLE IF NOT EXISTS device_month (month TEXT NOT NULL, device TEXT NOT NULL, "
    "country TEXT NOT NULL, visits INTEGER NOT NULL, views INTEGER NOT NULL, "
    "PRIMARY KEY (month, device))",
)


def open_hq(root: Path) -> sqlite_utils.Database:
    root.mkdir(parents=True, exist_ok=True)
    db = sqlite_utils.Database(root / "hq.db")
    db.execute("PRAGMA journal_mode = WAL")
    for table, (keys, columns) in TABLES.items():
        key_cols = ", ".join(f"{k} {'INTEGER' if k == 'hour' else 'TEXT'} NOT NULL" for k in keys)
        counters = ", ".join(f"{c} INTEGER" for c in columns)
        db.execute(
            f"CREATE TABLE IF NOT EXISTS {table} (device TEXT NOT NULL, {key_cols}, {counters}, "
            f"PRIMARY KEY (device, {', '.join(keys)}))"
        )
    db.execute(
        "CREATE TABLE IF NOT EXISTS unmet_as_of (device TEXT NOT NULL, week TEXT NOT NULL, "
        "day TEXT NOT NULL, PRIMARY KEY (device, week))"
    )
    db.execute(
        "CREATE TABLE IF NOT EXISTS snapshot_seq (device TEXT NOT NULL, day TEXT NOT NULL, "
        "seq INTEGER NOT NULL, PRIMARY KEY (device, day))"
    )
    # sha256 is empty for a file that was never read (a link, a special file, one too large).
    db.execute(
        "CREATE TABLE IF NOT EXISTS files (device TEXT NOT NULL, name TEXT NOT NULL, "
        "sha256 TEXT NOT NULL, status TEXT NOT NULL, message TEXT, "
        "PRIMARY KEY (device, name))"
    )
    db.execute(
        "CREATE TABLE IF NOT EXISTS devices (device TEXT PRIMARY KEY, heartbeat TEXT, "
        "received TEXT)"
    )
    # Each kiosk's heartbeats over time (the newest of each of its days), and how each came:
    # "ssh" from the sync root's inbox, "stick" from a USB stick's.
    db.execute(
        "CREATE TABLE IF NOT EXISTS heartbeat_day (device TEXT NOT NULL, day TEXT NOT NULL, "
        "heartbeat TEXT NOT NULL, received TEXT NOT NULL, via TEXT NOT NULL, "
        "PRIMARY KEY (device, day))"
    )
    # Where each kiosk stands, given when it is added (kiosk hq add-device --country --place).
    db.execute(
        "CREATE TABLE IF NOT EXISTS kiosks (device TEXT PRIMARY KEY, country TEXT, place TEXT, "
        "added TEXT NOT NULL)"
    )
    # Reach rolled up by month (kiosk.hq.totals.rollup): only cells of at least headquarters'
    # k, summed per country and per kiosk, so no page adds up a year of daily cells.
    for statement in ROLLUPS:
        db.execute(statement)
    db.execute("CREATE INDEX IF NOT EXISTS views_by_device_key ON views_by_device (device, month)")
    db.execute("CREATE INDEX IF NOT EXISTS visits_by_device_key ON visits_by_device "
               "(device, month)")  # fmt: skip
    db.execute("CREATE INDEX IF NOT EXISTS views_by_country_key ON views_by_country (month)")
    db.execute("CREATE INDEX IF NOT EXISTS visits_by_country_key ON visits_by_country (month)")
    db.execute("CREATE INDEX IF NOT EXISTS guide_day_by_day ON guide_day (day)")
    db.execute("CREATE INDEX IF NOT EXISTS channel_day_by_day ON channel_day (day)")
    db.execute("CREATE TABLE IF NOT EXISTS rollup_state (k INTEGER NOT NULL)")
    # When each kiosk's figures last came on a USB stick (the fleet page reads it, not a scan
    # of every heartbeat); filled from the heartbeats once, when the table is new.
    if not db.execute("SELECT 1 FROM sqlite_master WHERE name = 'stick_seen'").fetchone():
        db.execute("CREATE TABLE stick_seen (device TEXT PRIMARY KEY, received TEXT NOT NULL)")
        db.execute("INSERT INTO stick_seen SELECT device, max(received) FROM heartbeat_day "
                   "WHERE via = 'stick' GROUP BY device")  # fmt: skip
    # Needs as the page shows them, summed by ingest (kiosk.hq.needs.roll_up_needs).
    db.execute("CREATE TABLE IF NOT EXISTS needs_rollup (lang TEXT NOT NULL, "
               "norm TEXT NOT NULL, searches INTEGER NOT NULL, kiosks INTEGER NOT NULL, "
               "weeks INTEGER NOT NULL)")  # fmt: skip
    db.execute("CREATE TABLE IF NOT EXISTS needs_spellings (lang TEXT NOT NULL, "
               "norm TEXT NOT NULL, term TEXT NOT NULL, searches INTEGER NOT NULL)")  # fmt: skip
    # Each unmet search term as typed, and the form needs are merged under (kiosk.hq.needs).
    db.execute("CREATE TABLE IF NOT EXISTS unmet_terms (lang TEXT NOT NULL, term TEXT NOT NULL, "
               "norm TEXT NOT NULL, PRIMARY KEY (lang, term))")  # fmt: skip
    # Headquarters' own word on what people looked for and did not find (kiosk.hq.needs).
    db.execute(
        "CREATE TABLE IF NOT EXISTS need_marks (lang TEXT NOT NULL, term TEXT NOT NULL, "
        "mark TEXT NOT NULL, guide TEXT, who TEXT NOT NULL, at TEXT NOT NULL, "
        "PRIMARY KEY (lang, term))"
    )
    return db
