"""What kiosk-web keeps for the front server, told only when the live release changes."""

from __future__ import annotations

import time

import pytest

from kiosk.device.install import ReleaseStore
from kiosk.device.library import Library
from kiosk.device.web import front
from kiosk.device.web.state import kiosk_of
from kiosk.errors import ReleaseNotFound
from tests.conftest import device_settings


def test_listeners_hear_of_each_change_once_not_of_every_look(tmp_path, fixture_release, keypair):
    library = Library(tmp_path, [keypair[1]])
    heard = []
    library.listeners.append(heard.append)
    for _ in range(5):  # no release yet: every look fails, but nothing changed after the first
        with pytest.raises(ReleaseNotFound):
            library.release()
    assert heard == [None]
    ReleaseStore(tmp_path).install(fixture_release, [keypair[1]])
    for _ in range(5):
        release = library.release()
    assert [r.version if r else None for r in heard] == [None, release.version]


def test_waiting_for_a_first_release_costs_nothing(tmp_path, keypair, usage):
    """A fresh kiosk waits for its first release (a stick, a sync) with the pages thread
    looking every `every` seconds, not spinning: it once woke itself up on every look."""
    from kiosk.device.web import create_app

    app = create_app(device_settings(tmp_path, f"{keypair[0]}.pub"), usage=usage)
    www = tmp_path / "www"
    pages = front.Pages(app, www)
    library = kiosk_of(app).library
    library.listeners.append(lambda release: front.publish_release(www, release))
    library.listeners.append(pages.stale)
    looks = []
    original = pages.refresh
    pages.refresh = lambda: looks.append(1) or original()
    thread = pages.run(every=0.5)
    time.sleep(1.2)
    pages.stopped.set()
    pages.wake.set()
    thread.join(5)
    assert 1 <= len(looks) <= 4, len(looks)
    assert (www / "media").is_dir() and not any((www / "media").iterdir())


def test_every_page_the_front_server_reports_is_counted_once_and_nothing_else(
    tmp_path, fixture_release, keypair, usage
):
    """nginx's reports arrive faster than they are counted on a busy Pi: the receiver empties
    the socket's queue before counting, so a burst of 300 is counted whole."""
    import socket
    import sqlite3

    from kiosk.device.web import create_app
    from kiosk.device.web.counting import listen_to_front

    ReleaseStore(tmp_path).install(fixture_release, [keypair[1]])
    app = create_app(device_settings(tmp_path, f"{keypair[0]}.pub"), usage=usage)
    path = tmp_path / "counts.sock"
    listen_to_front(app, path)
    report = "<190>Dec  3 03:00:00 kiosk kiosk: {} {} {} {}"
    not_pages = [
        report.format("HEAD", "/en/guide/passport", 200, "-"),  # not a view
        report.format("GET", "/en/guide/passport", 404, "-"),
        report.format("GET", "/xx/guide/passport", 200, "-"),  # no such language
        report.format("GET", "/en/guide/no-such", 200, "-"),
        report.format("GET", "/en/guide/passport?q=1", 200, "-"),
        "GET /en/guide/passport 200 -",  # not from nginx's syslog
        "\ufffd" * 50,
    ]
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sender:
        sender.connect(str(path))  # blocking: it waits while the queue is full, never drops
        for i in range(300):
            sender.send(report.format("GET", "/en/guide/passport", 200, f"v{i % 3}").encode())
            if i % 50 == 0:
                sender.send(not_pages[(i // 50) % len(not_pages)].encode())
        sender.send(report.format("GET", "/ne/", 304, "v0").encode())
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        usage.flush()
        db = sqlite3.connect(tmp_path / "usage.db")
        views = db.execute("select sum(views) from guide_day").fetchone()[0]
        pages = db.execute("select sum(pages) from channel_day").fetchone()[0]
        db.close()
        if pages == 301:
            break
        time.sleep(0.1)
    assert (views, pages) == (300, 301)


def test_pages_reported_as_the_app_stops_are_counted(tmp_path, fixture_release, keypair, usage):
    """Reports gather for a while before the receiver wakes; stopping the app (systemd's stop,
    a new version) first counts what is waiting, so the last moments' pages are not lost."""
    import socket
    import sqlite3

    from kiosk.device.web import create_app
    from kiosk.device.web.counting import listen_to_front

    ReleaseStore(tmp_path).install(fixture_release, [keypair[1]])
    app = create_app(device_settings(tmp_path, f"{keypair[0]}.pub"), usage=usage)
    path = tmp_path / "counts.sock"
    front = listen_to_front(app, path, settle=30)  # it would not wake for 30 s by itself
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sender:
        sender.connect(str(path))
        for i in range(8):  # fewer than Linux's default queue of 10: sending never waits
            report = f"<190>Dec  3 03:00:00 kiosk kiosk: GET /en/guide/passport 200 v{i}"
            sender.send(report.encode())
    time.sleep(0.2)  # the first report has woken the thread, which now waits
    front.drain()
    usage.flush()
    db = sqlite3.connect(tmp_path / "usage.db")
    assert db.execute("select sum(views) from guide_day").fetchone()[0] == 8
    db.close()


def test_drawing_the_pages_readies_each_languages_search_and_counts_nothing(
    tmp_path, fixture_release, keypair, usage
):
    """A language's first search sets things up (its stemmer, its words' keys and places,
    the page's template): on a Pi's CPU that held every phone up for a second after each
    start. `kiosk serve` searches once in each language before it listens
    (tests/integration/test_serve.py), and the thread that draws the pages does again for
    each new release; both as nobody."""
    import sqlite3

    from kiosk.device.web import create_app
    from kiosk.formats import search

    ReleaseStore(tmp_path).install(fixture_release, [keypair[1]])
    app = create_app(device_settings(tmp_path, f"{keypair[0]}.pub"), usage=usage)
    release = kiosk_of(app).library.release()
    search._language.cache_clear()
    assert "search.html" not in {name for _, name in app.jinja_env.cache}
    assert front.warm_search(app, release) == len(release.languages)
    assert len(release.searches) == len(release.languages)  # one result page each, kept
    assert "search.html" in {name for _, name in app.jinja_env.cache}
    assert search._language.cache_info().currsize == len(release.languages)
    again = create_app(device_settings(tmp_path, f"{keypair[0]}.pub"), usage=usage)
    assert len(kiosk_of(again).library.release().searches) == 0
    assert front.Pages(again, tmp_path / "www").refresh() > 0
    assert len(kiosk_of(again).library.release().searches) == len(release.languages)
    usage.flush()
    db = sqlite3.connect(tmp_path / "usage.db")
    tables = [name for (name,) in db.execute("select name from sqlite_master where type='table'")]
    counted = {t: db.execute(f"select count(*) from {t}").fetchone()[0] for t in tables}  # noqa: S608
    db.close()
    assert not any(counted.values()), counted
