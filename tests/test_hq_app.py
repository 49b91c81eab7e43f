"""Headquarters' app: staff accounts and roles, sign-in, the fleet page and one kiosk's page.

Kiosks' heartbeats reach hq.db the way they do in the field: written into inbox/<device>/ (or
a USB stick's inbox) and taken in by ``ingest``. The fleet's rules are checked at a chosen
"now" where they depend on time.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import stat

import pytest
from click.testing import CliRunner

from kiosk.cli import main
from kiosk.device.admin import MAX_FAILURES_PER_HOUR
from kiosk.errors import KioskError
from kiosk.hq import add_device, ingest
from kiosk.hq.accounts import Accounts
from kiosk.hq.fleet import fleet, history, releases_installed
from kiosk.hq.web import create_hq_app

PASSWORD = "a long enough password"
GB = 1_000_000_000


def beat(day: str, release: int, free: float = 6 * GB, total: float = 8 * GB, **more) -> dict:
    return {"format": 1, "day": day, "release": release, "disk_free": free, "disk_total": total,
            "temperature": 55.0, "uptime": 3600, "errors": {"failures": 0},
            "last_sync": "fetched", "last_sync_ok": True, **more}  # fmt: skip


def send(root, device: str, data: dict, inbox=None) -> dict:
    """A kiosk's heartbeat arrives (over SSH, or on a stick) and is taken in."""
    folder = (inbox or root / "inbox") / device
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "heartbeat.json").write_text(json.dumps(data))
    return ingest(root, inbox)


def send_day(root, device: str, day: str, views: int, visits: int | None = None, *,
             lang: str = "ne", visit_channel: str = "phone") -> None:  # fmt: skip
    """A kiosk's day as its snapshot (written at its own k of 2) in its inbox: one guide cell
    of ``views`` and one channel cell of ``visits`` (the views, unless given)."""
    from kiosk.device.usage import snapshot, write_snapshot

    visits = views if visits is None else visits
    counts = {"guide_day": [{"day": day, "guide": "passport", "lang": lang, "channel": "phone",
                             "views": views, "listens_started": 0, "listens_finished": 0,
                             "helpful_yes": 0, "helpful_no": 0}],
              "channel_day": [{"day": day, "channel": visit_channel, "visits": visits,
                               "pages": views}]}  # fmt: skip
    write_snapshot(root / "inbox" / device, snapshot(counts, day, device, 2))


def publish_versions(root, fixture_release, *versions: int, candidates=()) -> None:
    """Published releases as headquarters' root holds them (the fixture, signed, linked),
    LATEST naming the highest; ``candidates`` are built above it, not published."""
    for version in (*versions, *candidates):
        folder = root / "releases" / "stable" / str(version)
        folder.parent.mkdir(parents=True, exist_ok=True)
        folder.symlink_to(fixture_release, target_is_directory=True)
    (root / "releases" / "stable" / "LATEST").write_text(f"{max(versions)}\n")


@pytest.fixture
def root(tmp_path):
    root = tmp_path / "hq"
    accounts = Accounts(root)
    accounts.add("vera", "viewer", PASSWORD)
    accounts.add("paul", "publisher", PASSWORD)
    accounts.add("ada", "admin", PASSWORD)
    return root


def token_of(html: str) -> str:
    return re.search(r'name="csrf" value="([^"]+)"', html).group(1)


def signed_in(root, name: str):
    client = create_hq_app(root).test_client()
    token = token_of(client.get("/").get_data(as_text=True))
    answer = client.post("/sign-in", data={"csrf": token, "user": name, "password": PASSWORD})
    assert answer.status_code == 303 and answer.headers["Location"] == "/fleet", answer.status
    return client


# ---------------------------------------------------------------- accounts


@pytest.mark.parametrize(
    "name, role, password, says",
    [
        ("ok-name", "viewer", "too short", "at least 12"),
        ("Bad Name", "viewer", PASSWORD, "An account name uses"),
        ("../x", "viewer", PASSWORD, "An account name uses"),
        ("x" * 41, "viewer", PASSWORD, "An account name uses"),
        ("ok-name", "root", PASSWORD, "A role is one of"),
        ("vera", "viewer", PASSWORD, "already an account called vera"),
        ("ok-name", "viewer", "twelve chars\0and a NUL", "NUL"),
    ],
)
def test_bad_accounts_are_refused_clearly(root, name, role, password, says):
    with pytest.raises(KioskError, match=says):
        Accounts(root).add(name, role, password)
    assert [a["name"] for a in Accounts(root).accounts()] == ["ada", "paul", "vera"]


def test_passwords_are_argon2id_hashes_in_a_file_only_headquarters_reads(root):
    db = root / "staff.db"
    assert stat.S_IMODE(os.stat(db).st_mode) == 0o600
    stored = Accounts(root).stored_hash("vera")
    assert stored.startswith("$argon2id$") and PASSWORD not in db.read_bytes().decode("latin-1")


def test_with_no_account_the_sign_in_page_says_how_to_make_one(tmp_path):
    page = create_hq_app(tmp_path / "hq").test_client().get("/").get_data(as_text=True)
    assert "There are no accounts yet" in page and "kiosk hq user add NAME --role admin" in page


def test_accounts_from_the_command_line(tmp_path):
    root = str(tmp_path / "hq")
    runner = CliRunner()
    made = runner.invoke(main, ["hq", "user", "add", "mira", "--role", "publisher", "--root",
                                root], input=f"{PASSWORD}\n{PASSWORD}\n")  # fmt: skip
    assert made.exit_code == 0, made.output
    short = runner.invoke(main, ["hq", "user", "add", "lee", "--role", "viewer", "--root", root],
                          input="short\nshort\n")  # fmt: skip
    assert short.exit_code != 0 and "at least 12" in short.output
    changed = runner.invoke(main, ["hq", "user", "passwd", "mira", "--root", root],
                            input="another long password\nanother long password\n")  # fmt: skip
    assert changed.exit_code == 0, changed.output
    listed = runner.invoke(main, ["hq", "user", "list", "--root", root])
    assert re.search(r"^mira\s+publisher", listed.output, re.M), listed.output
    assert "lee" not in listed.output
    accounts = Accounts(root)
    assert accounts.sign_in("mira", "another long password") == "publisher"
    assert accounts.sign_in("mira", PASSWORD) is None


# ---------------------------------------------------------------- signing in


def test_wrong_name_and_wrong_password_look_the_same_and_sign_in_renews_the_id(root):
    client = create_hq_app(root).test_client()
    token = token_of(client.get("/").get_data(as_text=True))
    planted = client.get_cookie("hq").value
    answers = [
        client.post("/sign-in", data={"csrf": token, "user": user, "password": password})
        for user, password in (("vera", "wrong password!"), ("nobody", PASSWORD))
    ]
    assert {a.headers["Location"] for a in answers} == {"/?m=wrong"}
    assert client.get("/fleet").status_code == 303  # still not signed in
    right = client.post("/sign-in", data={"csrf": token, "user": "vera", "password": PASSWORD})
    assert right.status_code == 303 and client.get_cookie("hq").value != planted
    assert client.get("/fleet").status_code == 200


def test_a_hundred_wrong_tries_lock_that_name_only(root):
    accounts = Accounts(root)
    for _ in range(MAX_FAILURES_PER_HOUR):
        assert accounts.sign_in("vera", "not her password") is None
    client = create_hq_app(root, accounts).test_client()
    token = token_of(client.get("/").get_data(as_text=True))
    locked = client.post("/sign-in", data={"csrf": token, "user": "vera", "password": PASSWORD})
    assert locked.headers["Location"] == "/?m=throttled"
    assert "Too many wrong tries" in client.get("/?m=throttled").get_data(as_text=True)
    other = client.post("/sign-in", data={"csrf": token, "user": "paul", "password": PASSWORD})
    assert other.headers["Location"] == "/fleet"


def test_sign_out_ends_the_session_and_posts_need_the_token(root):
    client = signed_in(root, "vera")
    page = client.get("/fleet").get_data(as_text=True)
    assert client.post("/sign-out", data={"csrf": "forged"}).status_code == 403
    token = {"csrf": token_of(page)}
    foreign = {"Origin": "http://elsewhere.example"}
    assert client.post("/sign-out", data=token, headers=foreign).status_code == 403
    assert client.post("/sign-out", data=token).status_code == 303
    assert client.get("/fleet").headers["Location"] == "/?m=expired"


def test_roles_allow_what_they_say_and_a_change_counts_at_once(root):
    viewer, admin = signed_in(root, "vera"), signed_in(root, "ada")
    refused = viewer.get("/audit")
    assert refused.status_code == 403
    assert 'needs the role "admin"' in refused.get_data(as_text=True)
    assert "Accounts and audit log" not in viewer.get("/fleet").get_data(as_text=True)
    log = admin.get("/audit").get_data(as_text=True)
    assert re.search(r"<td>vera</td><td>sign in</td>", log) and "add account" in log
    Accounts(root).set_role("vera", "admin", by="ada")
    assert viewer.get("/audit").status_code == 200
    Accounts(root).remove("vera", by="ada")
    assert viewer.get("/fleet").status_code == 303  # a removed account is signed out


def test_every_page_is_private_and_unframeable(root):
    client = signed_in(root, "ada")
    for path in ("/", "/fleet", "/audit"):
        answer = client.get(path)
        assert answer.headers["Cache-Control"] == "no-store"
        assert answer.headers["X-Frame-Options"] == "DENY"
        assert "frame-ancestors 'none'" in answer.headers["Content-Security-Policy"]


# ---------------------------------------------------------------- the fleet


def test_each_rule_colours_a_kiosk_and_says_why(root, fixture_release):
    publish_versions(root, fixture_release, 10, 11, 12, candidates=(13,))
    today = dt.date.today().isoformat()
    add_device(root, "well", country="NP", place="Pokhara library")
    add_device(root, "never", country="MD", place="Cahul centre")
    send(root, "well", beat(today, 12))
    send(root, "full", beat(today, 12, free=0.5 * GB))
    send(root, "behind", beat(today, 10))
    send(root, "one-behind", beat(today, 11))
    send(root, "refused", beat(today, 12, last_sync="release 13 refused: bad signature",
                               last_sync_ok=False))  # fmt: skip
    send(root, "failed", beat(today, 12, last_sync="no connection", last_sync_ok=False))
    send(root, "hot", beat(today, 12, temperature=83.5, errors={"failures": 2}))
    now = dt.datetime.now(dt.UTC)
    states = {k.name: k for k in fleet(root, now)}
    assert {n: (k.colour, k.reasons) for n, k in states.items()} == {
        "well": ("green", []),
        "never": ("red", ["never heard from"]),
        "full": ("red", ["storage 94% full"]),
        "behind": ("red", ["2 releases behind"]),
        "one-behind": ("amber", ["one release behind"]),
        "refused": ("red", ["refused a release"]),
        "failed": ("amber", ["last update failed"]),
        "hot": ("amber", ["2 counting errors", "hot (84 °C)"]),
    }
    assert [k.colour for k in fleet(root, now)] == sorted(
        (k.colour for k in states.values()), key=("red", "amber", "green").index
    )
    later = {k.name: k for k in fleet(root, now + dt.timedelta(days=2))}
    assert later["well"].colour == "amber" and later["well"].reasons == ["silent for 2 days"]
    later = {k.name: k for k in fleet(root, now + dt.timedelta(days=4))}
    assert later["well"].reasons == ["silent for 4 days"] and later["well"].colour == "red"


def test_the_fleet_page_filters_by_country_and_status_and_sorts(root, fixture_release):
    publish_versions(root, fixture_release, 10)
    today = dt.date.today().isoformat()
    for name, country, free in (("np-1", "NP", 6), ("np-2", "NP", 0.2), ("mx-1", "MX", 6)):
        add_device(root, name, country=country, place=f"{name} library")
        send(root, name, beat(today, 10, free=free * GB))
    client = signed_in(root, "vera")
    page = client.get("/fleet").get_data(as_text=True)
    assert re.findall(r'<a href="/kiosk/([\w-]+)">', page) == ["np-2", "mx-1", "np-1"]
    assert "1 need action now" in page and "2 well" in page
    page = client.get("/fleet?country=NP").get_data(as_text=True)
    assert re.findall(r'<a href="/kiosk/([\w-]+)">', page) == ["np-2", "np-1"]
    assert "2 of 3 kiosks in Nepal" in page  # the country in words, from the catalog
    page = client.get("/fleet?country=NP&colour=green").get_data(as_text=True)
    assert re.findall(r'<a href="/kiosk/([\w-]+)">', page) == ["np-1"]
    page = client.get("/fleet?sort=name").get_data(as_text=True)
    assert re.findall(r'<a href="/kiosk/([\w-]+)">', page) == ["mx-1", "np-1", "np-2"]
    page = client.get("/fleet?country=<script>&sort=x").get_data(as_text=True)
    assert "<script>" not in page and "0 of 3 kiosks" in page


def test_a_kiosks_page_shows_its_history_and_releases_and_the_stick(
    root, fixture_release, tmp_path
):
    publish_versions(root, fixture_release, 10, 11)
    add_device(root, "np-1", country="NP", place="Bhaktapur library")
    send(root, "np-1", beat("2026-11-01", 10, free=6 * GB))
    send(root, "np-1", beat("2026-11-02", 10, free=5 * GB, temperature=60.0))
    stick = tmp_path / "stick" / "inbox"
    send(root, "np-1", beat("2026-11-03", 11, free=4 * GB), inbox=stick)
    days = history(root, "np-1")
    assert [(d["day"], d["release"], d["via"]) for d in days] == [
        ("2026-11-01", 10, "ssh"), ("2026-11-02", 10, "ssh"), ("2026-11-03", 11, "stick"),
    ]  # fmt: skip
    assert releases_installed(days) == [("2026-11-01", 10), ("2026-11-03", 11)]
    page = signed_in(root, "vera").get("/kiosk/np-1").get_data(as_text=True)
    assert "Bhaktapur library" in page
    chart = re.search(r'<svg class="chart"[^>]*aria-label="Storage used: ([^"]+)"', page)
    assert chart and chart.group(1) == (
        "from 2026-11-01 to 2026-11-03, lowest 25 %, highest 50 %, last 50 %."
    )
    assert "<td>2026-11-03</td><td>11</td>" in page
    assert "<td>2026-11-03</td><td>USB stick</td>" in page
    client = signed_in(root, "vera")
    assert client.get("/kiosk/nobody").status_code == 404
    assert client.get("/kiosk/..%2Fstaff.db").status_code == 404


def test_a_heartbeat_left_in_the_inbox_does_not_keep_a_silent_kiosk_alive(root):
    """Ingest runs every hour; the kiosk's last heartbeat.json stays in its inbox folder."""
    day = dt.datetime(2026, 11, 1, 12, tzinfo=dt.UTC)
    send_at = root / "inbox" / "quiet"
    send_at.mkdir(parents=True)
    (send_at / "heartbeat.json").write_text(json.dumps(beat("2026-11-01", 10)))
    assert ingest(root, now=day)["heartbeats"] == 1
    assert ingest(root, now=day + dt.timedelta(days=5))["heartbeats"] == 0
    (state,) = fleet(root, day + dt.timedelta(days=5))
    assert state.received == day and state.reasons == ["silent for 5 days"]


def test_a_stick_with_last_weeks_heartbeat_does_not_hide_this_weeks(root, tmp_path):
    send(root, "np-1", beat("2026-11-20", 12))
    send(root, "np-1", beat("2026-11-13", 11), inbox=tmp_path / "stick" / "inbox")
    (state,) = fleet(root)
    assert state.release == 12
    assert [d["day"] for d in history(root, "np-1")] == ["2026-11-13", "2026-11-20"]


def test_the_reach_page_and_its_csv_show_the_same_exact_figures(root, tmp_path):
    import csv
    import io

    from kiosk.hq.totals import Filters, reach

    add_device(root, "np-1", country="NP")
    add_device(root, "mx-1", country="MX")
    for device, day, views in (("np-1", "2026-11-02", 9), ("np-1", "2026-12-01", 6),
                               ("mx-1", "2026-11-02", 4), ("mx-1", "2026-12-03", 12)):  # fmt: skip
        send_day(root, device, day, views, lang="es", visit_channel="screen")
    ingest(root)
    client = signed_in(root, "vera")
    page = client.get("/reach").get_data(as_text=True)
    # mx-1's 4 on 2026-11-02 is below headquarters' k of 5: left out everywhere.
    assert "<strong>27</strong> visits" in page and "<strong>27</strong> guide views" in page
    rows = re.findall(r'<tr><th scope="row">(2026-\d\d)</th><td class="n">(\d+)</td>', page)
    assert rows == [("2026-11", "9"), ("2026-12", "18")]
    answer = client.get("/reach/by_country.csv?from=2026-12&country=")
    assert answer.mimetype == "text/csv"
    assert list(csv.reader(io.StringIO(answer.get_data(as_text=True)))) == [
        ["Country", "Visits", "Guide views"], ["MX", "12", "12"], ["NP", "6", "6"],
    ]  # fmt: skip
    expected = reach(root, Filters(country="NP"))
    page = client.get("/reach?country=NP&from=not-a-date&kiosk=../x").get_data(as_text=True)
    assert f"<strong>{expected.views}</strong> guide views" in page and expected.views == 15
    assert client.get("/reach/secrets.csv").status_code == 404


def test_the_content_page_shows_stale_and_missing_and_the_overdue_help_line_first(root, tmp_path):
    from tests.conftest import copy_content

    assert "kiosk hq serve --content DIR" in signed_in(root, "vera").get("/content").get_data(
        as_text=True
    )
    source = copy_content(tmp_path / "content")
    en = source / "guides" / "passport" / "en.md"
    en.write_text(en.read_text().replace("Make two copies", "Make three copies"))
    (source / "guides" / "help-abroad" / "ro.md").unlink()
    client = create_hq_app(root, content=source).test_client()
    token = token_of(client.get("/").get_data(as_text=True))
    client.post("/sign-in", data={"csrf": token, "user": "vera", "password": PASSWORD})
    page = client.get("/content").get_data(as_text=True)
    rows = dict(re.findall(r'<tr><th scope="row">([^<]+)</th>(.*?)</tr>', page, re.S))
    cells = {title: re.findall(r'class="state-(\w+)"', html) for title, html in rows.items()}
    assert ["reference", "stale", "stale", "stale"] in cells.values(), cells
    assert any(c[-1] == "missing" for c in cells.values()), cells
    assert "changed since: copies" in page
    lines = re.findall(r'<tr( class="red")?><th scope="row">([^<]+)', page.split("Help lines")[-1])
    assert lines[0] == (' class="red"', "Example: Legal aid (not checked for a long time) ")
    assert sum(1 for red, _ in lines if red) == 1


def unmet(root, device: str, week: str, lang: str, term: str, searches: int) -> None:
    """A kiosk's snapshot with one unmet search term, through the inbox and ingest."""
    from kiosk.device.usage import snapshot, write_snapshot

    monday = dt.date.fromisocalendar(int(week[:4]), int(week[6:]), 1).isoformat()
    counts = {"unmet_week": [{"week": week, "lang": lang, "term": term, "searches": searches}]}
    write_snapshot(root / "inbox" / device, snapshot(counts, monday, device, 2))
    ingest(root)


def test_unmet_needs_merge_spellings_count_kiosks_and_weeks_and_keep_marks(
    root, fixture_release, tmp_path
):
    publish_versions(root, fixture_release, 10)
    unmet(root, "np-1", "2026-W45", "es", "Visa", 6)
    unmet(root, "np-2", "2026-W46", "es", "visa ", 5)
    unmet(root, "np-3", "2026-W46", "es", "vísa", 7)
    unmet(root, "np-3", "2026-W47", "es", "pasaje", 3)  # below headquarters' k
    unmet(root, "np-4", "2026-W47", "ne", "भिसा", 9)
    viewer, publisher = signed_in(root, "vera"), signed_in(root, "paul")
    page = viewer.get("/needs").get_data(as_text=True)
    cell = r'<td class="n">(\d+)</td>'
    rows = re.findall(r'<th scope="row" lang="(\w+)" dir="auto">([^<]+)</th><td>[^<]*</td>'
                      + cell * 3, page)  # fmt: skip
    assert rows == [("es", "vísa", "18", "3", "2"), ("ne", "भिसा", "9", "1", "1")]
    assert "pasaje" not in page
    assert 'action="/needs/mark' not in page  # a viewer sees the marks, cannot make them
    token = token_of(publisher.get("/needs").get_data(as_text=True))
    bad = publisher.post("/needs/mark", data={"csrf": token, "lang": "es", "term": "visa",
                                              "mark": "answered", "guide": "no-such"})  # fmt: skip
    assert bad.status_code == 400 and "Choose the guide" in bad.get_data(as_text=True)
    answer = {"csrf": token, "lang": "es", "term": "visa", "mark": "answered", "guide": "passport"}
    made = publisher.post("/needs/mark", data=answer)
    assert made.status_code == 303
    page = viewer.get("/needs?lang=es").get_data(as_text=True)
    assert "<strong>Answered by a guide</strong>:" in page and "paul," in page
    assert viewer.post("/needs/mark", data={"csrf": token_of(page), "lang": "es", "term": "visa",
                                            "mark": ""}).status_code == 403  # fmt: skip
    invented = publisher.post("/needs/mark", data={"csrf": token, "lang": "es", "term": "x y",
                                                   "mark": "planned"})  # fmt: skip
    assert invented.status_code == 400  # only a need in the list can be marked
    log = signed_in(root, "ada").get("/audit").get_data(as_text=True)
    assert "<td>paul</td><td>mark need</td><td>es: visa → answered (passport)</td>" in log
    # The donor report carries the needs and headquarters' word on them.
    import subprocess

    pdf = tmp_path / "report.pdf"
    pdf.write_bytes(viewer.get("/reach/report.pdf").data)
    text = subprocess.run(["pdftotext", str(pdf), "-"], capture_output=True, text=True,
                          check=True).stdout  # fmt: skip
    assert "What people looked for and did not find" in text
    assert "Answered by a guide" in text and "not decided yet" in text


def test_the_donor_report_is_a_pdf_with_the_pages_own_figures(root, tmp_path):
    import subprocess

    add_device(root, "np-1", country="NP")
    add_device(root, "mx-1", country="MX")
    for device, day, views in (("np-1", "2026-11-02", 1234), ("np-1", "2026-11-09", 3),
                               ("mx-1", "2026-11-02", 77)):  # fmt: skip
        send_day(root, device, day, views)
    ingest(root)
    client = signed_in(root, "vera")
    answer = client.get("/reach/report.pdf?country=NP&from=2026-11-01&to=2026-11-30")
    assert answer.status_code == 200 and answer.mimetype == "application/pdf"
    pdf = tmp_path / "report.pdf"
    pdf.write_bytes(answer.data)
    text = subprocess.run(["pdftotext", "-layout", str(pdf), "-"], capture_output=True,
                          text=True, check=True).stdout  # fmt: skip
    assert "Reach report" in text and "2026-11 to 2026-11 · NP" in text
    numbers = re.search(r"(\d[\d,]*)\s+(\d[\d,]*)\s+(\d[\d,]*)\s*\n\s*kiosks active\s+visits\s+"
                        r"guide views", text)  # fmt: skip
    assert numbers and numbers.groups() == ("1", "1,234", "1,234"), text[:800]
    assert "77" not in text  # Mexico's figures are not Nepal's
    assert " 3\n" not in text and "1,237" not in text  # the 3 is below k: left out
    log = signed_in(root, "ada").get("/audit").get_data(as_text=True)
    assert "<td>vera</td><td>donor report</td>" in log


def test_the_fleet_comes_a_page_at_a_time(root, monkeypatch):
    from kiosk.hq.web import fleet as fleet_page

    monkeypatch.setattr(fleet_page, "PER_PAGE", 2)
    for name in ("a-1", "b-1", "c-1", "d-1", "e-1"):
        add_device(root, name, country="NP")
    client = signed_in(root, "vera")
    seen = []
    for page in (1, 2, 3, 4, "x"):
        html = client.get(f"/fleet?sort=name&page={page}").get_data(as_text=True)
        seen.append(re.findall(r'<a href="/kiosk/([\w-]+)">', html))
    assert seen == [["a-1", "b-1"], ["c-1", "d-1"], ["e-1"], ["e-1"], ["a-1", "b-1"]]
    assert "5 of 5 kiosks, page 2 of 3" in client.get("/fleet?page=2").get_data(as_text=True)
