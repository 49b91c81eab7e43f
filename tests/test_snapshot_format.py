"""The usage snapshot: the kiosk's writer and headquarters' reader, tested against each other."""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import sys

import pytest

from kiosk.device.usage import Usage, write_snapshots
from kiosk.formats.snapshot import (
    MAX_BYTES,
    Malformed,
    read_snapshot,
    seq_of,
    snapshot,
    write_snapshot,
)

DAY = "2026-11-25"


def busy_day() -> dict:
    """More than any kiosk does in a day: 60 guides, 12 languages, 2,000 unmet terms."""
    langs = ["en", "ne", "es", "ar", "ro", "hi", "bn", "ur", "tl", "id", "am", "fr"]
    guides = [
        {"day": DAY, "guide": f"guide-{g:02d}", "lang": lang, "channel": channel, "views": 999,
         "listens_started": 99, "listens_finished": 99, "helpful_yes": 99, "helpful_no": 99}
        for g in range(60) for lang in langs for channel in ("screen", "phone")
    ]  # fmt: skip
    terms = [
        {"week": "2026-W48", "lang": "es", "term": f"a term of some length {n}", "searches": 9}
        for n in range(2000)
    ]
    hours = [{"day": DAY, "hour": h, "pages": 999} for h in range(24)]
    return {"guide_day": guides, "unmet_week": terms, "hour_day": hours}


def test_what_the_writer_writes_the_reader_reads_back_numbered(tmp_path):
    made = snapshot(busy_day(), DAY, "kiosk-1", 5)
    first = write_snapshot(tmp_path, made)
    back = read_snapshot(first.read_bytes(), DAY)
    assert back == {**made, "seq": 1}
    again = read_snapshot(write_snapshot(tmp_path, made).read_bytes(), DAY)
    assert seq_of(again) == 2 and {**again, "seq": 1} == back
    # The busiest day imaginable stays far inside what headquarters reads.
    assert first.stat().st_size < MAX_BYTES / 4


def test_a_snapshot_from_before_seq_existed_counts_as_zero():
    old = json.dumps({"format": 1, "day": DAY, "tables": {}}).encode()
    assert seq_of(read_snapshot(old, DAY)) == 0


@pytest.mark.parametrize("seq", [0, -1, True, 1.5, "7", 2**70])
def test_a_bad_sequence_number_is_refused(seq):
    raw = json.dumps({"format": 1, "day": DAY, "seq": seq, "tables": {}}).encode()
    with pytest.raises(Malformed, match="sequence"):
        read_snapshot(raw, DAY)


def test_processes_writing_the_same_outbox_never_reuse_a_number(tmp_path):
    usage = Usage(tmp_path / "usage.db", start=False)
    for _ in range(6):
        usage.count_visit("phone")
    usage.close()
    writer = (
        "import datetime as dt, sys; from pathlib import Path; "
        "from kiosk.device.usage import write_snapshots; "
        "[write_snapshots(Path(sys.argv[1]), Path(sys.argv[2]), 'k', 2, days=1, "
        "today=dt.date(2026, 11, 25)) for _ in range(25)]"
    )
    command = [sys.executable, "-c", writer, str(tmp_path / "usage.db"), str(tmp_path / "outbox")]
    procs = [subprocess.Popen(command) for _ in range(4)]
    assert [p.wait(timeout=120) for p in procs] == [0, 0, 0, 0]
    final = json.loads((tmp_path / "outbox" / f"usage-{DAY}.json").read_text())
    assert final["seq"] == 100  # 4 processes x 25 writes, each one number further


def test_the_device_writer_numbers_each_day_on_its_own(tmp_path):
    usage = Usage(tmp_path / "usage.db", start=False)
    usage.count_visit("phone")
    usage.close()
    today = dt.date(2026, 11, 25)
    for _ in range(3):
        write_snapshots(tmp_path / "usage.db", tmp_path / "out", "k", 1, today=today)
    write_snapshots(tmp_path / "usage.db", tmp_path / "out", "k", 1, today=today, days=1)
    seqs = {p.name: json.loads(p.read_text())["seq"] for p in (tmp_path / "out").glob("*.json")}
    assert seqs == {"usage-2026-11-24.json": 3, "usage-2026-11-25.json": 4}
