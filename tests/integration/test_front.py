"""The device's front server: Debian's nginx with the config `kiosk services render` writes, in
front of a real `kiosk serve --proxied`, as on the device (the booted device proves the unit).

Phones are sockets bound to other loopback addresses (127.0.0.2, 127.0.0.3), so nginx sees
them as different phones, as it sees different phones on the hotspot.
"""

from __future__ import annotations

import gzip
import http.client
import os
import re
import shutil
import signal
import socket
import sqlite3
import subprocess
import time
from pathlib import Path

import pytest

from kiosk.config import load_settings
from kiosk.content.build import build_release
from kiosk.device.install import ReleaseStore
from kiosk.device.nginx import nginx_conf
from kiosk.device.services import render
from kiosk.device.web.common import STATIC
from tests.conftest import FIXTURE_CONTENT, Server, free_port, wait_until_listening

NGINX = "/usr/sbin/nginx"
PHONE_A, PHONE_B = "127.0.0.2", "127.0.0.3"


class Front:
    """Debian's nginx running the kiosk's rendered config on a free loopback port."""

    def __init__(self, work: Path, data_dir: Path, app_port: int, counts: Path) -> None:
        self.port = free_port()
        runtime = work / "run"
        runtime.mkdir()
        settings = load_settings(environ={}, data_dir=str(data_dir), port=app_port)
        self.conf = work / "nginx.conf"
        self.conf.write_text(
            nginx_conf(
                settings,
                listen=f"127.0.0.1:{self.port}",
                runtime=str(runtime),
                user="root root" if os.geteuid() == 0 else "",
                counts=str(counts),
            )
        )
        self.log = work / "nginx.log"
        with self.log.open("wb") as log:
            self.proc = subprocess.Popen(
                [NGINX, "-e", "stderr", "-c", str(self.conf)], stdout=log, stderr=log
            )
        wait_until_listening(
            self.port, self.proc, lambda: f"nginx did not start: {self.log.read_text()}"
        )

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGQUIT)  # nginx's graceful stop, master and worker
            self.proc.wait(timeout=10)


def get(port: int, path: str, *, phone: str = PHONE_A, method: str = "GET", **headers: str):
    """(status, headers, body) for one request from ``phone``'s address."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10, source_address=(phone, 0))
    try:
        conn.request(method, path, headers={"Host": "10.42.0.1", **headers})
        response = conn.getresponse()
        return response.status, response.headers, response.read()
    finally:
        conn.close()


def start_device(work: Path, release: Path, keypair) -> tuple[Server, Front, Path]:
    """A data folder with ``release`` live, `kiosk serve --proxied` on it and nginx in front."""
    data = work / "data"
    data.mkdir()
    ReleaseStore(data).install(release, [keypair[1]])
    counts = work / "counts.sock"
    app = Server(data, Path(f"{keypair[0]}.pub"), "--proxied", "--counts-socket", str(counts))
    front = Front(work, data, app.port, counts)
    wait_for_drawn_pages(data)
    return app, front, data


@pytest.fixture(scope="module")
def device(tmp_path_factory, fixture_release, keypair):
    app, front, data = start_device(tmp_path_factory.mktemp("front"), fixture_release, keypair)
    yield app, front, data
    front.stop()
    app.stop()


def wait_for_drawn_pages(data: Path) -> None:
    deadline = time.monotonic() + 30
    while not (data / "www" / "pages" / "en" / "index.html").exists():
        assert time.monotonic() < deadline, "the phone pages were not drawn for nginx"
        time.sleep(0.1)


def drawn_by_nginx(headers) -> bool:
    """nginx's ETag is "<mtime>-<size>" in hex; the app's is a content hash (with -gz)."""
    return re.fullmatch(r'"[0-9a-f]+-[0-9a-f]+"', headers.get("ETag", "")) is not None


def audio_of(data: Path) -> str:
    """A release-relative MP3 path of the live release, and its version."""
    live = ReleaseStore(data).active()
    mp3 = next(live.rglob("*.mp3"))
    return f"{live.name}/{mp3.relative_to(live)}"


def test_the_device_gets_this_same_config_on_port_80(device):
    app, front, data = device
    settings = load_settings(environ={}, data_dir=str(data), port=app.port)
    rendered = render(settings)["etc/first-mile-kiosk/nginx.conf"]
    ours = front.conf.read_text()
    differ = {a for a, b in zip(rendered.splitlines(), ours.splitlines(), strict=True) if a != b}
    assert {line.split()[0] for line in differ} <= {"listen", "pid", "user", "#", "access_log",
            *(f"{kind}_temp_path" for kind in ("client_body", "proxy", "fastcgi", "uwsgi",
                                               "scgi"))}, differ  # fmt: skip
    assert "listen 80 default_server;" in rendered


def test_pages_come_from_the_app_and_release_files_from_nginx_with_ranges(device):
    _, front, data = device
    status, headers, body = get(front.port, "/en/")
    assert status == 200 and "Content-Security-Policy" in headers  # the app drew it
    rel = audio_of(data)
    whole = (ReleaseStore(data).active() / rel.split("/", 1)[1]).read_bytes()
    status, headers, body = get(front.port, f"/media/{rel}")
    assert status == 200 and body == whole
    assert "Content-Security-Policy" not in headers  # nginx sent it, not the app
    assert headers["Content-Type"] == "audio/mpeg"
    assert "immutable" in headers["Cache-Control"]
    status, headers, body = get(front.port, f"/media/{rel}", Range="bytes=100-199")
    assert status == 206 and body == whole[100:200]
    assert headers["Content-Range"] == f"bytes 100-199/{len(whole)}"


def test_css_and_js_come_gzipped_from_nginx(device):
    _, front, _ = device
    _, _, page = get(front.port, "/en/")
    css = next(p for p in page.decode().split('"') if p.startswith("/static/"))
    status, headers, body = get(front.port, css, **{"Accept-Encoding": "gzip"})
    assert status == 200 and headers["Content-Encoding"] == "gzip"
    assert "Content-Security-Policy" not in headers
    assert gzip.decompress(body) == (STATIC / css.rsplit("/", 1)[1]).read_bytes()


@pytest.mark.parametrize(
    "path",
    ["catalog.json", "manifest.json", "search.db", "guides/../catalog.json", "../../usage.db"],
)
def test_only_what_the_manifest_lists_for_phones_is_served(device, path):
    _, front, data = device
    version = ReleaseStore(data).active().name
    status, _, body = get(front.port, f"/media/{version}/{path}")
    assert status in (400, 404), (path, status)
    assert b'"guides"' not in body and b"SQLite" not in body


def test_a_file_put_into_the_release_folder_by_hand_is_not_served(device):
    _, front, data = device
    live = ReleaseStore(data).active()
    (live / "extra.mp3").write_bytes(b"not signed")
    try:
        status, _, body = get(front.port, f"/media/{live.name}/extra.mp3")
        assert status == 404 and body != b"not signed"
    finally:
        (live / "extra.mp3").unlink()


def test_continue_is_per_phone_and_a_forged_forwarded_for_changes_nothing(device):
    _, front, _ = device
    assert get(front.port, "/generate_204", phone=PHONE_A)[0] == 302
    status, _, _ = get(
        front.port, "/portal/continue", phone=PHONE_A, method="POST",
        **{"Content-Type": "application/x-www-form-urlencoded", "X-Forwarded-For": PHONE_B},
    )  # fmt: skip
    assert status == 303
    assert get(front.port, "/generate_204", phone=PHONE_A)[0] == 204
    assert get(front.port, "/generate_204", phone=PHONE_B)[0] == 302
    forged = get(front.port, "/generate_204", phone=PHONE_B, **{"X-Forwarded-For": PHONE_A})
    assert forged[0] == 302


def test_the_librarians_page_is_closed_to_phones_and_open_on_the_screen(device):
    app, front, _ = device
    assert get(front.port, "/admin/", phone=PHONE_A)[0] == 404
    forged = get(front.port, "/admin/", phone=PHONE_A, **{"X-Forwarded-For": "127.0.0.1"})
    assert forged[0] == 404
    assert get(app.port, "/admin/", phone="127.0.0.1")[0] == 200


def test_slow_phones_do_not_stop_the_others(device):
    """300 connections that send half a header and then nothing: nginx holds them in its event
    loop; a normal request is answered meanwhile (figures for 1,000: benchmarks/load_bench.py)."""
    _, front, _ = device
    slow = []
    try:
        for _ in range(300):
            s = socket.create_connection(("127.0.0.1", front.port), timeout=5)
            s.sendall(b"GET /en/ HTTP/1.1\r\nHost: 10.42")
            slow.append(s)
        assert get(front.port, "/en/guide/passport")[0] in (200, 404)
        assert get(front.port, "/en/")[0] == 200
    finally:
        for s in slow:
            s.close()


def test_a_new_release_replaces_the_old_files_and_the_old_are_gone(device, keypair, speaker):
    _, front, data = device
    old = audio_of(data)
    assert get(front.port, f"/media/{old}")[0] == 200
    newer = data.parent / "release-101"
    build_release(FIXTURE_CONTENT, newer, keypair[0], speaker, version=101)
    ReleaseStore(data).install(newer, [keypair[1]])
    # Phones' pages come from nginx now, so the app looks for a new release by itself.
    deadline = time.monotonic() + 10
    while sorted(os.listdir(data / "www" / "media")) != ["101"]:
        assert time.monotonic() < deadline, os.listdir(data / "www" / "media")
        time.sleep(0.1)
    wait_for_drawn_pages(data)
    status, headers, page = get(front.port, "/en/")
    assert status == 200 and drawn_by_nginx(headers) and b"/media/101/" in page
    assert get(front.port, f"/media/{old}")[0] == 404
    new = audio_of(data)
    status, headers, _ = get(front.port, f"/media/{new}")
    assert status == 200 and "Content-Security-Policy" not in headers
    shutil.rmtree(newer)


def test_guide_pages_are_drawn_once_and_sent_by_nginx_with_the_apps_headers(device):
    _, front, _ = device
    status, headers, body = get(front.port, "/ne/guide/passport", **{"Accept-Encoding": "gzip"})
    assert status == 200 and drawn_by_nginx(headers), dict(headers)
    assert headers["Content-Encoding"] == "gzip"
    assert headers["Content-Type"] == "text/html; charset=utf-8"
    assert "frame-ancestors 'none'" in headers["Content-Security-Policy"]
    assert headers["Cache-Control"] == "no-cache" and headers["X-Frame-Options"] == "DENY"
    page = gzip.decompress(body).decode()
    assert 'lang="ne"' in page
    # A second visit revalidates: 304, no body.
    again = get(
        front.port, "/ne/guide/passport",
        **{"If-None-Match": headers["ETag"], "Accept-Encoding": "gzip"},
    )  # fmt: skip
    assert again[0] == 304 and again[2] == b""


@pytest.mark.parametrize(
    "path, host",
    [
        ("/en/guide/passport?thanks=1", "10.42.0.1"),  # a query: the app's
        ("/en/guide/passport", "example.com"),  # another name: the captive portal's
        ("/en/guide/no-such-guide", "10.42.0.1"),  # not drawn: the app's 404
    ],
)
def test_what_is_not_a_plain_drawn_page_goes_to_the_app(device, path, host):
    _, front, _ = device
    status, headers, _ = get(front.port, path, Host=host)
    assert not drawn_by_nginx(headers), (path, dict(headers))
    expected = {"10.42.0.1": 404 if "no-such" in path else 200, "example.com": 302}[host]
    assert status == expected, (path, status)


def test_pages_nginx_sends_are_counted_as_the_app_counts_its_own(
    tmp_path, fixture_release, keypair
):
    app, front, data = start_device(tmp_path, fixture_release, keypair)
    try:
        # Phone A keeps its cookie: one visit, two languages, three pages.
        status, headers, _ = get(front.port, "/en/guide/passport", phone=PHONE_A)
        assert status == 200 and drawn_by_nginx(headers)
        cookie = headers["Set-Cookie"].split(";")[0]
        get(front.port, "/ne/guide/passport", phone=PHONE_A, Cookie=cookie)
        get(front.port, "/ne/", phone=PHONE_A, Cookie=cookie)
        # Phone B keeps none: each page is a visit. Its search goes through the app.
        get(front.port, "/en/guide/passport", phone=PHONE_B)
        get(front.port, "/en/search?q=passport", phone=PHONE_B)
        # A page the app sends (a query) in phone A's visit is the same visit.
        get(front.port, "/en/guide/passport?thanks=1", phone=PHONE_A, Cookie=cookie)
        time.sleep(1)  # the reports are datagrams: let them arrive before the server stops
    finally:
        front.stop()
        app.stop()
    db = sqlite3.connect(data / "usage.db")
    visits, pages = db.execute(
        "select sum(visits), sum(pages) from channel_day where channel = 'phone'"
    ).fetchone()
    views = dict(db.execute(
        "select lang, sum(views) from guide_day where guide = 'passport' group by lang"
    ).fetchall())  # fmt: skip
    languages = dict(db.execute(
        "select lang, sum(choices) from language_day group by lang"
    ).fetchall())  # fmt: skip
    assert (visits, pages) == (3, 6), (visits, pages, app.output)
    assert views == {"en": 3, "ne": 1}, views
    assert languages == {"en": 3, "ne": 1}, languages


def test_no_phone_address_is_written_anywhere(device):
    app, front, _ = device
    for phone in (PHONE_A, PHONE_B):
        get(front.port, "/en/?marker=CANARY7", phone=phone)
        get(front.port, "/no/such/page", phone=phone)
        get(front.port, "/media/1/missing.mp3", phone=phone)
    front.stop()
    app.stop()
    logs = front.log.read_text() + app.output
    assert PHONE_A not in logs and PHONE_B not in logs and "CANARY7" not in logs, logs
