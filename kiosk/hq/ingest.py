"""Take in what kiosks send: usage snapshots and heartbeats, from inbox/<device>/ into hq.db.

Every upload is treated as hostile, because anyone holding a kiosk's write key can send
anything rsync can carry: links, FIFOs, sparse files of many gigabytes, JSON nested deeper than
Python parses.

- A device folder is opened with O_NOFOLLOW, and each file relative to it with O_NOFOLLOW and
  O_NONBLOCK; only plain files are read (fstat), and only up to a size fixed per kind of file,
  checked before a byte is read.
- What cannot be taken in is moved (renamed, never copied) to rejected/<device>/, with hq.db
  saying why; a link or special file is removed, since it holds no figures. From another
  filesystem (a USB stick) a rename is impossible: the bytes already read are kept, at most
  the size limit, and nothing is read a second time.
- One bad file or folder never stops the run: every other kiosk is still taken in.

Ingest is idempotent: a device's day is replaced as a whole by the newest file for it (the
highest ``seq``, kiosk/formats/snapshot.py), so the same file twice, files in any order, an
old copy from a stick after a newer one came over SSH, a truncated upload (set aside, and the
day keeps its last good figures) or a corrected re-send all leave every count exact. The
folder a file arrived in names its device; the file's own "device" field is never believed.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import errno
import hashlib
import os
import stat
from pathlib import Path

from kiosk.db import transaction
from kiosk.errors import KioskError
from kiosk.files import write_atomic
from kiosk.formats import heartbeat as beats
from kiosk.formats.snapshot import MAX_BYTES, NAME, TABLES, Malformed, read_snapshot, seq_of
from kiosk.hq.database import open_hq
from kiosk.hq.needs import roll_up_needs
from kiosk.hq.root import DEVICE_NAME
from kiosk.hq.totals import rollup

# O_NOFOLLOW: rsync -a keeps links as links, and a link read as a file would hand ingest
# whatever it names (headquarters' signing key, another kiosk's heartbeat) as this kiosk's.
# O_NONBLOCK: opening a FIFO for reading waits for a writer that never comes; this way the
# open returns at once and fstat refuses the FIFO.
OPEN_UPLOAD = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC
OPEN_FOLDER = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC


# ---------------------------------------------------------------- reading one upload


class Unreadable(Exception):
    """An upload that was not read: why, and what fstat saw (None when it could not be opened)."""

    def __init__(self, why: str, st: os.stat_result | None = None) -> None:
        super().__init__(why)
        self.why = why
        self.stat = st


def read_upload(folder: int, name: str, limit: int) -> tuple[bytes, os.stat_result]:
    """Read one plain file of at most ``limit`` bytes from an open device folder."""
    try:
        fd = os.open(name, OPEN_UPLOAD, dir_fd=folder)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise Unreadable("a link, not a plain file") from None
        raise Unreadable(f"could not be opened ({exc.strerror})") from None
    with os.fdopen(fd, "rb") as fh:
        st = os.fstat(fh.fileno())
        if not stat.S_ISREG(st.st_mode):
            raise Unreadable("not a plain file", st)
        if st.st_size > limit:
            raise Unreadable(f"too large ({st.st_size} bytes; at most {limit} are read)", st)
        data = fh.read(limit + 1)
    if len(data) > limit:  # it grew while being read
        raise Unreadable(f"too large (over {limit} bytes)", st)
    return data, st


def _set_aside(
    root: Path, folder: int, device: str, name: str, data: bytes | None, st: os.stat_result | None
) -> None:
    """Move what ingest cannot take in to rejected/<device>/; remove links and special files."""
    try:
        now = os.stat(name, dir_fd=folder, follow_symlinks=False)
    except OSError:
        return
    if stat.S_ISDIR(now.st_mode):
        return  # a folder holds no figures, and removing one is not ingest's business
    if not stat.S_ISREG(now.st_mode):
        with contextlib.suppress(OSError):
            os.unlink(name, dir_fd=folder)
        return
    if st is None or (now.st_dev, now.st_ino) != (st.st_dev, st.st_ino):
        return  # replaced since it was read: the new file is looked at next time
    aside = root / "rejected" / device
    aside.mkdir(parents=True, exist_ok=True)
    try:
        os.rename(name, aside / name, src_dir_fd=folder)
    except OSError as exc:
        if exc.errno == errno.EXDEV and data is not None:
            write_atomic(aside / name, data)  # from a stick: keep what was read, no more


def _reject(
    root: Path, db, device: str, folder: int, name: str, digest: str, why: str, report: dict,
    data: bytes | None = None, st: os.stat_result | None = None,
) -> None:  # fmt: skip
    _set_aside(root, folder, device, name, data, st)
    with db.conn:
        db.execute(
            "INSERT INTO files VALUES (?, ?, ?, 'rejected', ?) ON CONFLICT DO UPDATE SET "
            "sha256 = excluded.sha256, status = 'rejected', message = excluded.message",
            [device, name, digest, why],
        )
    report["rejected"].append(f"{device}/{name}: {why}")


# ---------------------------------------------------------------- the run


def ingest(root: Path, inbox: Path | None = None, now: dt.datetime | None = None) -> dict:
    """Read every device's snapshots and heartbeat into hq.db; return what happened.

    ``now`` is when the heartbeats count as received (a demo or a benchmark replays days).
    """
    inbox = inbox or root / "inbox"
    try:
        inbox_fd = os.open(inbox, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    except OSError:
        raise KioskError(f"There is no inbox folder at {inbox}.") from None
    report = {"ingested": 0, "unchanged": 0, "older": 0, "rejected": [], "heartbeats": 0,
              # How this run's heartbeats came, and when they count as received:
              "_via": "ssh" if inbox == root / "inbox" else "stick",
              "_now": (now or dt.datetime.now(dt.UTC)).isoformat(),
              "_months": set()}  # fmt: skip
    db = open_hq(root)
    try:
        for device in sorted(os.listdir(inbox_fd)):
            if not DEVICE_NAME.fullmatch(device):
                continue
            try:
                # O_NOFOLLOW: inbox/<device> must be that device's own folder, not a link to
                # another kiosk's (whose figures would be counted twice) or to anywhere else.
                folder = os.open(device, OPEN_FOLDER, dir_fd=inbox_fd)
            except OSError as exc:
                if exc.errno == errno.ELOOP:
                    report["rejected"].append(f"{device}/: a link, not a folder; skipped")
                continue
            try:
                _ingest_device(root, db, device, folder, report)
            finally:
                os.close(folder)
        if report["_months"]:
            rollup(db, report["_months"])  # the months whose figures changed, summed again
            roll_up_needs(db)
    finally:
        db.close()
        os.close(inbox_fd)
    return {key: value for key, value in report.items() if not key.startswith("_")}


def _ingest_device(root: Path, db, device: str, folder: int, report: dict) -> None:
    for name in sorted(os.listdir(folder)):
        if name.startswith("."):
            continue  # rsync's partial files and our own temporaries
        try:
            if name == beats.NAME:
                report["heartbeats"] += _heartbeat(root, db, device, folder, report)
            elif match := NAME.fullmatch(name):
                _snapshot(root, db, device, folder, name, match.group(1), report)
        except OSError as exc:  # one file that cannot be read never stops the others
            report["rejected"].append(f"{device}/{name}: could not be read ({exc.strerror})")


def _snapshot(root: Path, db, device: str, folder: int, name: str, day: str, report: dict) -> None:
    try:
        raw, st = read_upload(folder, name, MAX_BYTES)
    except Unreadable as exc:
        _reject(root, db, device, folder, name, "", exc.why, report, st=exc.stat)
        return
    digest = hashlib.sha256(raw).hexdigest()
    seen = db.execute(
        "SELECT sha256 FROM files WHERE device = ? AND name = ?", [device, name]
    ).fetchone()
    if seen and seen[0] == digest:
        report["unchanged"] += 1
        return
    try:
        data = read_snapshot(raw, day)
    except Malformed as exc:
        _reject(root, db, device, folder, name, digest, str(exc), report, raw, st)
        return
    newest = db.execute(
        "SELECT seq FROM snapshot_seq WHERE device = ? AND day = ?", [device, day]
    ).fetchone()
    if newest and seq_of(data) < newest[0]:
        report["older"] += 1  # a newer snapshot of the day is already in; it stays
        return
    _replace_day(db, device, data, digest, name)
    report["ingested"] += 1
    report["_months"].add(day[:7])


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


def _heartbeat(root: Path, db, device: str, folder: int, report: dict) -> int:
    try:
        raw, _st = read_upload(folder, beats.NAME, beats.MAX_BYTES)
    except Unreadable as exc:
        _reject(root, db, device, folder, beats.NAME, "", exc.why, report, st=exc.stat)
        return 0
    digest = hashlib.sha256(raw).hexdigest()
    seen = db.execute(
        "SELECT sha256 FROM files WHERE device = ? AND name = ?", [device, beats.NAME]
    ).fetchone()
    if seen and seen[0] == digest:
        # The kiosk's last heartbeat stays in its folder until the next sync replaces it;
        # reading it again must not make a kiosk that fell silent look heard from.
        return 0
    beat = beats.decode(raw, device)  # the folder says who it is, not the file
    if beat is None:
        return 0  # the next sync overwrites it
    received = report["_now"]
    day = beat.day or received[:10]  # a kiosk that does not know the date: the day it arrived
    stored = beats.encode(beat).decode().strip()  # only what the reader took, checked
    with db.conn:
        # An older day's heartbeat (a stick that waited a week) never hides a newer one.
        db.execute(
            "INSERT INTO devices VALUES (?, ?, ?) ON CONFLICT DO UPDATE SET "
            "heartbeat = excluded.heartbeat, received = excluded.received "
            "WHERE coalesce(json_extract(devices.heartbeat, '$.day'), '') <= ?",
            [device, stored, received, day],
        )
        db.execute(
            "INSERT INTO files VALUES (?, ?, ?, 'ok', NULL) ON CONFLICT DO UPDATE SET "
            "sha256 = excluded.sha256, status = 'ok', message = NULL",
            [device, beats.NAME, digest],
        )
        db.execute(
            "INSERT INTO heartbeat_day VALUES (?, ?, ?, ?, ?) ON CONFLICT DO UPDATE SET "
            "heartbeat = excluded.heartbeat, received = excluded.received, via = excluded.via",
            [device, day, stored, received, report["_via"]],
        )
        if report["_via"] == "stick":
            db.execute(
                "INSERT INTO stick_seen VALUES (?, ?) ON CONFLICT DO UPDATE SET "
                "received = max(received, excluded.received)",
                [device, received],
            )
    return 1
