"""Take in what kiosks send: usage snapshots and heartbeats, from inbox/<device>/ into hq.db.

Ingest is idempotent: a device's day is replaced as a whole by the newest file for it (the
highest ``seq``, kiosk/formats/snapshot.py), so the same file twice, files in any order, an
old copy from a stick after a newer one came over SSH, a truncated upload (refused, and the
day keeps its last good figures) or a corrected re-send all leave every count exact. The
folder a file arrived in names its device; the file's own "device" field is never believed.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
import shutil
from pathlib import Path

import sqlite_utils

from kiosk.db import transaction
from kiosk.formats.snapshot import MAX_BYTES, TABLES, Malformed, read_snapshot, seq_of
from kiosk.hq.root import DEVICE_NAME

SNAPSHOT_NAME = re.compile(r"^usage-(\d{4}-\d{2}-\d{2})\.json$")


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
    db.execute(
        "CREATE TABLE IF NOT EXISTS files (device TEXT NOT NULL, name TEXT NOT NULL, "
        "sha256 TEXT NOT NULL, status TEXT NOT NULL, message TEXT, "
        "PRIMARY KEY (device, name))"
    )
    db.execute(
        "CREATE TABLE IF NOT EXISTS devices (device TEXT PRIMARY KEY, heartbeat TEXT, "
        "received TEXT)"
    )
    return db


def ingest(root: Path, inbox: Path | None = None) -> dict:
    """Read every device's snapshots and heartbeat into hq.db; return what happened."""
    inbox = inbox or root / "inbox"
    db = open_hq(root)
    report = {"ingested": 0, "unchanged": 0, "older": 0, "rejected": [], "heartbeats": 0}
    try:
        for device_dir in sorted(p for p in inbox.iterdir() if p.is_dir()):
            device = device_dir.name
            if not DEVICE_NAME.match(device):
                continue
            files = sorted(p for p in device_dir.iterdir() if p.is_file() and p.name[0] != ".")
            for path in files:
                if path.name == "heartbeat.json":
                    report["heartbeats"] += _heartbeat(db, device, path)
                    continue
                match = SNAPSHOT_NAME.match(path.name)
                if not match:
                    continue
                raw = path.read_bytes()
                digest = hashlib.sha256(raw).hexdigest()
                seen = db.execute(
                    "SELECT sha256 FROM files WHERE device = ? AND name = ?", [device, path.name]
                ).fetchone()
                if seen and seen[0] == digest:
                    report["unchanged"] += 1
                    continue
                try:
                    data = read_snapshot(raw, match.group(1))
                except Malformed as exc:
                    _reject(root, db, device, path, digest, str(exc))
                    report["rejected"].append(f"{device}/{path.name}: {exc}")
                    continue
                newest = db.execute(
                    "SELECT seq FROM snapshot_seq WHERE device = ? AND day = ?",
                    [device, data["day"]],
                ).fetchone()
                if newest and seq_of(data) < newest[0]:
                    report["older"] += 1  # a newer snapshot of the day is already in; it stays
                    continue
                _replace_day(db, device, data, digest, path.name)
                report["ingested"] += 1
    finally:
        db.close()
    return report


def _replace_day(db, device: str, data: dict, digest: str, name: str) -> None:
    day, week = data["day"], data.get("week", "")
    with transaction(db, immediate=True):
        for table, (keys, columns) in TABLES.items():
            rows = data["tables"].get(table, [])
            if table == "unmet_week":
                as_of = db.execute(
                    "SELECT day FROM unmet_as_of WHERE device = ? AND week = ?", [device, week]
                ).fetchone()
                if as_of and as_of[0] > day:
                    continue  # an older day's view of the week never overwrites a newer one
                db.execute(f"DELETE FROM {table} WHERE device = ? AND week = ?", [device, week])  # noqa: S608
                db.execute(
                    "INSERT INTO unmet_as_of VALUES (?, ?, ?) ON CONFLICT DO UPDATE SET day = ?",
                    [device, week, day, day],
                )
            else:
                db.execute(f"DELETE FROM {table} WHERE device = ? AND day = ?", [device, day])  # noqa: S608
            names = ["device", *keys, *columns]
            for row in rows:
                db.execute(
                    f"INSERT INTO {table} ({', '.join(names)}) "  # noqa: S608
                    f"VALUES ({', '.join('?' for _ in names)})",
                    [device, *[row[k] for k in keys], *[row.get(c) for c in columns]],
                )
        db.execute(
            "INSERT INTO snapshot_seq VALUES (?, ?, ?) "
            "ON CONFLICT DO UPDATE SET seq = excluded.seq",
            [device, day, seq_of(data)],
        )
        db.execute(
            "INSERT INTO files VALUES (?, ?, ?, 'ok', NULL) ON CONFLICT DO UPDATE SET "
            "sha256 = excluded.sha256, status = 'ok', message = NULL",
            [device, name, digest],
        )


def _reject(root: Path, db, device: str, path: Path, digest: str, why: str) -> None:
    aside = root / "rejected" / device
    aside.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(path, aside / path.name)
    with db.conn:
        db.execute(
            "INSERT INTO files VALUES (?, ?, ?, 'rejected', ?) ON CONFLICT DO UPDATE SET "
            "sha256 = excluded.sha256, status = 'rejected', message = excluded.message",
            [device, path.name, digest, why],
        )


def _heartbeat(db, device: str, path: Path) -> int:
    try:
        if path.stat().st_size > MAX_BYTES:
            return 0
        data = json.loads(path.read_text(encoding="utf-8"))
        if not isinstance(data, dict):
            return 0
    except (OSError, ValueError):
        return 0
    data["device"] = device  # the folder says who it is, not the file
    with db.conn:
        db.execute(
            "INSERT INTO devices VALUES (?, ?, ?) ON CONFLICT DO UPDATE SET "
            "heartbeat = excluded.heartbeat, received = excluded.received",
            [device, json.dumps(data, sort_keys=True), dt.datetime.now(dt.UTC).isoformat()],
        )
    return 1
