"""Headquarters: register kiosks, publish signed releases, ingest what kiosks send, report.

Layout of headquarters' sync root (also what a USB stick carries)::

    releases/<channel>/LATEST, releases/<channel>/<version>/   published releases
    inbox/<device>/        written only by that device's write key (rrsync -wo)
    devices/<device>/      that device's SSH keys (give them to the kiosk, keep them safe)
    rejected/<device>/     copies of files that could not be read, with hq.db saying why
    hq.db                  everything ingested (SQLite)

Ingest is idempotent: a device's day is replaced as a whole by the newest file for it, so
the same file twice, files in any order, a truncated upload (refused, and the day keeps its
last good figures) or a corrected re-send all leave every count exact. The folder a file
arrived in names its device; the file's own "device" field is never believed.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
import shutil
import subprocess
from pathlib import Path

import sqlite_utils

from kiosk.db import transaction
from kiosk.errors import KioskError
from kiosk.files import write_atomic
from kiosk.usage import SNAPSHOT_FORMAT, TABLES

DEVICE_NAME = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}\Z")  # \Z: "$" allows a final newline
SNAPSHOT_NAME = re.compile(r"^usage-(\d{4}-\d{2}-\d{2})\.json\Z")
MAX_FILE = 4 * 1024 * 1024


def _check_name(name: str) -> str:
    if not DEVICE_NAME.match(name):
        raise KioskError("A device name uses a-z, 0-9 and '-' (up to 63 characters).")
    return name


def add_device(root: Path, name: str) -> list[str]:
    """Make a device's two SSH keys and return the authorized_keys lines that confine them."""
    _check_name(name)
    folder = root / "devices" / name
    if folder.exists():
        raise KioskError(f"A device called {name} already exists.")
    folder.mkdir(parents=True)
    (root / "inbox" / name).mkdir(parents=True, exist_ok=True)
    (root / "releases").mkdir(exist_ok=True)
    lines = []
    for role, command in (
        ("read", f"rrsync -ro {(root / 'releases').resolve()}"),
        ("write", f"rrsync -wo -no-lock {(root / 'inbox' / name).resolve()}"),
    ):
        key = folder / f"{role}_key"
        subprocess.run(
            ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", f"kiosk-{name}-{role}",
             "-f", str(key)],
            check=True,
        )  # fmt: skip
        public = (folder / f"{role}_key.pub").read_text().strip()
        lines.append(f'restrict,command="{command}" {public}')
    return lines


def publish(src, key, root: Path, channel: str, speaker, version: int | None = None, **kw):
    """Build and sign a release into releases/<channel>/<version>, then point LATEST at it."""
    from kiosk.releases.build import build_release

    if not re.fullmatch(r"[a-z0-9-]+", channel):
        raise KioskError("A channel name uses a-z, 0-9 and '-'.")
    folder = root / "releases" / channel
    folder.mkdir(parents=True, exist_ok=True)
    latest = folder / "LATEST"
    now = dt.datetime.now(dt.UTC)
    version = version or int(now.strftime("%Y%m%d%H%M%S"))
    current = int(latest.read_text()) if latest.exists() else 0
    if version <= current:
        raise KioskError(f"Version {version} is not newer than the published {current}.")
    result = build_release(src, folder / str(version), key, speaker, version=version, now=now, **kw)
    write_atomic(latest, f"{version}\n")
    return result


# ---------------------------------------------------------------- ingest


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
        "CREATE TABLE IF NOT EXISTS files (device TEXT NOT NULL, name TEXT NOT NULL, "
        "sha256 TEXT NOT NULL, status TEXT NOT NULL, message TEXT, "
        "PRIMARY KEY (device, name))"
    )
    db.execute(
        "CREATE TABLE IF NOT EXISTS devices (device TEXT PRIMARY KEY, heartbeat TEXT, "
        "received TEXT)"
    )
    return db


class Malformed(ValueError):
    pass


def _read_snapshot(path: Path, day: str) -> dict:
    if path.stat().st_size > MAX_FILE:
        raise Malformed("file is too large")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise Malformed(f"not readable JSON ({exc.__class__.__name__})") from None
    if not isinstance(data, dict) or data.get("format") != SNAPSHOT_FORMAT:
        raise Malformed("unknown snapshot format")
    if data.get("day") != day:
        raise Malformed("the day inside does not match the file name")
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
            for c in columns:
                value = row.get(c)
                if value is not None and (not isinstance(value, int) or value < 0):
                    raise Malformed(f"a count in {table} is not a whole number")
            if table != "unmet_week" and row.get("day") != day:
                raise Malformed(f"a row of {table} belongs to another day")
    return data


def ingest(root: Path, inbox: Path | None = None) -> dict:
    """Read every device's snapshots and heartbeat into hq.db; return what happened."""
    inbox = inbox or root / "inbox"
    db = open_hq(root)
    report = {"ingested": 0, "unchanged": 0, "rejected": [], "heartbeats": 0}
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
                digest = hashlib.sha256(path.read_bytes()).hexdigest()
                seen = db.execute(
                    "SELECT sha256 FROM files WHERE device = ? AND name = ?", [device, path.name]
                ).fetchone()
                if seen and seen[0] == digest:
                    report["unchanged"] += 1
                    continue
                try:
                    data = _read_snapshot(path, match.group(1))
                except Malformed as exc:
                    _reject(root, db, device, path, digest, str(exc))
                    report["rejected"].append(f"{device}/{path.name}: {exc}")
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
        if path.stat().st_size > MAX_FILE:
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


# ---------------------------------------------------------------- report


def guide_tags(root: Path) -> dict[str, dict[str, list[str]]]:
    """Each guide's journey steps and resilience dimensions, from the newest published release."""
    tags: dict[str, dict[str, list[str]]] = {}
    for latest in sorted((root / "releases").glob("*/LATEST")):
        try:
            folder = latest.parent / latest.read_text().strip()
            catalog = json.loads((folder / "catalog.json").read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        for guide in catalog.get("guides", []):
            tags[guide["id"]] = {"steps": guide["steps"], "dimensions": guide["dimensions"]}
    return tags


def reach(root: Path) -> dict:
    """Headquarters' totals, summed from the cells kiosks sent (suppressed cells count 0).

    Views are also added up along the journey steps and resilience dimensions each guide is
    tagged with, the words headquarters reports to donors in; a guide tagged with two steps
    counts toward both.
    """
    db = open_hq(root)
    try:

        def rows(sql: str) -> list:
            return db.execute(sql).fetchall()

        views = rows(
            "SELECT guide, lang, sum(coalesce(views, 0)) FROM guide_day "
            "GROUP BY guide, lang ORDER BY 3 DESC"
        )
        tags = guide_tags(root)
        by_step: dict[str, int] = {}
        by_dimension: dict[str, int] = {}
        for guide, _lang, n in views:
            for step in tags.get(guide, {}).get("steps", []):
                by_step[step] = by_step.get(step, 0) + n
            for dimension in tags.get(guide, {}).get("dimensions", []):
                by_dimension[dimension] = by_dimension.get(dimension, 0) + n
        return {
            "visits": rows(
                "SELECT device, sum(coalesce(visits, 0)) FROM channel_day GROUP BY device"
            ),
            "views": views,
            "steps": by_step,
            "dimensions": by_dimension,
            "devices": rows("SELECT device, heartbeat, received FROM devices ORDER BY device"),
            "rejected": rows("SELECT device, name, message FROM files WHERE status = 'rejected'"),
        }
    finally:
        db.close()
