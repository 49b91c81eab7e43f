"""Headquarters' ingest: exact counts whatever order, repetition or damage files arrive with."""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from kiosk.device.usage import Usage, read_counts, snapshot, write_snapshot
from kiosk.hq import ingest
from tests.conftest import run_kiosk


def device_snapshots(tmp_path: Path, views_by_day: dict[str, int]) -> list[Path]:
    """Snapshots as a device writes them, one per day, with the given guide views."""
    files = []
    for day, views in views_by_day.items():
        counts = {
            "guide_day": [{"day": day, "guide": "passport", "lang": "ne", "channel": "phone",
                           "views": views, "listens_started": 0, "listens_finished": 0,
                           "helpful_yes": 0, "helpful_no": 0}],
            "channel_day": [{"day": day, "channel": "phone", "visits": views, "pages": views}],
            "unmet_week": [{"week": "2026-W47", "lang": "es", "term": "visa", "searches": views}],
        }  # fmt: skip
        files.append(write_snapshot(tmp_path / "made", snapshot(counts, day, "kiosk-9", 2)))
    return files


def hq_views(root: Path) -> dict:
    db = sqlite3.connect(root / "hq.db")
    try:
        return dict(db.execute("SELECT day, views FROM guide_day WHERE device = 'k'").fetchall())
    finally:
        db.close()


def deliver(root: Path, files: list[Path], device: str = "k") -> None:
    inbox = root / "inbox" / device
    inbox.mkdir(parents=True, exist_ok=True)
    for f in files:
        shutil.copyfile(f, inbox / f.name)


DAYS = {"2026-11-16": 5, "2026-11-17": 8, "2026-11-18": 3}


def test_same_files_twice_count_once(tmp_path):
    root = tmp_path / "hq"
    files = device_snapshots(tmp_path, DAYS)
    deliver(root, files)
    assert ingest(root)["ingested"] == 3
    assert ingest(root) == {
        "ingested": 0,
        "unchanged": 3,
        "older": 0,
        "rejected": [],
        "heartbeats": 0,
    }
    assert hq_views(root) == DAYS


def test_reordered_and_replaced_files_leave_the_newest_figures(tmp_path):
    root = tmp_path / "hq"
    later = device_snapshots(tmp_path / "later", {"2026-11-17": 12})  # the day, re-sent fuller
    deliver(root, later)
    ingest(root)
    earlier = device_snapshots(tmp_path / "earlier", DAYS)
    deliver(root, [f for f in earlier if "11-17" not in f.name])  # the other days arrive later
    ingest(root)
    assert hq_views(root) == {**DAYS, "2026-11-17": 12}
    deliver(root, later)  # and once more, unchanged
    ingest(root)
    assert hq_views(root) == {**DAYS, "2026-11-17": 12}
    db = sqlite3.connect(root / "hq.db")
    # The week's unmet needs come from the newest day (the 18th): the 16th, which arrived after
    # the 17th, did not overwrite the 17th's view, and the 18th's then replaced it.
    assert db.execute("SELECT searches FROM unmet_week").fetchone() == (3,)
    assert db.execute("SELECT day FROM unmet_as_of").fetchone() == ("2026-11-18",)
    db.close()


def test_a_truncated_upload_is_set_aside_and_the_day_keeps_its_last_good_figures(tmp_path):
    root = tmp_path / "hq"
    files = device_snapshots(tmp_path, DAYS)
    deliver(root, files)
    ingest(root)
    broken = root / "inbox" / "k" / files[1].name
    broken.write_bytes(files[1].read_bytes()[:40])
    report = ingest(root)
    assert len(report["rejected"]) == 1 and "not readable JSON" in report["rejected"][0]
    assert hq_views(root) == DAYS
    assert (root / "rejected" / "k" / files[1].name).exists()
    deliver(root, [files[1]])  # the next upload repairs it
    assert ingest(root)["ingested"] == 1 and hq_views(root) == DAYS


def test_the_folder_names_the_device_not_the_file(tmp_path):
    root = tmp_path / "hq"
    files = device_snapshots(tmp_path, {"2026-11-16": 5})
    deliver(root, files, device="k")  # the file says kiosk-9; it arrived in k's inbox
    ingest(root)
    db = sqlite3.connect(root / "hq.db")
    assert db.execute("SELECT DISTINCT device FROM guide_day").fetchall() == [("k",)]
    db.close()


def test_hostile_snapshots_are_set_aside(tmp_path):
    root = tmp_path / "hq"
    inbox = root / "inbox" / "k"
    inbox.mkdir(parents=True)
    good = {"format": 1, "device": "k", "day": "2026-11-16", "week": "2026-W47", "k": 2,
            "tables": {"guide_day": []}}  # fmt: skip
    cases = {
        "usage-2026-11-16.json": {**good, "format": 99},
        "usage-2026-11-17.json": {**good},  # day inside differs from the name
        "usage-2026-11-18.json": {**good, "day": "2026-11-18", "tables": {"evil": []}},
        "usage-2026-11-19.json": {**good, "day": "2026-11-19", "tables": {"guide_day": [
            {"day": "2026-11-19", "guide": "g", "lang": "en", "channel": "phone", "views": -4}]}},
    }  # fmt: skip
    for name, data in cases.items():
        (inbox / name).write_text(json.dumps(data))
    (inbox / "usage-2026-11-20.json").write_bytes(b"\xff\xfe not text")
    report = ingest(root)
    assert len(report["rejected"]) == 5 and report["ingested"] == 0


def test_device_and_headquarters_agree_exactly(tmp_path):
    usage = Usage(tmp_path / "u.db", start=False)
    for n in range(30):
        usage.count_view(f"g{n % 4}", ["en", "ne"][n % 2], "phone")
        usage.count_visit("phone")
    usage.close()
    import datetime as dt

    day = dt.date.today().isoformat()
    snap = snapshot(read_counts(tmp_path / "u.db"), day, "k", 2)
    deliver(tmp_path / "hq", [write_snapshot(tmp_path / "out", snap)])
    ingest(tmp_path / "hq")
    db = sqlite3.connect(tmp_path / "hq" / "hq.db")
    at_hq = {(g, lang): v for g, lang, v in db.execute("SELECT guide, lang, views FROM guide_day")}
    db.close()
    on_device = {(r["guide"], r["lang"]): r["views"] for r in snap["tables"]["guide_day"]}
    assert at_hq == on_device and sum(at_hq.values()) == 30


def test_reach_adds_up_along_journey_steps_and_dimensions(tmp_path):
    from kiosk.hq import reach

    root = tmp_path / "hq"
    release = root / "releases" / "stable" / "7"
    release.mkdir(parents=True)
    (root / "releases" / "stable" / "LATEST").write_text("7\n")
    (release / "catalog.json").write_text(json.dumps({"guides": [
        {"id": "passport", "steps": ["origin", "transit"], "dimensions": ["regulatory"]},
    ]}))  # fmt: skip
    deliver(root, device_snapshots(tmp_path, DAYS))
    ingest(root)
    figures = reach(root)
    total = sum(n for n in DAYS.values() if n >= 5)  # a day of 3 is below headquarters' k
    assert figures["steps"] == {"origin": total, "transit": total}
    assert figures["dimensions"] == {"regulatory": total}


# ---------------------------------------------------------------- hostile uploads (issue 12)


def hq_db(root: Path) -> sqlite3.Connection:
    return sqlite3.connect(root / "hq.db")


def rejected_bytes(root: Path) -> list[bytes]:
    """What ingest left under rejected/, read without following links (a link holds nothing)."""
    out = []
    for path in (root / "rejected").rglob("*"):
        if path.is_file() and not path.is_symlink():
            out.append(path.read_bytes())
    return out


def test_ingest_never_follows_a_link_a_kiosk_uploaded(tmp_path):
    from kiosk.formats.manifest import generate_key

    secret = tmp_path / "keys" / "release-key"
    generate_key(secret)
    root = tmp_path / "hq"
    for device in ("kiosk-a", "kiosk-b"):
        (root / "inbox" / device).mkdir(parents=True)
    beat_b = {"format": 1, "device": "kiosk-b", "release": 4242}
    (root / "inbox/kiosk-b/heartbeat.json").write_text(json.dumps(beat_b))
    deliver(root, device_snapshots(tmp_path, {"2026-11-16": 5}), device="kiosk-b")
    a = root / "inbox" / "kiosk-a"
    (a / "usage-2026-11-16.json").symlink_to(secret)
    (a / "heartbeat.json").symlink_to("../kiosk-b/heartbeat.json")
    (root / "inbox" / "kiosk-c").symlink_to("kiosk-b", target_is_directory=True)

    report = ingest(root)

    assert all(secret.read_bytes() not in data for data in rejected_bytes(root))
    db = hq_db(root)
    beats = dict(db.execute("SELECT device, heartbeat FROM devices").fetchall())
    devices = {d for (d,) in db.execute("SELECT DISTINCT device FROM guide_day")}
    db.close()
    assert set(beats) == {"kiosk-b"}  # kiosk-a sent a link, not a heartbeat
    assert devices == {"kiosk-b"}  # kiosk-c is a link to kiosk-b's folder: nobody's figures
    assert any("kiosk-a/usage-2026-11-16.json" in line and "not a plain file" in line
               for line in report["rejected"])  # fmt: skip
    assert not (a / "usage-2026-11-16.json").is_symlink()  # the link is gone from the inbox
    assert secret.exists()  # and what it pointed at is untouched


def test_ingest_does_not_wait_on_a_fifo(tmp_path):
    root = tmp_path / "hq"
    inbox = root / "inbox" / "kiosk-a"
    inbox.mkdir(parents=True)
    os.mkfifo(inbox / "usage-2026-11-16.json")
    os.mkfifo(inbox / "heartbeat.json")
    deliver(root, device_snapshots(tmp_path, {"2026-11-16": 5}), device="kiosk-b")
    # A real process with a deadline: a FIFO opened for reading blocks until a writer comes.
    done = run_kiosk("hq", "ingest", "--root", str(root), timeout=60)
    assert done.returncode == 0, done.stderr
    assert "1 new or changed" in done.stdout and "kiosk-a/usage-2026-11-16.json" in done.stderr


def sparse(path: Path, size: int) -> Path:
    """A file of ``size`` bytes that takes no disk space (cheap to make, costly to read)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("wb") as fh:
        fh.truncate(size)
    return path


def ingest_in_a_process(root: Path, tmp_path: Path, memory_cap: int) -> tuple[int, int, str]:
    """Run the real ``kiosk hq ingest``; return its exit code, peak memory (KiB) and output.

    A small Python parent starts it and reads its peak with wait4: a process started straight
    from pytest would report pytest's own peak too (Linux carries ru_maxrss across exec). The
    address space is capped so that a regression fails this test rather than taking the
    memory of a machine other people share.
    """
    out, err, peak = tmp_path / "ingest.out", tmp_path / "ingest.err", tmp_path / "peak"
    parent = (
        "import os, resource, subprocess, sys; "
        f"resource.setrlimit(resource.RLIMIT_AS, ({memory_cap}, {memory_cap})); "
        "proc = subprocess.Popen([sys.executable, *sys.argv[2:]]); "
        "_pid, status, usage = os.wait4(proc.pid, 0); "
        "open(sys.argv[1], 'w').write(str(usage.ru_maxrss)); "
        "sys.exit(os.waitstatus_to_exitcode(status))"
    )
    command = [sys.executable, "-c", parent, str(peak), "-m", "kiosk.cli", "hq", "ingest",
               "--root", str(root)]  # fmt: skip
    with out.open("wb") as stdout, err.open("wb") as stderr:
        code = subprocess.run(command, stdout=stdout, stderr=stderr, timeout=300).returncode
    return code, int(peak.read_text()), out.read_text() + err.read_text()


def test_oversized_uploads_are_set_aside_unread_and_the_next_kiosk_still_counts(tmp_path):
    root = tmp_path / "hq"
    big = sparse(root / "inbox/kiosk-a/usage-2026-11-16.json", 300 * 1024 * 1024)
    huge = sparse(root / "inbox/kiosk-a/usage-2026-11-17.json", 6 * 1024**3)
    inodes = {big.name: big.stat().st_ino, huge.name: huge.stat().st_ino}
    deliver(root, device_snapshots(tmp_path, {"2026-11-16": 5}), device="kiosk-b")

    code, peak_kib, output = ingest_in_a_process(root, tmp_path, memory_cap=1024**3)

    print(f"ingest of a 300 MB and a 6 GB upload: exit {code}, peak memory {peak_kib} KiB")
    assert code == 0, output
    db = hq_db(root)
    assert db.execute("SELECT views FROM guide_day WHERE device = 'kiosk-b'").fetchall() == [(5,)]
    db.close()
    assert peak_kib < 100 * 1024  # far below the 300 MB a full read would take
    for name, inode in inodes.items():  # moved aside (same inode), not copied
        assert not (root / "inbox/kiosk-a" / name).exists()
        assert (root / "rejected/kiosk-a" / name).stat().st_ino == inode
    assert output.count("too large") == 2


ROW = {"day": "2026-11-16", "guide": "g", "lang": "en", "channel": "phone", "views": 5}


@pytest.mark.parametrize(
    "body",
    [
        "[" * 200_000 + "]" * 200_000,  # deeper than Python's parser goes
        json.dumps(
            {"format": 1, "day": "2026-11-16", "tables": {"guide_day": [{**ROW, "views": 10**30}]}}
        ),  # larger than SQLite's integers
        json.dumps(
            {
                "format": 1,
                "day": "2026-11-16",
                "tables": {"guide_day": [{**ROW, "guide": {"a": 1}}]},
            }
        ),  # a key SQLite cannot store
        json.dumps(
            {"format": 1, "day": "2026-11-16", "tables": {"guide_day": [{**ROW, "views": True}]}}
        ),  # not a count
    ],
    ids=["nested", "huge-count", "odd-key", "bool-count"],
)
def test_one_bad_file_is_set_aside_and_the_run_goes_on(tmp_path, body):
    root = tmp_path / "hq"
    nested = root / "inbox/kiosk-a/usage-2026-11-16.json"
    nested.parent.mkdir(parents=True)
    nested.write_text(body)
    deliver(root, device_snapshots(tmp_path, {"2026-11-16": 5}), device="kiosk-b")
    report = ingest(root)
    assert report["ingested"] == 1 and len(report["rejected"]) == 1


def test_an_older_snapshot_of_a_day_never_replaces_a_newer_one(tmp_path):
    import datetime as dt

    from kiosk.device.usage import write_snapshots

    day = dt.date(2026, 11, 18)
    usage = Usage(tmp_path / "u.db", start=False, now=lambda: dt.datetime(2026, 11, 18, 10))
    outbox, root, stick = tmp_path / "outbox", tmp_path / "hq", tmp_path / "stick"
    for _ in range(13):
        usage.count_visit("phone")
    usage.flush()
    write_snapshots(tmp_path / "u.db", outbox, "k", 2, today=day)
    deliver(stick, [outbox / "usage-2026-11-18.json"])  # a stick takes the 13 away...
    for _ in range(5):
        usage.count_visit("phone")
    usage.close()
    write_snapshots(tmp_path / "u.db", outbox, "k", 2, today=day)
    deliver(root, [outbox / "usage-2026-11-18.json"])  # ...while 18 travel over SSH first

    assert ingest(root)["ingested"] == 1
    report = ingest(root, stick / "inbox")  # the stick comes back days later

    db = hq_db(root)
    visits = db.execute("SELECT visits FROM channel_day WHERE day = '2026-11-18'").fetchall()
    db.close()
    assert visits == [(18,)]
    assert report["ingested"] == 0 and report["older"] == 1


def test_publishing_an_older_or_equal_version_is_refused_and_latest_stays(
    tmp_path, keypair, speaker
):
    from kiosk.errors import KioskError
    from kiosk.hq import publish
    from tests.conftest import FIXTURE_CONTENT

    root = tmp_path / "hq"
    publish(FIXTURE_CONTENT, keypair[0], root, "stable", speaker, version=20)
    latest = root / "releases" / "stable" / "LATEST"
    for older in (20, 19):
        with pytest.raises(KioskError, match=f"Version {older} is not newer than the published 20"):
            publish(FIXTURE_CONTENT, keypair[0], root, "stable", speaker, version=older)
        assert latest.read_text() == "20\n"
    assert sorted(p.name for p in latest.parent.iterdir()) == ["20", "LATEST"]
