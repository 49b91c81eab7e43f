"""The real `kiosk serve` stopped by SIGTERM, as systemd stops it: every count kept, no crash."""

from __future__ import annotations

import sqlite3
import time
import urllib.request
from pathlib import Path

import pytest

from kiosk.device.usage import read_counts
from tests.conftest import Server

VIEWS = 9
FLUSH = 5  # seconds between the server's flushes: a wide window, and a short test


@pytest.fixture
def data_dir(tmp_path, fixture_release, keypair) -> Path:
    """A device of its own, so the counts read back are this test's alone."""
    from kiosk.device.install import ReleaseStore

    ReleaseStore(tmp_path).install(fixture_release, [keypair[1]])
    return tmp_path


def view(server: Server, times: int) -> None:
    for _ in range(times):
        with urllib.request.urlopen(server.url + "/en/guide/passport", timeout=10) as page:  # noqa: S310 - loopback
            assert page.status == 200


def views_on_disk(data: Path) -> int:
    if not (data / "usage.db").exists():
        return 0
    rows = read_counts(data / "usage.db")["guide_day"]
    return sum(r["views"] for r in rows if r["guide"] == "passport" and r["lang"] == "en")


def wait_for_views(data: Path, n: int) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if views_on_disk(data) >= n:
                break
        except sqlite3.OperationalError:
            pass  # the server has made the file but not yet its tables
        time.sleep(0.1)
    assert views_on_disk(data) == n


def test_sigterm_writes_the_pending_views_before_the_server_ends(data_dir, keypair):
    # The background thread flushes once (so it holds its own SQLite connection, as in a day of
    # service), then VIEWS more views wait in memory for the next flush, seconds away, when
    # SIGTERM arrives: only the final flush at shutdown can save them.
    server = Server(data_dir, Path(f"{keypair[0]}.pub"), KIOSK_USAGE_FLUSH_SECONDS=str(FLUSH))
    view(server, 1)
    wait_for_views(data_dir, 1)
    view(server, VIEWS)
    assert views_on_disk(data_dir) == 1  # still pending: the next flush is FLUSH seconds away
    server.stop()  # SIGTERM to this process's pid
    assert server.proc.returncode == 0, server.output
    assert "Traceback" not in server.output, server.output
    assert views_on_disk(data_dir) == 1 + VIEWS, server.output
    # A restarted server adds to them rather than starting again.
    again = Server(data_dir, Path(f"{keypair[0]}.pub"), KIOSK_USAGE_FLUSH_SECONDS="3600")
    view(again, 2)
    again.stop()
    assert views_on_disk(data_dir) == 1 + VIEWS + 2, again.output


def test_sigterm_with_nothing_pending_ends_cleanly(data_dir, keypair):
    # Flush every second, and wait until the background thread has written (so it holds an
    # open connection) and nothing is left pending.
    server = Server(data_dir, Path(f"{keypair[0]}.pub"), KIOSK_USAGE_FLUSH_SECONDS="1")
    view(server, 3)
    wait_for_views(data_dir, 3)
    server.stop()
    assert server.proc.returncode == 0, server.output
    assert "Traceback" not in server.output and "Error" not in server.output, server.output
    assert "Stopped; counts saved." in server.output
    assert views_on_disk(data_dir) == 3


def test_sigterm_says_so_when_the_counts_could_not_be_saved(data_dir, keypair):
    (data_dir / "usage.db").write_bytes(b"not a database " * 100)
    server = Server(data_dir, Path(f"{keypair[0]}.pub"), KIOSK_USAGE_FLUSH_SECONDS="3600")
    view(server, 2)
    server.stop()
    assert "Traceback" not in server.output, server.output
    assert "counts saved" not in server.output, server.output
    assert "could not be saved" in server.output and "damaged" in server.output, server.output
