"""The librarian's page: sign-in, throttle, sessions, CSRF, headers, hostile input, actions."""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import shutil
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from kiosk.cli import main
from kiosk.device.admin import Auth
from kiosk.device.web import create_app
from kiosk.device.web.state import kiosk_of
from tests.conftest import device_settings

SCREEN = {"REMOTE_ADDR": "127.0.0.1"}
PHONE = {"REMOTE_ADDR": "10.42.0.23"}
PASSWORD = "correct horse battery"


@pytest.fixture
def device(tmp_path, fixture_release, keypair):
    from kiosk.device.install import ReleaseStore

    data = tmp_path / "device"
    ReleaseStore(data).install(fixture_release, [keypair[1]])
    Auth(data).set_password(PASSWORD)
    return data


def new_app(device, keypair, usage, **extra):
    return create_app(device_settings(device, Path(f"{keypair[0]}.pub"), **extra), usage=usage)


@pytest.fixture
def admin_app(device, keypair, usage):
    return new_app(device, keypair, usage)


def csrf_of(client, env=SCREEN) -> str:
    page = client.get("/admin/", environ_base=env).get_data(as_text=True)
    return re.search(r'name="csrf" value="([^"]+)"', page).group(1)


def sign_in(client, env=SCREEN, password=PASSWORD, user="librarian"):
    token = csrf_of(client, env)
    return client.post(
        "/admin/sign-in",
        data={"csrf": token, "user": user, "password": password},
        environ_base=env,
    )


def signed_in(admin_app, env=SCREEN):
    client = admin_app.test_client()
    assert sign_in(client, env).status_code == 303
    page = client.get("/admin/dashboard", environ_base=env)
    assert page.status_code == 200
    token = re.search(r'name="csrf" value="([^"]+)"', page.get_data(as_text=True)).group(1)
    return client, token


def test_set_password_needs_twelve_characters_and_stores_only_an_argon2id_hash(tmp_path):
    runner = CliRunner()
    short = runner.invoke(main, ["--data-dir", str(tmp_path), "admin", "set-password"],
                          input="short\nshort\n")  # fmt: skip
    assert short.exit_code == 1 and "at least 12 characters" in short.output
    ok = runner.invoke(main, ["--data-dir", str(tmp_path), "admin", "set-password"],
                       input=f"{PASSWORD}\n{PASSWORD}\n")  # fmt: skip
    assert ok.exit_code == 0, ok.output
    stored = (tmp_path / "admin.json").read_text()
    assert PASSWORD not in stored and json.loads(stored)["hash"].startswith("$argon2id$")
    assert (tmp_path / "admin.json").stat().st_mode & 0o077 == 0


def test_no_password_says_how_to_set_one(tmp_path, fixture_release, keypair, usage):
    from kiosk.device.install import ReleaseStore

    ReleaseStore(tmp_path / "d").install(fixture_release, [keypair[1]])
    page = new_app(tmp_path / "d", keypair, usage).test_client().get("/admin/", environ_base=SCREEN)
    assert "kiosk admin set-password" in page.get_data(as_text=True)
    client = new_app(tmp_path / "d", keypair, usage).test_client()
    assert sign_in(client).headers["Location"] == "/admin/?m=wrong"  # no password opens it
    assert client.get("/admin/dashboard", environ_base=SCREEN).status_code == 303


def test_sign_in_works_and_wrong_name_or_password_look_the_same(admin_app):
    client = admin_app.test_client()
    wrong_password = sign_in(client, password="not the password")
    wrong_user = sign_in(client, user="someone")
    assert wrong_password.headers["Location"] == wrong_user.headers["Location"] == "/admin/?m=wrong"
    assert sign_in(client).headers["Location"] == "/admin/"
    assert "admin.sign_out" not in client.get("/admin/", environ_base=SCREEN).get_data(as_text=True)
    assert 'action="/admin/sign-out"' in client.get("/admin/", environ_base=SCREEN).get_data(
        as_text=True
    )


def test_101_wrong_passwords_are_refused_the_screen_still_gets_in_and_it_survives_restart(
    device, keypair, usage
):
    app = new_app(device, keypair, usage, admin_over_hotspot=True)
    attacker = app.test_client()
    for _ in range(100):
        assert sign_in(attacker, PHONE, password="guess").headers["Location"].endswith("m=wrong")
    refused = sign_in(attacker, PHONE, password="guess")
    assert refused.headers["Location"].endswith("m=throttled")
    right = sign_in(attacker, PHONE)  # even the right password: the hour is used up
    assert right.headers["Location"].endswith("m=throttled")
    assert sign_in(app.test_client(), SCREEN).headers["Location"] == "/admin/"
    restarted = new_app(device, keypair, usage, admin_over_hotspot=True)
    assert sign_in(restarted.test_client(), PHONE).headers["Location"].endswith("m=throttled")
    assert Auth(device, clock=lambda: time.time() + 61 * 60).failures("hotspot") == 0


def test_session_id_is_renewed_at_sign_in(admin_app):
    client = admin_app.test_client()
    before = client.get("/admin/", environ_base=SCREEN).headers["Set-Cookie"]
    planted = re.match(r"admin=([^;]+)", before).group(1)
    response = sign_in(client)
    after = re.match(r"admin=([^;]+)", response.headers["Set-Cookie"]).group(1)
    assert after != planted
    fixed = admin_app.test_client()
    fixed.set_cookie("admin", planted, path="/admin")
    assert fixed.get("/admin/dashboard", environ_base=SCREEN).status_code == 303


def test_sign_out_ends_the_session_for_good(admin_app):
    client, token = signed_in(admin_app)
    cookie = client.get_cookie("admin", path="/admin").value
    assert (
        client.post("/admin/sign-out", data={"csrf": token}, environ_base=SCREEN).status_code == 303
    )
    replay = admin_app.test_client()
    replay.set_cookie("admin", cookie, path="/admin")
    assert replay.get("/admin/dashboard", environ_base=SCREEN).status_code == 303
    assert (
        replay.post("/admin/notices", data={"csrf": token}, environ_base=SCREEN).status_code == 403
    )


def test_idle_session_expires(admin_app):
    client, _ = signed_in(admin_app)
    sessions = kiosk_of(admin_app).admin_sessions
    real = sessions.clock
    sessions.clock = lambda: real() + 16 * 60
    response = client.get("/admin/dashboard", environ_base=SCREEN)
    assert response.status_code == 303 and response.headers["Location"].endswith("m=expired")


def test_csrf_missing_wrong_other_session_and_foreign_origin_are_refused(admin_app):
    client, token = signed_in(admin_app)
    _other, other_token = signed_in(admin_app)
    notice = {"text": "Hello", "lang": "en", "start": "2026-01-01", "end": "2030-01-01"}
    cases = [
        ({**notice}, {}),
        ({**notice, "csrf": "wrong"}, {}),
        ({**notice, "csrf": other_token}, {}),
        ({**notice, "csrf": token}, {"Origin": "http://evil.example"}),
    ]
    for data, headers in cases:
        response = client.post("/admin/notices", data=data, headers=headers, environ_base=SCREEN)
        assert response.status_code == 403, (data, headers)
    ok = client.post("/admin/notices", data={**notice, "csrf": token},
                     headers={"Origin": "http://localhost"}, environ_base=SCREEN)  # fmt: skip
    assert ok.status_code == 303
    assert len(Auth(kiosk_of(admin_app).settings.data_dir).notices()) == 1


def test_every_admin_response_carries_the_protective_headers(admin_app):
    client, token = signed_in(admin_app)
    responses = [
        client.get("/admin/", environ_base=SCREEN),
        client.get("/admin/dashboard?period=week", environ_base=SCREEN),
        client.get("/admin/export.csv", environ_base=SCREEN),
        client.post("/admin/notices", data={"csrf": token, "text": ""}, environ_base=SCREEN),
        client.post("/admin/notices", data={"csrf": "x"}, environ_base=SCREEN),
        sign_in(admin_app.test_client()),
    ]
    for response in responses:
        csp = response.headers["Content-Security-Policy"]
        assert "default-src 'self'" in csp and "frame-ancestors 'none'" in csp
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        assert response.headers["Referrer-Policy"] == "no-referrer"
        assert response.headers["Cache-Control"] == "no-store"
        for cookie in response.headers.getlist("Set-Cookie"):
            if cookie.startswith("admin="):
                assert "HttpOnly" in cookie and "SameSite=Strict" in cookie


def test_admin_is_a_404_from_the_hotspot_unless_allowed(admin_app, device, keypair, usage):
    client = admin_app.test_client()
    for method, url in (("GET", "/admin/"), ("GET", "/admin/dashboard"), ("POST", "/admin/sign-in"),
                        ("GET", "/admin/export.csv"), ("POST", "/admin/settings")):  # fmt: skip
        assert client.open(url, method=method, environ_base=PHONE).status_code == 404, url
    allowed = new_app(device, keypair, usage, admin_over_hotspot=True)
    assert allowed.test_client().get("/admin/", environ_base=PHONE).status_code == 200


@pytest.mark.parametrize(
    "text",
    [
        "<script>alert(1)</script>",
        '"><img src=x onerror=alert(1)>',
        "سيأتي أشخاص عملوا في الخارج يوم الجمعة.",
        "line one\r\nline two",
        "सूचना: शुक्रबार ३ बजे भेटघाट।",
    ],
)
def test_notices_are_shown_escaped_and_read_aloud(admin_app, text):
    client, token = signed_in(admin_app)
    lang = "ar" if "سي" in text else "ne" if "सू" in text else "en"
    response = client.post(
        "/admin/notices",
        data={
            "csrf": token,
            "text": text,
            "lang": lang,
            "start": "2020-01-01",
            "end": "2099-12-31",
        },
        environ_base=SCREEN,
    )
    assert response.status_code == 303
    home = admin_app.test_client().get(f"/{lang}/", environ_base=PHONE).get_data(as_text=True)
    assert "<script>alert" not in home and "<img src=x" not in home
    expected = text.replace("\r\n", "\n").replace("&", "&amp;").replace("<", "&lt;")
    expected = expected.replace(">", "&gt;").replace('"', "&#34;")
    assert expected in home
    audio = re.search(r'src="(/notice/\d+\.mp3)"', home).group(1)
    mp3 = admin_app.test_client().get(audio, environ_base=PHONE)
    assert mp3.status_code == 200 and mp3.mimetype == "audio/mpeg" and len(mp3.get_data()) > 1000
    mp3.close()


def test_a_notice_in_a_text_only_language_has_no_audio_and_old_ones_hide(admin_app):
    client, token = signed_in(admin_app)
    for text, start, end in (("Vineri la ora 3", "2020-01-01", "2099-01-01"),
                             ("Expired notice", "2020-01-01", "2020-01-02")):  # fmt: skip
        client.post("/admin/notices", data={"csrf": token, "text": text, "lang": "ro",
                    "start": start, "end": end}, environ_base=SCREEN)  # fmt: skip
    home = admin_app.test_client().get("/ro/", environ_base=PHONE).get_data(as_text=True)
    assert "Vineri la ora 3" in home and "Expired notice" not in home
    assert "/notice/" not in home


def test_a_removed_notice_no_longer_shows_on_the_visitors_pages(admin_app, device):
    client, token = signed_in(admin_app)
    for text in ("Closed on Monday for repairs.", "Free printing on Friday."):
        notice = {"csrf": token, "text": text, "lang": "en", "start": "2020-01-01",
                  "end": "2099-12-31"}  # fmt: skip
        assert client.post("/admin/notices", data=notice, environ_base=SCREEN).status_code == 303
    visitor = admin_app.test_client()

    def shown() -> dict[str, list[str]]:
        pages = {"phone": visitor.get("/en/", environ_base=PHONE),
                 "screen": visitor.get("/screen/en/", environ_base=SCREEN)}  # fmt: skip
        return {where: [t for t in ("Closed on Monday", "Free printing") if t in page.get_data(
            as_text=True)] for where, page in pages.items()}  # fmt: skip

    both = ["Closed on Monday", "Free printing"]
    assert shown() == {"phone": both, "screen": both}  # and now kept, drawn, with the release
    [removed] = [n["id"] for n in Auth(device).notices() if n["text"].startswith("Closed")]
    home = visitor.get("/en/", environ_base=PHONE).get_data(as_text=True)
    assert f'src="/notice/{removed}.mp3"' in home
    dashboard = client.get("/admin/dashboard", environ_base=SCREEN).get_data(as_text=True)
    remove = f"/admin/notices/{removed}/remove"
    assert f'action="{remove}"' in dashboard  # the librarian's button
    assert client.post(remove, data={"csrf": token}, environ_base=SCREEN).status_code == 303
    assert shown() == {"phone": ["Free printing"], "screen": ["Free printing"]}
    assert visitor.get(f"/notice/{removed}.mp3", environ_base=PHONE).status_code == 404
    assert not (device / "notices" / f"{removed}.mp3").exists()
    assert [n["text"] for n in Auth(device).notices()] == ["Free printing on Friday."]


@pytest.mark.parametrize(
    ("field", "value", "status"),
    [
        ("text", "x" * 1_000_000, 400),  # the form may carry a recording: not 413, refused
        ("text", "bad\x00nul", 400),
        ("text", "x" * 1001, 400),
        ("start", "2026-13-45", 400),
        ("lang", "zz", 400),
    ],
)
def test_bad_notice_input_is_refused_clearly(admin_app, field, value, status):
    client, token = signed_in(admin_app)
    data = {"csrf": token, "text": "ok", "lang": "en", "start": "2026-01-01", "end": "2026-02-01"}
    data[field] = value
    response = client.post("/admin/notices", data=data, environ_base=SCREEN)
    assert response.status_code == status
    assert Auth(kiosk_of(admin_app).settings.data_dir).notices() == []


@pytest.mark.parametrize(
    ("field", "value", "status"),
    [
        ("wifi_ssid", "x" * 1_000_000, 413),  # only the notice form takes a large body
        ("wifi_ssid", "evil\r\nname", 400),
        ("wifi_ssid", "nul\x00", 400),
        ("wifi_ssid", "x" * 33, 400),
        ("idle_seconds", "5", 400),
        ("idle_seconds", "<script>", 400),
        ("k_anonymity", "1", 400),
        ("language_order", "en xx", 400),
        ("language_order", "en en", 400),
    ],
)
def test_bad_settings_are_refused_and_nothing_changes(admin_app, field, value, status):
    client, token = signed_in(admin_app)
    data = {"csrf": token, "wifi_ssid": "Library", "idle_seconds": "60", "k_anonymity": "5",
            "language_order": ""}  # fmt: skip
    data[field] = value
    response = client.post("/admin/settings", data=data, environ_base=SCREEN)
    assert response.status_code == status
    folder = Path(kiosk_of(admin_app).settings.data_dir)
    assert not (folder / "device-settings.json").exists()


def test_settings_are_saved_applied_and_escaped(admin_app, device, keypair, usage):
    client, token = signed_in(admin_app)
    ssid = 'Biblioteca "<b>" ñ'
    response = client.post(
        "/admin/settings",
        data={
            "csrf": token,
            "wifi_ssid": ssid,
            "idle_seconds": "45",
            "k_anonymity": "7",
            "language_order": "ar ne",
            "admin_over_hotspot": "on",
        },
        environ_base=SCREEN,
    )
    assert response.status_code == 303
    screen = admin_app.test_client()
    assert 'data-idle="45"' in screen.get("/screen/en/", environ_base=SCREEN).get_data(as_text=True)
    langs = screen.get("/screen/", environ_base=SCREEN).get_data(as_text=True)
    langs = langs.split('<ul class="languages">')[1]
    assert langs.index('lang="ar"') < langs.index('lang="ne"') < langs.index('lang="en"')
    dashboard = client.get("/admin/dashboard", environ_base=SCREEN).get_data(as_text=True)
    assert "&lt;b&gt;" in dashboard and "<b>" not in dashboard.split('id="s-ssid"')[1][:200]
    restarted = new_app(device, keypair, usage)  # the librarian's choices survive a restart
    assert kiosk_of(restarted).settings.idle_seconds == 45
    assert kiosk_of(restarted).settings.admin_over_hotspot is True


def test_usb_install_rollback_and_export(usb_app, tmp_path, keypair, fixture_release):
    client, token = signed_in(usb_app)
    stick = stick_with_release(tmp_path / "kiosk usb", "sdb1", fixture_release, keypair)
    broken = tmp_path / "kiosk usb" / "sdc1"
    broken.mkdir()
    mounts_file(tmp_path / "mounts", stick, broken)
    ok = client.post("/admin/usb-install", data={"csrf": token, "stick": "sdb1"},
                     environ_base=SCREEN)  # fmt: skip
    assert ok.status_code == 200 and "/media/200/" in usb_app.test_client().get(
        "/en/", environ_base=PHONE
    ).get_data(as_text=True)
    again = client.post("/admin/usb-install", data={"csrf": token, "stick": "sdb1"},
                        environ_base=SCREEN)  # fmt: skip
    assert again.status_code == 400 and "not newer" in again.get_data(as_text=True)
    bad = client.post("/admin/usb-install", data={"csrf": token, "stick": "sdc1"},
                      environ_base=SCREEN)  # fmt: skip
    assert bad.status_code == 400 and "no release folder" in bad.get_data(as_text=True).lower()
    back = client.post("/admin/rollback", data={"csrf": token}, environ_base=SCREEN)
    assert back.status_code == 200
    assert "/media/100/" in usb_app.test_client().get("/en/", environ_base=PHONE).get_data(
        as_text=True
    )
    csv = client.get("/admin/export.csv", environ_base=SCREEN)
    assert csv.mimetype == "text/csv" and csv.get_data(as_text=True).startswith("table,period")
    assert "attachment" in csv.headers["Content-Disposition"]
    csv.close()
    out = client.post("/admin/export-to-stick", data={"csrf": token, "stick": "sdb1"},
                      environ_base=SCREEN)  # fmt: skip
    assert out.status_code == 200 and list(stick.glob("usage-*.csv"))


def test_dashboard_shows_usage_health_and_charts(admin_app, usage, tmp_path, monkeypatch):
    from kiosk.device import health

    zone = tmp_path / "temp"
    zone.write_text("48500\n")  # what the Pi's thermal zone holds: millidegrees
    monkeypatch.setattr(health, "THERMAL_ZONE", str(zone))
    for _ in range(3):
        usage.count_view("passport", "ne", "phone")
        usage.count_visit("phone")
    usage.count_helpful("passport", "ne", "phone", True)
    usage.flush()
    client, _ = signed_in(admin_app)
    page = client.get("/admin/dashboard?period=week", environ_base=SCREEN).get_data(as_text=True)
    assert '<svg class="chart" role="img"' in page
    assert "<title>Your passport: 3</title>" in page and 'aria-label="Your passport: 3"' in page
    assert "48.5 °C" in page
    monkeypatch.setattr(health, "THERMAL_ZONE", str(tmp_path / "no-sensor"))
    page = client.get("/admin/dashboard?period=week", environ_base=SCREEN).get_data(as_text=True)
    assert "<dt>Temperature</dt><dd>Not available</dd>" in page  # no sensor: never a crash
    assert "Free storage" in page and "GB" in page
    assert "Counting problems" in page


def test_admin_pages_speak_the_language_the_librarian_chooses(admin_app):
    client, token = signed_in(admin_app)
    page = client.get("/admin/dashboard", environ_base=SCREEN).get_data(as_text=True)
    assert '<html lang="en"' in page and "सूचना" not in page
    client.post("/admin/language", data={"csrf": token, "lang": "ne"}, environ_base=SCREEN)
    page = client.get("/admin/dashboard", environ_base=SCREEN).get_data(as_text=True)
    assert '<html lang="ne"' in page and "सूचना थप्नुहोस्" in page  # "Add notice"
    client.post("/admin/language", data={"csrf": token, "lang": "es"}, environ_base=SCREEN)
    page = client.get("/admin/dashboard", environ_base=SCREEN).get_data(as_text=True)
    assert '<html lang="ne"' in page  # a language the release does not have changes nothing


def test_admin_words_fallback_matches_the_content():
    import tomllib

    root = Path(__file__).resolve().parent.parent
    content = tomllib.loads((root / "content/ui/en.toml").read_text())["admin"]
    fallback = tomllib.loads((root / "kiosk/device/web/admin_words.toml").read_text())["admin"]
    assert content == fallback


# ---------------------------------------------------------------- issue 12, case 3: throttle


def test_eight_parallel_clients_get_exactly_the_limit_through(device, keypair):
    """Real `kiosk serve`, real threads: the hundredth wrong try is the last one checked."""
    import http.client
    import threading

    from kiosk.device.admin import MAX_FAILURES_PER_HOUR
    from tests.conftest import Server

    server = Server(device, Path(f"{keypair[0]}.pub"), KIOSK_THREADS="8")
    outcomes: list[str] = []
    lock = threading.Lock()

    def client() -> None:
        conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=60)
        conn.request("GET", "/admin/")
        page = conn.getresponse()
        cookie = page.getheader("Set-Cookie").split(";")[0]
        token = re.search(r'name="csrf" value="([^"]+)"', page.read().decode()).group(1)
        for _ in range(16):
            body = f"csrf={token}&user=librarian&password=guess"
            conn.request("POST", "/admin/sign-in", body=body, headers={
                "Cookie": cookie, "Content-Type": "application/x-www-form-urlencoded"})  # fmt: skip
            answer = conn.getresponse()
            answer.read()
            with lock:
                outcomes.append(answer.getheader("Location", str(answer.status)))
        conn.close()

    try:
        threads = [threading.Thread(target=client) for _ in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=120)
    finally:
        server.stop()
    wrong = sum(o.endswith("m=wrong") for o in outcomes)
    throttled = sum(o.endswith("m=throttled") for o in outcomes)
    print(f"8 clients x 16 wrong tries: {wrong} checked, {throttled} refused")
    assert (wrong, throttled) == (MAX_FAILURES_PER_HOUR, 128 - MAX_FAILURES_PER_HOUR)
    assert Auth(device).failures("screen") == MAX_FAILURES_PER_HOUR


def test_the_hour_slides_no_fresh_hundred_at_the_minute_edge(device):
    """100 wrong tries at 10:00:59 leave none at 11:00:00; the first comes back at 11:00:59."""
    from kiosk.device.admin import MAX_FAILURES_PER_HOUR, Throttled

    now = [dt.datetime(2026, 3, 2, 10, 0, 59, 500_000, tzinfo=dt.UTC).timestamp()]
    auth = Auth(device, clock=lambda: now[0])

    def tries_let_through(count: int) -> int:
        through = 0
        for _ in range(count):
            try:
                auth.check("librarian", "guess", "hotspot")
                through += 1
            except Throttled:
                pass
        return through

    first = tries_let_through(MAX_FAILURES_PER_HOUR + 5)
    now[0] += 0.5  # 11:00:00.000, one hour minus 59.5 seconds later
    now[0] += 59 * 60
    at_the_edge = tries_let_through(MAX_FAILURES_PER_HOUR)
    print(f"let through at 10:00:59: {first}; at 11:00:00: {at_the_edge}")
    assert (first, at_the_edge) == (MAX_FAILURES_PER_HOUR, 0)
    now[0] += 59  # 11:00:59.000: the first try is still inside the hour
    assert tries_let_through(1) == 0
    now[0] += 0.6  # 11:00:59.600: the hour since the first tries has passed
    assert tries_let_through(MAX_FAILURES_PER_HOUR + 1) == MAX_FAILURES_PER_HOUR


def test_an_upgrade_keeps_the_old_per_minute_counts(device):
    """A kiosk updated mid-attack keeps its throttle: older admin.db files had minute buckets."""
    import sqlite3

    from kiosk.device.admin import Throttled

    now = dt.datetime(2026, 3, 2, 10, 30, 20, tzinfo=dt.UTC)
    with sqlite3.connect(device / "admin.db") as old:
        old.execute(
            "CREATE TABLE failures (minute TEXT NOT NULL, source TEXT NOT NULL, count INTEGER "
            "NOT NULL DEFAULT 0, PRIMARY KEY (minute, source)) WITHOUT ROWID"
        )
        old.executemany("INSERT INTO failures VALUES (?, ?, ?)", [
            ("2026-03-02T10:10", "hotspot", 60), ("2026-03-02T10:29", "hotspot", 40),
            ("2026-03-02T09:00", "screen", 100)])  # fmt: skip
    old.close()
    auth = Auth(device, clock=now.timestamp)
    with pytest.raises(Throttled):
        auth.check("librarian", "guess", "hotspot")
    assert auth.failures("hotspot") == 100 and auth.failures("screen") == 0
    assert auth.check("librarian", PASSWORD, "screen")


# ---------------------------------------------------------------- issue 12, case 7: phones


ADMIN_PATHS = ("/admin", "/admin/", "/admin/sign-in", "/admin/sign-out", "/admin/dashboard",
               "/admin/export.csv", "/admin/notices/1/remove", "/admin/no-such-page",
               "/admin//", "/admin?m=wrong", "/admin/sign-in/")  # fmt: skip
METHODS = ("GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS")


def test_every_admin_path_and_method_is_the_same_404_as_an_unknown_page_to_phones(admin_app):
    # Not "/no-such-page": one segment looks like a language, which the guides answer with a
    # redirect to "/no-such-page/" before finding there is no such language.
    client = admin_app.test_client()
    leaks = []
    for method in METHODS:
        unknown = client.open("/no/such/page", method=method, environ_base=PHONE)
        assert unknown.status_code == 404
        for path in ADMIN_PATHS:
            answer = client.open(path, method=method, environ_base=PHONE)
            same = (answer.status_code, answer.get_data()) == (404, unknown.get_data())
            if not same or "Set-Cookie" in answer.headers or "Allow" in answer.headers:
                leaks.append(f"{method} {path} {answer.status_code}")
    print(f"{len(leaks)} of {len(METHODS) * len(ADMIN_PATHS)} differ from a 404:", leaks)
    assert leaks == []


# ---------------------------------------------------------------- issue 12, case 4: sessions


def fake_clock(app):
    """Move the app's session clock by hand: returns a list whose one item is the offset."""
    sessions = kiosk_of(app).admin_sessions
    real, offset = sessions.clock, [0.0]
    sessions.clock = lambda: real() + offset[0]
    return offset


def test_cookieless_requests_cannot_pile_up_sessions(admin_app):
    librarian, _ = signed_in(admin_app)
    sessions = kiosk_of(admin_app).admin_sessions
    stranger = admin_app.test_client(use_cookies=False)
    for _ in range(1000):
        assert stranger.get("/admin/", environ_base=SCREEN).status_code == 200
    print(f"1000 cookieless requests: {len(sessions)} sessions kept")
    assert len(sessions) <= 300
    assert librarian.get("/admin/dashboard", environ_base=SCREEN).status_code == 200


def test_a_busy_librarian_is_still_signed_out_after_eight_hours(device, keypair, usage):
    app = new_app(device, keypair, usage, admin_over_hotspot=True)
    client, _ = signed_in(app, PHONE)
    offset = fake_clock(app)
    kept = 0
    while True:
        offset[0] += 10 * 60  # busy: a page every ten minutes, never idle for long
        response = client.get("/admin/dashboard", environ_base=PHONE)
        if response.status_code != 200:
            break
        kept += 1
        assert kept < 100, "never signed out"
    print(f"signed out after {offset[0] / 3600:.2f} hours")
    assert 7.8 < offset[0] / 3600 <= 8.0
    assert response.headers["Location"].endswith("m=expired")


def test_a_screen_session_ends_when_the_screen_is_left_alone(device, keypair, usage):
    """Even if the page's script fails: 100 s after the librarian walks away, they are out."""
    app = new_app(device, keypair, usage, admin_over_hotspot=True)
    screen, _ = signed_in(app, SCREEN)
    phone, _ = signed_in(app, PHONE)
    offset = fake_clock(app)
    offset[0] = 100
    left = screen.get("/admin/dashboard", environ_base=SCREEN)
    print(f"screen session 100 s after the last request: {left.status_code}")
    assert left.status_code == 303 and left.headers["Location"].endswith("m=expired")
    assert phone.get("/admin/dashboard", environ_base=PHONE).status_code == 200  # 15 minutes


def test_the_screen_page_keeps_a_working_librarian_signed_in(admin_app):
    """Typing a long notice makes no request; the page says "still here" while touched."""
    idle = kiosk_of(admin_app).settings.idle_seconds
    screen, _ = signed_in(admin_app, SCREEN)
    offset = fake_clock(admin_app)
    for _ in range(5):
        offset[0] += idle * 0.8
        assert screen.get("/admin/alive", environ_base=SCREEN).status_code == 204
    assert screen.get("/admin/dashboard", environ_base=SCREEN).status_code == 200
    stranger = admin_app.test_client()  # says nothing to someone who is not signed in
    assert stranger.get("/admin/alive", environ_base=SCREEN).status_code == 204
    assert "Set-Cookie" not in stranger.get("/admin/alive", environ_base=SCREEN).headers


def test_a_session_belongs_to_the_channel_it_was_made_on(device, keypair, usage):
    app = new_app(device, keypair, usage, admin_over_hotspot=True)
    screen, _ = signed_in(app, SCREEN)
    cookie = screen.get_cookie("admin", path="/admin").value
    elsewhere = app.test_client()
    elsewhere.set_cookie("admin", cookie, path="/admin")
    assert elsewhere.get("/admin/dashboard", environ_base=PHONE).status_code == 303


# ---------------------------------------------------------------- issue 12, case 5: notices

BIDI = "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u200e\u200f\u061c"


@pytest.mark.parametrize("lang", ["en", "ar"])
def test_bidi_controls_never_reach_the_screen(admin_app, lang):
    """With U+202E the screen showed "Room 21" while the voice read "Room 12"."""
    client, token = signed_in(admin_app)
    text = f"Room \u202e12\u202c today; {BIDI} end"
    notice = {"text": text, "lang": lang, "start": "2020-01-01", "end": "2099-12-31"}
    response = client.post("/admin/notices", data={"csrf": token, **notice}, environ_base=SCREEN)
    assert response.status_code == 303
    visitor = admin_app.test_client()
    pages = [
        visitor.get(f"/{lang}/", environ_base=PHONE).get_data(as_text=True),
        visitor.get(f"/screen/{lang}/", environ_base=SCREEN).get_data(as_text=True),
        client.get("/admin/dashboard", environ_base=SCREEN).get_data(as_text=True),
    ]
    reached = sorted({f"U+{ord(c):04X}" for page in pages for c in page if c in BIDI})
    print(f"bidi controls on the pages: {len(reached)} of {len(BIDI)}")
    assert reached == []
    assert "Room 12 today;  end" in pages[0]
    stored = Auth(kiosk_of(admin_app).settings.data_dir).notices()
    assert [n["text"] for n in stored] == ["Room 12 today;  end"]  # what the voice read


def test_a_notice_of_only_bidi_controls_is_refused(admin_app):
    client, token = signed_in(admin_app)
    notice = {"text": BIDI, "lang": "en", "start": "2020-01-01", "end": "2099-12-31"}
    response = client.post("/admin/notices", data={"csrf": token, **notice}, environ_base=SCREEN)
    assert response.status_code == 400
    assert Auth(kiosk_of(admin_app).settings.data_dir).notices() == []


def test_a_notice_saved_before_the_upgrade_shows_without_bidi_controls(device):
    import sqlite3

    Auth(device).notices()  # makes admin.db as this version does
    with sqlite3.connect(device / "admin.db") as db:
        db.execute("INSERT INTO notices (lang, text, start, end) VALUES "
                   "('en', 'Room \u202e12\u202c', '2020-01-01', '2099-01-01')")  # fmt: skip
    db.close()
    assert [n["text"] for n in Auth(device).notices()] == ["Room 12"]


# ---------------------------------------------------------------- issue 12, case 6: USB sticks


def stick_with_release(root: Path, name: str, fixture_release, keypair, version=200) -> Path:
    """A folder under ``root`` holding a newer signed release, as a stick would."""
    from kiosk.formats.manifest import load_private_key, write_manifest

    stick = root / name
    shutil.copytree(fixture_release, stick / "release")
    now = dt.datetime.now(dt.UTC)
    write_manifest(stick / "release", version, now, now + dt.timedelta(days=5),
                   load_private_key(keypair[0]))  # fmt: skip
    return stick


def mounts_file(path: Path, *points: Path) -> Path:
    """A mounts file as the kernel writes it (spaces in mount points escaped as \\040)."""
    lines = ["proc /proc proc rw,relatime 0 0"]
    space = "\\040"
    lines += [f"/dev/{p.name} {str(p).replace(' ', space)} vfat rw,nosuid 0 0" for p in points]
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.fixture
def usb_app(device, keypair, usage, tmp_path):
    app = new_app(device, keypair, usage, usb_root=str(tmp_path / "kiosk usb"))
    app.config["MOUNTS_FILE"] = str(mounts_file(tmp_path / "mounts"))
    return app


HOSTILE_STICKS = {
    "5,000 characters": "x" * 5000,
    "NUL byte": "/media/kiosk-usb/sdb1\x00",
    "empty": "",
}


@pytest.mark.parametrize("action", ["usb-install", "export-to-stick"])
@pytest.mark.parametrize("name", list(HOSTILE_STICKS))
def test_usb_forms_answer_a_hostile_choice_with_one_sentence(admin_app, tmp_path, action, name):
    admin_app.config["MOUNTS_FILE"] = str(mounts_file(tmp_path / "mounts"))  # no stick in
    client, token = signed_in(admin_app)
    value = HOSTILE_STICKS[name]
    response = client.post(f"/admin/{action}", data={"csrf": token, "stick": value, "path": value},
                           environ_base=SCREEN)  # fmt: skip
    page = response.get_data(as_text=True)
    print(f"{action} with {name}: {response.status_code}")
    assert response.status_code == 400
    assert "No USB stick is plugged in." in page and "usb_" not in page.split("<main")[1]


@pytest.mark.parametrize("action", ["usb-install", "export-to-stick"])
def test_a_folder_that_is_not_a_mounted_stick_is_refused(
    usb_app, tmp_path, fixture_release, keypair, action
):
    """A real release in a real folder, but no stick: nothing is installed or written."""
    root = tmp_path / "kiosk usb"
    mounted = stick_with_release(root, "sdb1", fixture_release, keypair, version=150)
    elsewhere = stick_with_release(root, "sdc1", fixture_release, keypair)
    mounts_file(tmp_path / "mounts", mounted)
    client, token = signed_in(usb_app)
    for value in (str(elsewhere), "sdc1", "../kiosk usb/sdb1", str(mounted)):
        response = client.post(f"/admin/{action}", data={"csrf": token, "stick": value,
                               "path": value}, environ_base=SCREEN)  # fmt: skip
        print(f"{action} {value!r}: {response.status_code}")
        assert response.status_code == 400, value
        assert "That USB stick is not plugged in any more." in response.get_data(as_text=True)
    assert not list(root.glob("*/usage-*.csv"))
    assert "/media/100/" in usb_app.test_client().get("/en/", environ_base=PHONE).get_data(
        as_text=True
    )


def test_no_stick_mounted_says_so_and_offers_nothing(usb_app):
    client, _ = signed_in(usb_app)
    page = client.get("/admin/dashboard", environ_base=SCREEN).get_data(as_text=True)
    assert "No USB stick is plugged in." in page
    assert 'name="stick"' not in page and 'name="path"' not in page


def test_the_page_offers_the_mounted_sticks_and_uses_the_one_chosen(
    usb_app, tmp_path, fixture_release, keypair
):
    root = tmp_path / "kiosk usb"
    first = stick_with_release(root, "sdb1", fixture_release, keypair)
    second = root / "mmcblk1p1"
    second.mkdir()
    (tmp_path / "other").mkdir()
    mounts_file(tmp_path / "mounts", first, second, tmp_path / "other", first / "release")
    client, token = signed_in(usb_app)
    page = client.get("/admin/dashboard", environ_base=SCREEN).get_data(as_text=True)
    offered = re.findall(r'name="stick" value="([^"]*)"', page)
    assert sorted(set(offered)) == ["mmcblk1p1", "sdb1"]
    assert str(root) not in page  # the page names sticks, never folders
    ok = client.post("/admin/usb-install", data={"csrf": token, "stick": "sdb1"},
                     environ_base=SCREEN)  # fmt: skip
    assert ok.status_code == 200 and "The new guides are installed." in ok.get_data(as_text=True)
    assert "/media/200/" in usb_app.test_client().get("/en/", environ_base=PHONE).get_data(
        as_text=True
    )
    out = client.post("/admin/export-to-stick", data={"csrf": token, "stick": "mmcblk1p1"},
                      environ_base=SCREEN)  # fmt: skip
    assert out.status_code == 200 and len(list(second.glob("usage-*.csv"))) == 1


def test_a_stick_that_cannot_be_written_says_so_in_words(usb_app, tmp_path):
    stick = tmp_path / "kiosk usb" / "sdb1"
    stick.mkdir(parents=True)
    mounts_file(tmp_path / "mounts", stick)
    client, token = signed_in(usb_app)
    (stick / f"usage-kiosk-{dt.date.today().isoformat()}.csv").mkdir()  # in the way: EISDIR
    out = client.post("/admin/export-to-stick", data={"csrf": token, "stick": "sdb1"},
                      environ_base=SCREEN)  # fmt: skip
    assert out.status_code == 400
    assert "could not be saved on the stick" in out.get_data(as_text=True)
    assert "usb_missing" not in out.get_data(as_text=True)


@pytest.mark.skipif(os.geteuid() != 0, reason="mounting a file system needs root")
def test_a_really_mounted_stick_is_found_in_proc_self_mounts(
    device, keypair, usage, tmp_path, fixture_release
):
    """A real tmpfs mount under a root with a space, read from the kernel's own mounts file."""
    import subprocess

    root = tmp_path / "kiosk usb"
    point = root / "sdz9"
    point.mkdir(parents=True)
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64m,nosuid,nodev,noexec", "tmpfs",
                    str(point)], check=True)  # fmt: skip
    try:
        stick_with_release(tmp_path / "staging", "sdz9", fixture_release, keypair)
        shutil.copytree(tmp_path / "staging" / "sdz9", point, dirs_exist_ok=True)
        app = new_app(device, keypair, usage, usb_root=str(root))  # the real /proc/self/mounts
        client, token = signed_in(app)
        page = client.get("/admin/dashboard", environ_base=SCREEN).get_data(as_text=True)
        assert re.findall(r'name="stick" value="([^"]*)"', page)[:1] == ["sdz9"]
        ok = client.post("/admin/usb-install", data={"csrf": token, "stick": "sdz9"},
                         environ_base=SCREEN)  # fmt: skip
        assert ok.status_code == 200, ok.get_data(as_text=True)
    finally:
        subprocess.run(["umount", str(point)], check=True)


def _reading(tmp_path, text="The library is closed on Friday afternoon.") -> bytes:
    from tests.conftest import reading_wav

    return reading_wav(tmp_path / "reading.wav", text).read_bytes()


def _notice_form(token, voice: bytes | None):
    import io

    form = {"csrf": token, "text": "Closed on Friday afternoon.", "lang": "en",
            "start": dt.date.today().isoformat(), "end": dt.date.today().isoformat()}  # fmt: skip
    if voice is not None:
        form["voice"] = (io.BytesIO(voice), "notice.wav")
    return form


def test_a_notice_can_carry_the_librarians_own_voice_kept_on_the_device(
    admin_app, device, tmp_path
):
    from kiosk import audio

    client, token = signed_in(admin_app)
    sent = client.post("/admin/notices", data=_notice_form(token, _reading(tmp_path)),
                       environ_base=SCREEN, content_type="multipart/form-data")  # fmt: skip
    assert sent.status_code == 303, sent.get_data(as_text=True)[:500]
    [meta] = list((device / "notices").glob("*.json"))
    assert json.loads(meta.read_text())["voice"] == "person"
    mp3 = meta.with_suffix(".mp3")
    heard = audio.decode(mp3.read_bytes())
    assert abs(audio.measure(heard) - audio.TARGET_LUFS) <= 1.0
    assert len(heard) / 2 / 22050 < 3.6  # the two seconds of silence around it are gone
    home = client.get("/screen/en/", environ_base=SCREEN).get_data(as_text=True)
    assert f"/notice/{meta.stem}.mp3" in home


@pytest.mark.parametrize(
    "voice",
    [b"not audio at all" * 50, b"RIFF" + b"\0" * 40, b"\0" * 5000],
    ids=["text", "header", "zeros"],
)
def test_a_notice_whose_recording_cannot_be_used_is_not_added(admin_app, device, voice):
    client, token = signed_in(admin_app)
    sent = client.post("/admin/notices", data=_notice_form(token, voice), environ_base=SCREEN,
                       content_type="multipart/form-data")  # fmt: skip
    assert sent.status_code == 400
    assert "its recording cannot be used" in sent.get_data(as_text=True)
    assert Auth(device).notices() == []
    assert list(device.glob("notices/*")) == []  # no recording kept for a notice not added


def test_only_the_notice_form_takes_a_large_body(admin_app):
    client, token = signed_in(admin_app)
    big = {"csrf": token, "k": "x" * 100_000}
    assert client.post("/admin/settings", data=big, environ_base=SCREEN).status_code == 413


# ---------------------------------------------------------------- issue 13: mutation survivors


def test_sessions_keep_the_cap_and_sweep_only_the_idle():
    """Sessions, in memory, on their own clock: the caps are exact and only idle ones go."""
    from kiosk.device.web.admin_sessions import MAX_WAITING, Sessions

    now = [0.0]
    sessions = Sessions(idle_seconds=100, lifetime_seconds=1000, clock=lambda: now[0])
    first = sessions.new("screen", "en", signed_in=True)
    now[0] = 50
    second = sessions.new("screen", "en", signed_in=True)
    waiting = sessions.new("hotspot", "en")
    now[0] = 60
    sessions.new("screen", "en")  # someone else opens the sign-in page: nobody is swept
    assert sessions.get(first.token, "screen") is first
    assert sessions.get(waiting.token, "hotspot") is waiting
    now[0] = 60 + 100.5  # the oldest is idle now; making a new one sweeps it
    third = sessions.new("screen", "en", signed_in=True)
    assert sessions.get(second.token, "screen") is None  # idle since 50
    assert sessions.get(third.token, "screen") is third
    capped = Sessions(idle_seconds=100, lifetime_seconds=1000, clock=lambda: 0.0, max_signed_in=2)
    a, b = capped.new("screen", "en", True), capped.new("screen", "en", True)
    assert capped.get(a.token, "screen") is a and capped.get(b.token, "screen") is b
    c = capped.new("screen", "en", True)
    assert len(capped) == 2 and capped.get(a.token, "screen") is None
    assert capped.get(c.token, "screen") is c
    pages = Sessions(idle_seconds=100, lifetime_seconds=1000, clock=lambda: 0.0)
    opened = [pages.new("hotspot", "en") for _ in range(MAX_WAITING)]
    assert len(pages) == MAX_WAITING and pages.get(opened[0].token, "hotspot") is opened[0]


def test_ending_a_session_ends_a_waiting_one_too_and_its_csrf_token_is_worthless():
    from kiosk.device.web.admin_sessions import Sessions, post_allowed

    sessions = Sessions(idle_seconds=100, lifetime_seconds=1000, clock=lambda: 0.0)
    page = sessions.new("screen", "en")
    assert post_allowed(sessions.get(page.token, "screen"), page.csrf, None, "kiosk")
    sessions.end(page.token)
    assert sessions.get(page.token, "screen") is None and len(sessions) == 0
    assert not post_allowed(sessions.get(page.token, "screen"), page.csrf, None, "kiosk")


def test_a_post_from_another_site_or_with_another_token_is_refused():
    from kiosk.device.web.admin_sessions import Sessions, post_allowed

    session = Sessions(100, 1000).new("screen", "en", signed_in=True)
    assert post_allowed(session, session.csrf, "http://kiosk", "kiosk")
    assert post_allowed(session, session.csrf, None, "kiosk")  # no Origin: the token decides
    assert not post_allowed(session, session.csrf, "http://evil.example", "kiosk")
    assert not post_allowed(session, session.csrf, "null", "kiosk")
    assert not post_allowed(session, "x" + session.csrf[1:], None, "kiosk")
    assert not post_allowed(None, session.csrf, None, "kiosk")


def test_sign_in_answers_a_wrong_password_with_a_redirect_and_the_page_in_the_chosen_language(
    admin_app,
):
    client = admin_app.test_client()
    wrong = sign_in(client, password="not the password")
    assert (wrong.status_code, wrong.headers["Location"]) == (303, "/admin/?m=wrong")
    page = client.get(wrong.headers["Location"], environ_base=SCREEN).get_data(as_text=True)
    assert '<html lang="en"' in page
    nepali = admin_app.test_client().get("/admin/?lang=ne", environ_base=SCREEN)
    assert '<html lang="ne"' in nepali.get_data(as_text=True)
    unknown = admin_app.test_client().get("/admin/?lang=es", environ_base=SCREEN)
    assert '<html lang="en"' in unknown.get_data(as_text=True)


def test_ending_a_session_after_its_lifetime_however_busy():
    """The absolute limit counts from when the session was made, not from the clock's zero."""
    from kiosk.device.web.admin_sessions import Sessions

    now = [5000.0]
    sessions = Sessions(idle_seconds=100, lifetime_seconds=1000, clock=lambda: now[0])
    busy = sessions.new("screen", "en", signed_in=True)
    while now[0] < 5990:
        now[0] += 90  # never idle for long
        assert sessions.get(busy.token, "screen") is busy
    now[0] = 6000.5
    assert sessions.get(busy.token, "screen") is None and len(sessions) == 0


def test_when_the_sessions_are_full_the_one_left_alone_longest_goes_not_the_one_in_use():
    """The librarian at the screen keeps working when another sign-in fills the table: the
    session evicted is the one seen least recently, not the one made first."""
    from kiosk.device.web.admin_sessions import Sessions

    now = [0.0]
    sessions = Sessions(idle_seconds=100, lifetime_seconds=1000, clock=lambda: now[0],
                        max_signed_in=2)  # fmt: skip
    working = sessions.new("screen", "en", signed_in=True)
    now[0] = 1
    left = sessions.new("phone", "en", signed_in=True)
    now[0] = 2
    assert sessions.get(working.token, "screen") is working  # still in use
    now[0] = 3
    sessions.new("phone", "ne", signed_in=True)
    assert sessions.get(working.token, "screen") is working
    assert sessions.get(left.token, "phone") is None
