"""Through the real server: nothing that identifies a visitor is written; kill -9 loses nothing
acknowledged and never corrupts or rewinds the counters."""

from __future__ import annotations

import http.client
import random
import re
import signal
import sqlite3
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from kiosk.device.install import ReleaseStore
from tests.conftest import Server

REQUESTS = 2400


def request(port: int, n: int) -> int:
    """One request carrying unique markers in every place a visitor could be identified by."""
    source = f"127.77.{n // 250}.{n % 250 + 1}"
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10, source_address=(source, 0))
    headers = {
        "User-Agent": f"CanaryAgent{n:05d}",
        "Cookie": f"visit=CanaryCookie{n:05d}; other=CanaryOther{n:05d}",
        "Accept-Language": f"xx-CanaryLang{n:05d}",
        "Referer": f"http://canaryref{n:05d}.example/",
        "X-Forwarded-For": f"10.99.{n // 250}.{n % 250}",
    }
    kind = n % 6
    try:
        if kind == 0:
            conn.request("GET", f"/ne/guide/passport?ref=CanaryQuery{n:05d}", headers=headers)
        elif kind == 1:
            conn.request("GET", f"/en/search?q=canarysearch{n:05d}+Canaryname", headers=headers)
        elif kind == 2:
            body = f"answer=yes&channel=phone&note=CanaryForm{n:05d}"
            conn.request(
                "POST", "/ar/guide/passport/helpful", body=body,
                headers={**headers, "Content-Type": "application/x-www-form-urlencoded"},
            )  # fmt: skip
        elif kind == 3:
            conn.request("GET", "/generate_204", headers={**headers, "Host": "canaryhost.example"})
        elif kind == 4:
            conn.request("POST", "/portal/continue", headers=headers)
        else:
            conn.request("GET", f"/ro/?CanaryParam{n:05d}=1", headers=headers)
        return conn.getresponse().status
    finally:
        conn.close()


def test_canary_markers_never_reach_the_disk_or_the_logs(tmp_path, fixture_release, keypair):
    data = tmp_path / "data"
    ReleaseStore(data).install(fixture_release, [keypair[1]])
    server = Server(
        data, Path(f"{keypair[0]}.pub"),
        KIOSK_USAGE_FLUSH_SECONDS="1", KIOSK_SNAPSHOT_MINUTES="0", KIOSK_K_ANONYMITY="2",
    )  # fmt: skip
    try:
        with ThreadPoolExecutor(max_workers=8) as pool:
            statuses = list(pool.map(lambda n: request(server.port, n), range(REQUESTS)))
        assert all(s < 500 for s in statuses)
        time.sleep(2.5)  # a flush and a snapshot
    finally:
        server.stop()  # SIGTERM: counts are saved on the way out
    files = [p for p in data.rglob("*") if p.is_file()]
    names = {p.name for p in files}
    assert "usage.db" in names and any(n.startswith("usage-") for n in names)
    counted = (
        sqlite3.connect(data / "usage.db")
        .execute("SELECT sum(views), sum(helpful_yes) FROM guide_day")
        .fetchone()
    )
    assert counted == (REQUESTS // 6, REQUESTS // 6)  # everything acknowledged was kept
    blobs = [(str(p), p.read_bytes()) for p in files if "releases" not in p.parts]
    blobs.append(("server output", server.output.encode()))
    markers = re.compile(rb"(?i)canary|127\.77\.|10\.99\.|xx-")
    hits = [(name, m.group()) for name, blob in blobs for m in markers.finditer(blob)]
    assert hits == []


def views(db: Path) -> int:
    con = sqlite3.connect(db)
    try:
        assert con.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        return con.execute("SELECT coalesce(sum(views), 0) FROM guide_day").fetchone()[0]
    finally:
        con.close()


def test_kill_9_during_heavy_counting_never_corrupts_or_rewinds(tmp_path, fixture_release, keypair):
    data = tmp_path / "data"
    ReleaseStore(data).install(fixture_release, [keypair[1]])
    rng = random.Random(3)
    previous = 0
    grew = 0
    for _round in range(8):
        server = Server(data, Path(f"{keypair[0]}.pub"), KIOSK_USAGE_FLUSH_SECONDS="1")
        stop = threading.Event()

        def load(port=server.port, stop=stop):
            while not stop.is_set():
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
                try:
                    conn.request("GET", "/en/guide/passport")
                    conn.getresponse().read()
                except (OSError, http.client.HTTPException):
                    return  # the server was killed mid-answer
                finally:
                    conn.close()

        threads = [threading.Thread(target=load) for _ in range(4)]
        for t in threads:
            t.start()
        time.sleep(rng.uniform(1.2, 3.0))
        server.proc.send_signal(signal.SIGKILL)
        server.proc.wait()
        stop.set()
        for t in threads:
            t.join()
        server.stop()
        now = views(data / "usage.db")
        assert now >= previous, "a counter went backwards"
        grew += now > previous
        previous = now
    assert grew >= 3  # flushes before the kills were kept (the rule is: never backwards)
