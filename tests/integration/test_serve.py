"""The real server (waitress) against raw, hostile HTTP: clear 4xx answers, never a crash."""

from __future__ import annotations

import socket
import urllib.request
from pathlib import Path

import pytest

from tests.conftest import Server


@pytest.fixture(scope="module")
def server(device_dir, keypair):
    server = Server(device_dir, Path(f"{keypair[0]}.pub"))
    yield server
    server.stop()


def raw(server: Server, request: bytes) -> bytes:
    """Send raw bytes; return what came back (a server may reset after refusing)."""
    chunks = []
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as s:
        try:
            s.sendall(request)
            while chunk := s.recv(65536):
                chunks.append(chunk)
        except (ConnectionResetError, BrokenPipeError):
            pass
    return b"".join(chunks)


def status(response: bytes) -> int:
    return int(response.split(b" ", 2)[1])


@pytest.mark.parametrize(
    "request_bytes",
    [
        b"GET /\xff\xfe/ HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n",
        b"GET /en/search?q=\xff\x00\xfe HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n",
        b"GET /en/ HTTP/1.1\r\nHost: localhost\r\nX-Big: " + b"a" * 20000 + b"\r\n\r\n",
        b"GET /" + b"a" * 20000 + b" HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n",
        b"GET /media/100/../../../../etc/passwd HTTP/1.1\r\nHost: localhost\r\n"
        b"Connection: close\r\n\r\n",
        b"POST /portal/continue HTTP/1.1\r\nHost: localhost\r\nContent-Length: 999999999\r\n"
        b"Connection: close\r\n\r\nx",
        b"GARBAGE\r\n\r\n",
        b"GET /en/ HTTP/1.1\r\nHost: \xff\xfe\r\nConnection: close\r\n\r\n",
    ],
    ids=[
        "bad utf-8 path",
        "bad utf-8 query",
        "huge header",
        "huge path",
        "dot-dot",
        "huge body",
        "garbage",
        "bad host",
    ],
)
def test_hostile_requests_get_4xx_or_redirect_and_the_server_carries_on(server, request_bytes):
    response = raw(server, request_bytes)
    assert response.startswith(b"HTTP/1.")
    assert 300 <= status(response) < 500, response[:200]  # refused or sent elsewhere
    assert b"root:" not in response
    with urllib.request.urlopen(server.url + "/en/", timeout=5) as ok:  # noqa: S310 - loopback
        assert ok.status == 200


def test_serve_writes_no_access_log(server):
    for _ in range(5):
        with urllib.request.urlopen(server.url + "/ne/?marker=CANARY42", timeout=5):  # noqa: S310
            pass
    server.stop()
    assert "CANARY42" not in server.output
    assert "127.0.0.1" not in server.output.replace(f"http://127.0.0.1:{server.port}/", "")


def test_a_busy_server_warns_once_a_minute_not_once_a_request(device_dir, keypair):
    """With one worker thread and 40 phones at once, waitress would log "Task queue depth"
    for nearly every request; the kiosk lets one such line through a minute."""
    from concurrent.futures import ThreadPoolExecutor

    busy = Server(device_dir, Path(f"{keypair[0]}.pub"), KIOSK_THREADS="1")

    def fetch(_):
        with urllib.request.urlopen(busy.url + "/en/search?q=passport", timeout=30) as r:  # noqa: S310
            return r.status

    try:
        with ThreadPoolExecutor(40) as pool:
            statuses = list(pool.map(fetch, range(400)))
    finally:
        busy.stop()
    assert statuses == [200] * 400
    queue_lines = [line for line in busy.output.splitlines() if "Task queue depth" in line]
    assert 1 <= len(queue_lines) <= 2, busy.output[-3000:]
    assert "127.0.0.1" not in busy.output.replace(busy.url, "")


def test_each_languages_search_is_readied_before_the_first_phone_is_answered(device_dir, keypair):
    """A language's first search set up its stemmer, its words and the page: on a Pi's CPU
    that held every phone up for about a second after each start. `kiosk serve` searches
    once in each language first, and only then listens."""
    from kiosk.device.library import Library

    languages = Library(device_dir, [keypair[1]]).release().languages
    server = Server(device_dir, Path(f"{keypair[0]}.pub"))
    server.stop()
    lines = server.output.splitlines()
    readied = [n for n, line in enumerate(lines) if line.startswith("Search readied in ")]
    serving = [n for n, line in enumerate(lines) if line.startswith("Serving the guides")]
    assert readied and serving and readied[0] < serving[0], server.output
    assert lines[readied[0]].startswith(f"Search readied in {len(languages)} languages ")
    # and what was loaded to start is kept out of the collector's full walks
    frozen = [line for line in lines[: serving[0]] if "kept out of the collector" in line]
    assert frozen and int(frozen[0].split()[0].replace(",", "")) > 10_000, server.output
