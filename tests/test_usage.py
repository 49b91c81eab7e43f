"""Anonymous usage: counts are right, nothing identifying is kept, failures never hurt pages."""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import sqlite3
import subprocess
from contextlib import contextmanager
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kiosk.db import MIGRATIONS, open_db
from kiosk.device.usage import TABLES, Usage, read_counts, snapshot, write_snapshot, write_snapshots
from tests.conftest import run_kiosk

ROOT = Path(__file__).resolve().parent.parent
PHONE = {"REMOTE_ADDR": "10.42.0.23"}
SCREEN = {"REMOTE_ADDR": "127.0.0.1"}


def documented_schema() -> set[tuple[str, str]]:
    doc = (ROOT / "docs" / "usage.md").read_text()
    return set(re.findall(r"^\| (\w+) \| (\w+) \| .+\|$", doc, re.M)) - {("table", "column")}


def test_migrations_apply_to_an_empty_file_and_schema_is_the_documented_list(tmp_path):
    db = open_db(tmp_path / "usage.db")
    applied = {row[0] for row in db.execute("SELECT name FROM migrations").fetchall()}
    assert applied == {m.__name__ for m in MIGRATIONS}
    actual = {
        (table, column)
        for (table,) in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'").fetchall()
        for column in [c[1] for c in db.execute(f"PRAGMA table_info({table})").fetchall()]
    }
    assert actual == documented_schema()
    for (sql,) in db.execute("SELECT sql FROM sqlite_master WHERE type = 'table'").fetchall():
        assert "WITHOUT ROWID" in sql
    assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    db.close()
    assert open_db(tmp_path / "usage.db") is not None  # re-opening applies nothing twice


def counts(usage: Usage) -> dict:
    usage.flush()
    return read_counts(usage.path)


def only(rows: list[dict], **match) -> dict:
    found = [r for r in rows if all(r[k] == v for k, v in match.items())]
    assert len(found) == 1, (match, rows)
    return found[0]


def test_views_languages_visits_and_hours_are_counted(client, usage):
    today = dt.date.today().isoformat()
    client.get("/", environ_base=PHONE)
    client.get("/ne/", environ_base=PHONE)
    client.get("/ne/guide/passport", environ_base=PHONE)
    client.get("/ne/guide/passport", environ_base=PHONE)
    client.get("/ar/guide/passport", environ_base=PHONE)
    c = counts(usage)
    assert only(c["guide_day"], guide="passport", lang="ne", channel="phone")["views"] == 2
    assert only(c["guide_day"], guide="passport", lang="ar")["views"] == 1
    assert only(c["language_day"], lang="ne")["choices"] == 1  # once per visit
    assert only(c["language_day"], lang="ar")["choices"] == 1
    assert only(c["channel_day"], channel="phone") == {
        "day": today, "channel": "phone", "visits": 1, "pages": 4
    }  # fmt: skip
    assert sum(r["pages"] for r in c["hour_day"]) == 4
    assert all(0 <= r["hour"] <= 23 for r in c["hour_day"])


def test_a_new_phone_or_the_screen_back_at_the_start_is_a_new_visit(app, usage):
    first, second = app.test_client(), app.test_client()
    first.get("/en/", environ_base=PHONE)
    first.get("/en/guide/passport", environ_base=PHONE)
    second.get("/en/", environ_base={"REMOTE_ADDR": "10.42.0.24"})
    screen = app.test_client()
    screen.get("/screen/en/", environ_base=SCREEN)
    screen.get("/screen/", environ_base=SCREEN)  # idle reset lands here: the visit ends
    screen.get("/screen/ne/", environ_base=SCREEN)
    c = counts(usage)
    assert only(c["channel_day"], channel="phone")["visits"] == 2
    assert only(c["channel_day"], channel="screen")["visits"] == 2


def test_visit_cookie_is_random_and_never_stored(client, usage):
    response = client.get("/en/", environ_base=PHONE)
    cookie = response.headers["Set-Cookie"]
    token = re.match(r"visit=([^;]+)", cookie).group(1)
    assert len(token) >= 20 and "HttpOnly" in cookie and "Expires" not in cookie
    usage.flush()
    for path in usage.path.parent.iterdir():
        assert token.encode() not in path.read_bytes()


def test_searches_and_unmet_needs_are_counted_without_what_was_typed(app, usage):
    phones = [app.test_client() for _ in range(usage.k)]  # k visits: the threshold counts them
    for phone in phones:
        phone.get("/en/", environ_base=PHONE)  # the visit starts (its cookie is set) here
    phones[0].get("/en/search?q=passport", environ_base=PHONE)
    for phone in phones:
        phone.get("/en/search?q=Divorce lawyer", environ_base=PHONE)
        phone.get("/en/search?q=call Ram Bahadur 9841234567", environ_base=PHONE)
        phone.get("/en/search?q=me@example.org", environ_base=PHONE)
    phones[0].get("/en/search?q=rare word", environ_base=PHONE)
    c = counts(usage)
    row = only(c["language_day"], lang="en")
    assert (row["searches_found"], row["searches_missed"]) == (1, 3 * usage.k + 1)
    assert [(r["term"], r["searches"]) for r in c["unmet_week"]] == [
        ("call", usage.k),
        ("divorce lawyer", usage.k),
    ]  # "rare word" was seen once: it stays in memory, under k, and never reaches the disk
    raw = b"".join(p.read_bytes() for p in usage.path.parent.iterdir() if p.is_file())
    for secret in (b"9841234567", b"Ram", b"Bahadur", b"example.org", b"Divorce", b"rare"):
        assert secret not in raw


def test_helpful_works_without_script_and_is_counted(client, usage):
    response = client.post(
        "/ne/guide/passport/helpful", data={"answer": "yes", "channel": "phone"}, environ_base=PHONE
    )
    assert response.status_code == 303
    assert response.headers["Location"] == "/ne/guide/passport?thanks=1#helpful"
    thanks = client.get("/ne/guide/passport?thanks=1", environ_base=PHONE).get_data(as_text=True)
    assert 'class="thanks"' in thanks and 'name="answer"' not in thanks
    client.post("/ne/guide/passport/helpful", data={"answer": "no"}, environ_base=PHONE)
    bad = client.post("/ne/guide/passport/helpful", data={"answer": "maybe"}, environ_base=PHONE)
    assert bad.status_code == 400
    assert client.post("/ne/guide/nope/helpful", data={"answer": "yes"}).status_code == 404
    row = only(counts(usage)["guide_day"], guide="passport", lang="ne")
    assert (row["helpful_yes"], row["helpful_no"]) == (1, 1)


def test_listen_beacons_are_counted(client, usage):
    for event in ("start", "start", "finish"):
        r = client.post("/ar/guide/passport/listen", data={"event": event, "channel": "screen"})
        assert r.status_code == 204
    row = only(counts(usage)["guide_day"], guide="passport", lang="ar", channel="screen")
    assert (row["listens_started"], row["listens_finished"]) == (2, 1)


def test_counting_costs_microseconds_and_no_io(tmp_path):
    import time

    usage = Usage(tmp_path / "u.db", start=False)
    started = time.perf_counter()
    for _ in range(10_000):
        usage.count_view("g", "en", "phone")
    per_call = (time.perf_counter() - started) / 10_000
    assert not (tmp_path / "u.db").exists()  # nothing touched the disk yet
    assert per_call < 0.001  # generous: the benchmark prints the real figure
    usage.close()
    assert read_counts(tmp_path / "u.db")["guide_day"][0]["views"] == 10_000


# ---------------------------------------------------------------- unmet needs: k counts visitors

# A person's name and a village in Devanagari: no capitals, so the threshold is all that
# keeps them off the disk.
NAMES = ("राम बहादुर", "सिमलटार गाउँ")


@pytest.fixture(scope="module")
def release_library(device_dir, keypair):
    from kiosk.device.library import Library
    from tests.conftest import device_settings

    settings = device_settings(device_dir, Path(f"{keypair[0]}.pub"))
    return settings, Library.from_settings(settings)


def fresh_app(release_library, folder: Path, k: int):
    from kiosk.device.web import create_app

    settings, library = release_library
    usage = Usage(folder / "usage.db", start=False, k=k)
    return create_app(settings, library=library, usage=usage), usage


def visitor(app, cookies: bool = True):
    """A phone that opens the Nepali start page and is then ready to search."""
    client = app.test_client(use_cookies=cookies)
    assert client.get("/ne/", environ_base=PHONE).status_code == 200
    return client


def search(client, term: str) -> None:
    assert client.get(f"/ne/search?q={term}", environ_base=PHONE).status_code == 200


def unmet(usage: Usage) -> dict[str, int]:
    usage.flush()
    if not usage.path.exists():
        return {}  # nothing was counted at all
    return {r["term"]: r["searches"] for r in read_counts(usage.path)["unmet_week"]}


def on_disk(usage: Usage) -> bytes:
    usage.flush()
    return b"".join(p.read_bytes() for p in usage.path.parent.iterdir() if p.is_file())


def test_one_visitor_repeating_a_search_never_sends_it_to_disk(release_library, tmp_path):
    app, usage = fresh_app(release_library, tmp_path, k=5)
    phone = visitor(app)
    for _ in range(8):
        search(phone, NAMES[0])
    assert unmet(usage) == {}
    assert NAMES[0].encode() not in on_disk(usage)
    assert only(read_counts(usage.path)["language_day"], lang="ne")["searches_missed"] == 8
    usage.close()


def test_a_phone_without_cookies_never_counts_toward_k(release_library, tmp_path):
    app, usage = fresh_app(release_library, tmp_path, k=5)
    cookieless = visitor(app, cookies=False)
    for _ in range(8):
        search(cookieless, NAMES[0])
    forger = visitor(app, cookies=False)  # a new made-up visit cookie on every request
    for n in range(8):
        forger.get(f"/ne/search?q={NAMES[1]}", headers={"Cookie": f"visit=made-up-{n}"})
    assert unmet(usage) == {}
    assert not any(name.encode() in on_disk(usage) for name in NAMES)
    usage.close()


def test_k_distinct_visits_send_a_term_and_each_visit_counts_once(release_library, tmp_path):
    app, usage = fresh_app(release_library, tmp_path, k=5)
    phones = [visitor(app) for _ in range(5)]
    for phone in phones[:4]:
        search(phone, NAMES[0])
        search(phone, NAMES[0])
    assert unmet(usage) == {}  # four visits, eight searches: still under k
    search(phones[4], NAMES[0])
    assert unmet(usage) == {NAMES[0]: 5}
    search(phones[0], NAMES[0])  # a visit already counted
    search(visitor(app), NAMES[0])  # a sixth visit
    assert unmet(usage) == {NAMES[0]: 6}
    usage.close()


SEARCHES = st.lists(
    st.tuples(
        st.one_of(st.none(), st.integers(min_value=0, max_value=7)),  # visitor; None: no cookies
        st.sampled_from(NAMES),
        st.integers(min_value=1, max_value=6),  # how many times in a row
        st.booleans(),  # flush afterwards
    ),
    max_size=14,
)


@settings(max_examples=40, deadline=None)
@given(k=st.integers(min_value=2, max_value=6), searches=SEARCHES)
def test_a_term_reaches_the_disk_only_when_k_distinct_visits_searched_it(
    release_library, k, searches
):
    import tempfile

    with tempfile.TemporaryDirectory() as folder:
        app, usage = fresh_app(release_library, Path(folder), k=k)
        phones: dict = {}
        for who, term, times, flush in searches:
            phone = phones.setdefault(who, visitor(app, cookies=who is not None))
            for _ in range(times):
                search(phone, term)
            if flush:
                usage.flush()
        stored, raw = unmet(usage), on_disk(usage)
        for term in NAMES:
            visits = {who for who, t, _, _ in searches if t == term and who is not None}
            if len(visits) < k:
                assert term not in stored and term.encode() not in raw, (term, visits)
            else:
                assert stored[term] == len(visits)
        usage.close()


# ---------------------------------------------------------------- snapshots

KEYS = st.sampled_from(["passport", "help-abroad", "rights"])
CELL_COUNTS = st.integers(min_value=0, max_value=12)


@st.composite
def raw_tables(draw):
    day = "2026-11-25"
    guide_rows = []
    for guide in ["passport", "help-abroad", "rights"]:
        for lang in ["en", "ne"]:
            for channel in ["screen", "phone"]:
                guide_rows.append(
                    {"day": day, "guide": guide, "lang": lang, "channel": channel,
                     **{c: draw(CELL_COUNTS) for c in TABLES["guide_day"][1]}}
                )  # fmt: skip
    hours = [{"day": day, "hour": h, "pages": draw(CELL_COUNTS)} for h in range(0, 24, 3)]
    terms = [
        {"week": "2026-W48", "lang": "en", "term": t, "searches": draw(CELL_COUNTS)}
        for t in ("visa", "divorce", "loan")
    ]
    return {"guide_day": guide_rows, "hour_day": hours, "unmet_week": terms,
            "language_day": [], "channel_day": []}  # fmt: skip


@settings(max_examples=200, deadline=None)
@given(tables=raw_tables(), k=st.integers(min_value=2, max_value=8), data=st.data())
def test_snapshot_never_reveals_a_cell_under_k_directly_or_by_subtraction(tables, k, data):
    snap = snapshot(tables, "2026-11-25", "kiosk-1", k)
    published = [
        value
        for rows in snap["tables"].values()
        for row in rows
        for name, value in row.items()
        if isinstance(value, int) and name != "hour"
    ]
    assert all(value >= k for value in published)
    # Change any one suppressed cell to any other value under k: nothing published may move.
    suppressed = [
        (table, i, column)
        for table, (_keys, columns) in TABLES.items()
        for i, row in enumerate(tables[table])
        for column in columns
        if row[column] < k
    ]
    if suppressed:
        table, i, column = data.draw(st.sampled_from(suppressed))
        other = json.loads(json.dumps(tables))
        other[table][i][column] = data.draw(st.integers(min_value=0, max_value=k - 1))
        assert snapshot(other, "2026-11-25", "kiosk-1", k) == snap


def test_snapshots_keep_cells_under_k_on_the_device_and_resending_replaces(tmp_path):
    usage = Usage(tmp_path / "usage.db", start=False)
    for _ in range(6):
        usage.count_view("passport", "ne", "phone")
    usage.count_view("passport", "ar", "phone")  # under k: must not leave the device
    usage.close()
    today = dt.date.today()
    paths = write_snapshots(tmp_path / "usage.db", tmp_path / "outbox", "kiosk-7", 5, today=today)
    assert [p.name for p in paths] == [
        f"usage-{(today - dt.timedelta(days=1)).isoformat()}.json",
        f"usage-{today.isoformat()}.json",
    ]
    data = json.loads(paths[1].read_text())
    assert data["format"] == 1 and data["device"] == "kiosk-7" and data["k"] == 5
    assert data["tables"]["guide_day"] == [
        {
            "day": today.isoformat(),
            "guide": "passport",
            "lang": "ne",
            "channel": "phone",
            "views": 6,
        }
    ]
    again = write_snapshot(tmp_path / "outbox", data)
    assert again == paths[1]
    assert sorted(p.name for p in (tmp_path / "outbox").iterdir()) == sorted(p.name for p in paths)


# ---------------------------------------------------------------- when the disk misbehaves


@contextmanager
def tmpfs(path: Path, size: str):
    if os.geteuid() != 0:
        pytest.skip("mounting a small filesystem needs root (CI runs as root)")
    path.mkdir(parents=True, exist_ok=True)
    subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path)], check=True)
    try:
        yield path
    finally:
        subprocess.run(["umount", "-l", str(path)], check=True)


def serve_pages(app) -> list[int]:
    client = app.test_client()
    return [
        client.get(url, environ_base=PHONE).status_code
        for url in ("/en/", "/en/guide/passport", "/en/search?q=nothing", "/en/help")
    ]


def make_app(device_dir, keypair, usage):
    from kiosk.device.web import create_app
    from tests.conftest import device_settings

    return create_app(device_settings(device_dir, Path(f"{keypair[0]}.pub")), usage=usage)


def test_read_only_database_pages_still_served_failure_reported(tmp_path, device_dir, keypair):
    with tmpfs(tmp_path / "ro", "2m") as folder:
        earlier = Usage(folder / "usage.db", start=False)
        earlier.count_view("x", "en", "phone")
        earlier.close()
        subprocess.run(["mount", "-o", "remount,ro", str(folder)], check=True)
        usage = Usage(folder / "usage.db", start=False)
        app = make_app(device_dir, keypair, usage)
        assert serve_pages(app) == [200, 200, 200, 200]
        assert usage.flush() is False
        health = usage.health()
        assert health["failures"] >= 1 and health["waiting"] > 0
        assert "read-only" in health["last_error"]
        subprocess.run(["mount", "-o", "remount,rw", str(folder)], check=True)
        assert usage.flush() is True  # counting resumes: nothing was lost while it waited
        assert only(read_counts(folder / "usage.db")["guide_day"], guide="passport")["views"] == 1
        assert usage.health()["last_error"] is None
        usage.close()


def test_full_disk_pages_still_served_failure_reported(tmp_path, device_dir, keypair):
    with tmpfs(tmp_path / "full", "1m") as folder:
        usage = Usage(folder / "usage.db", start=False)
        usage.count_view("x", "en", "phone")
        assert usage.flush()
        filler = folder / "filler"
        try:
            with filler.open("wb") as fh:
                while True:
                    fh.write(b"\0" * 4096)
                    fh.flush()
        except OSError:
            pass  # the disk is full now
        app = make_app(device_dir, keypair, usage)
        for visit in range(40):
            assert serve_pages(app) == [200, 200, 200, 200]
            for n in range(50):
                usage.count_search("en", "phone", False, f"term{n} word", visit=f"v{visit}")
        assert usage.flush() is False
        assert "full" in usage.health()["last_error"]
        filler.unlink()
        assert usage.flush() is True
        usage.close()


def test_corrupt_database_pages_still_served_failure_reported(tmp_path, device_dir, keypair):
    db = tmp_path / "usage.db"
    db.write_bytes(b"this is not a database at all" * 100)
    usage = Usage(db, start=False)
    app = make_app(device_dir, keypair, usage)
    assert serve_pages(app) == [200, 200, 200, 200]
    assert usage.flush() is False
    assert "damaged" in usage.health()["last_error"]
    db.unlink()  # the librarian (or a later tool) replaces it
    assert usage.flush() is True
    usage.close()


def test_stats_command_summarises_and_exports_csv(tmp_path):
    usage = Usage(tmp_path / "usage.db", start=False)
    for n in range(7):
        usage.count_view("passport", "ne", "phone")
        usage.count_search("es", "phone", False, "divorcio", visit=f"visit-{n}")
    usage.count_search("es", "phone", False, "rarísimo", visit="visit-0")
    usage.count_helpful("passport", "ne", "phone", True)
    usage.count_visit("screen")
    usage.close()
    env = {"KIOSK_DATA_DIR": str(tmp_path), "KIOSK_DEVICE_NAME": "kiosk-3"}
    out = run_kiosk("stats", "--days", "3", env=env)
    assert out.returncode == 0, out.stderr
    assert "top guides: passport 7" in out.stdout
    assert "'divorcio' [es] 7" in out.stdout
    assert "1 yes, 0 no (100% helpful)" in out.stdout
    csv = run_kiosk("stats", "--csv", env=env).stdout.splitlines()
    assert csv[0] == "table,period,guide,lang,channel,hour,term,measure,count"
    assert f"guide_day,{dt.date.today().isoformat()},passport,ne,phone,,,views,7" in csv
    snap = run_kiosk("stats", "--snapshots", "--days", "1", env=env)
    assert snap.returncode == 0 and (tmp_path / "outbox" / f"usage-{dt.date.today()}.json").exists()
    empty = run_kiosk("stats", env={"KIOSK_DATA_DIR": str(tmp_path / "nothing")})
    assert "Nothing has been counted yet" in empty.stdout


# Counts a page of each of 50 guides, flushes (52 rows in one transaction) and prints the total
# once acknowledged. Nothing else uses the file meanwhile: a flush that fails is a fault, so it
# says why and stops.
COUNTER = """
import sys
from kiosk.device.usage import Usage

usage, total = Usage(sys.argv[1], start=False), 0
while True:
    for n in range(50):
        usage.count_view(f"guide-{n}", "ne", "phone")
        usage.count_page("phone")
    if not usage.flush():
        sys.exit(f"a flush failed: {usage.last_error}")
    total += 50
    print(total, flush=True)
"""


def test_kill_9_mid_write_keeps_every_acknowledged_count_and_counting_goes_on(tmp_path):
    """A power cut or a crash while the counts are written: what was acknowledged is on disk,
    the file is sound, and the next start counts on in the same file."""
    import signal
    import sys

    db = tmp_path / "usage.db"
    on_disk = 0
    for _round in range(6):  # each start reopens the file the last one was killed writing
        child = subprocess.Popen(
            [sys.executable, "-c", COUNTER, str(db)], cwd=ROOT,
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )  # fmt: skip
        try:
            lines = [child.stdout.readline() for _ in range(20)]
        finally:
            child.send_signal(signal.SIGKILL)  # mid-write: it flushes all the time
            child.wait(timeout=30)
        lines += child.stdout.read().split()
        error = child.stderr.read()
        child.stdout.close()
        child.stderr.close()
        assert all(line.strip().isdigit() for line in lines), error
        acknowledged = [int(line) for line in lines]
        con = sqlite3.connect(db)
        try:
            assert con.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
            views, pages, hours = con.execute(
                "SELECT (SELECT coalesce(sum(views), 0) FROM guide_day), "
                "(SELECT coalesce(sum(pages), 0) FROM channel_day), "
                "(SELECT coalesce(sum(pages), 0) FROM hour_day)"
            ).fetchone()
        finally:
            con.close()
        # All acknowledged counts kept; at most the one flush that committed before it could
        # say so on top; and a flush is whole (as many pages as views, in both tables).
        assert on_disk + acknowledged[-1] <= views <= on_disk + acknowledged[-1] + 50
        assert pages == hours == views
        on_disk = views
    usage = Usage(db, start=False)
    usage.count_view("guide-0", "ne", "phone")
    assert usage.close() is True
    assert sum(row["views"] for row in read_counts(db)["guide_day"]) == on_disk + 1


def test_counts_waiting_for_the_disk_are_capped_and_what_is_dropped_is_counted(
    tmp_path, monkeypatch
):
    """A flood of distinct keys (pages of many guides and languages) cannot fill memory."""
    from kiosk.device import usage as usage_module

    monkeypatch.setattr(usage_module, "MAX_PENDING_KEYS", 3)
    counter = Usage(tmp_path / "usage.db", start=False)
    try:
        for gid in ("a", "b", "c", "d", "e"):
            counter.count_view(gid, "en", "phone")
        counter.count_view("a", "en", "phone")  # a key already waiting is still counted
        assert counter.dropped > 0
        counter.flush()
        counts = read_counts(tmp_path / "usage.db")
    finally:
        counter.close()
    views = {row["guide"]: row["views"] for row in counts["guide_day"]}
    assert views.get("a") == 2 and "e" not in views


# ---------------------------------------------------------------- issue 13: mutation survivors


def test_k_visits_a_failed_term_reaches_the_disk_at_k_distinct_visits_counted_once_each(
    tmp_path,
):
    """Straight through Usage and real SQLite: a term one visit typed never reaches the disk."""
    day = dt.datetime(2026, 3, 4, 10, 0)
    usage = Usage(tmp_path / "usage.db", start=False, now=lambda: day, k=3)
    try:
        for visit in ("a", "a", "a", "b", "b"):
            usage.count_search("en", "phone", False, "surname", visit)
        usage.count_search("en", "phone", True, "surname", "c")  # found: the term is not kept
        usage.count_search("en", "phone", False, "surname", None)  # no visit: not counted
        usage.count_search("en", "phone", False, "", "d")  # nothing typed: not counted
        assert usage.flush()
        counts = read_counts(tmp_path / "usage.db")
        assert counts["unmet_week"] == []
        assert counts["language_day"] == [
            {
                "day": "2026-03-04",
                "lang": "en",
                "channel": "phone",
                "choices": 0,
                "searches_found": 1,
                "searches_missed": 7,
            }
        ]
        usage.count_search("en", "phone", False, "surname", "c")  # the third visit: k
        usage.count_search("en", "phone", False, "surname", "a")  # again: still three visits
        assert usage.flush()
        assert [r["searches"] for r in read_counts(tmp_path / "usage.db")["unmet_week"]] == [3]
        usage.count_search("en", "phone", False, "surname", "e")
        assert usage.flush()
        assert [r["searches"] for r in read_counts(tmp_path / "usage.db")["unmet_week"]] == [4]
    finally:
        usage.close()


def test_counts_wait_while_the_database_cannot_be_opened_and_are_written_after(
    tmp_path,
):
    (tmp_path / "usage.db").mkdir()  # something in the way: SQLite cannot open the file
    usage = Usage(tmp_path / "usage.db", start=False)
    try:
        usage.count_view("passport", "ne", "phone")
        usage.count_view("passport", "ne", "phone")
        assert usage.flush() is False
        health = usage.health()
        assert health["failures"] == 1 and health["waiting"] == 2 and health["dropped"] == 0
        assert "cannot be written" in health["last_error"]
        (tmp_path / "usage.db").rmdir()
        usage.count_view("passport", "ne", "phone")
        assert usage.flush() is True
        assert usage.health() == {"failures": 1, "dropped": 0, "waiting": 0, "last_error": None}
        rows = read_counts(tmp_path / "usage.db")["guide_day"]
        assert [r["views"] for r in rows] == [3]
    finally:
        usage.close()


def test_a_damaged_database_is_described_and_nothing_counted_is_lost(tmp_path):
    (tmp_path / "usage.db").write_bytes(b"this is not a database file at all " * 200)
    usage = Usage(tmp_path / "usage.db", start=False)
    try:
        usage.count_page("phone")
        assert usage.flush() is False
        assert "damaged" in usage.health()["last_error"] and usage.health()["waiting"] == 2
    finally:
        usage.close()


def test_close_writes_what_the_running_thread_has_not(tmp_path):
    usage = Usage(tmp_path / "usage.db", flush_seconds=3600)
    usage.count_visit("screen")
    assert usage.close() is True
    assert not usage._thread.is_alive()
    rows = read_counts(tmp_path / "usage.db")["channel_day"]
    assert [(r["channel"], r["visits"]) for r in rows] == [("screen", 1)]


def test_snapshots_default_to_today(tmp_path):
    usage = Usage(tmp_path / "usage.db", start=False)
    for _ in range(5):
        usage.count_view("passport", "ne", "phone")
    usage.close()
    paths = write_snapshots(tmp_path / "usage.db", tmp_path / "outbox", "kiosk-7", 5)
    assert paths[-1].name == f"usage-{dt.date.today().isoformat()}.json"
    assert write_snapshots(tmp_path / "none.db", tmp_path / "outbox", "kiosk-7", 5) == []


def test_every_counter_lands_in_its_own_cell(tmp_path):
    now = dt.datetime(2026, 3, 4, 15, 30)
    usage = Usage(tmp_path / "usage.db", start=False, now=lambda: now)
    try:
        usage.count_page("phone")
        usage.count_visit("phone")
        usage.count_view("passport", "ne", "phone")
        usage.count_listen("passport", "ne", "phone", finished=False)
        usage.count_listen("passport", "ne", "phone", finished=True)
        usage.count_helpful("passport", "ne", "phone", helpful=True)
        usage.count_helpful("passport", "ne", "phone", helpful=False)
        usage.count_helpful("passport", "ne", "phone", helpful=False)
        usage.count_language("ne", "screen")
        assert usage.health()["waiting"] == 10  # a page counts by channel and by hour
        assert usage.flush() and usage.health()["waiting"] == 0
        counts = read_counts(tmp_path / "usage.db")
    finally:
        usage.close()
    day = "2026-03-04"
    assert counts["channel_day"] == [{"day": day, "channel": "phone", "pages": 1, "visits": 1}]
    assert counts["hour_day"] == [{"day": day, "hour": 15, "pages": 1}]
    guide = counts["guide_day"][0]
    assert (guide["views"], guide["listens_started"], guide["listens_finished"]) == (1, 1, 1)
    assert (guide["helpful_yes"], guide["helpful_no"]) == (1, 2)
    assert [(r["lang"], r["channel"], r["choices"]) for r in counts["language_day"]] == [
        ("ne", "screen", 1)
    ]


def test_a_quiet_kiosk_still_writes_its_snapshots(tmp_path):
    """A flush with nothing waiting has written everything there is: the background thread
    goes on to the snapshot that headquarters' figures come from (a kiosk nobody visited for
    a while must still send its snapshot home)."""
    import threading

    written = threading.Event()
    usage = Usage(tmp_path / "usage.db", flush_seconds=0.05, snapshots=written.set,
                  snapshot_seconds=0)  # fmt: skip
    try:
        assert usage.flush() is True  # nothing counted yet: nothing failed
        assert written.wait(5), "no snapshot was written while nothing was counted"
    finally:
        usage.close()
