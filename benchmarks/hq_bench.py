"""Headquarters at fleet scale: ingest, database size and page times for 10,000 kiosks.

Run: .venv/bin/python benchmarks/hq_bench.py [--kiosks 10000] [--days 365]

A synthetic fleet with realistic sparsity: 10,000 kiosks in 25 countries, a year of days.
Kiosks differ (a few busy, most quiet, about a tenth mostly switched off); on a day it is on, a
kiosk sends the cells that reach k = 5: a few guide cells, its channels, busy hours, and its
week's unmet terms. Heartbeats come every day a kiosk is on.

1. The year before today goes straight into hq.db through ingest's own writer (one
   transaction a day, as a bulk import would); its time is printed as "year, bulk".
2. Then one day of every kiosk arrives as files (a snapshot and a heartbeat per kiosk in
   inbox/<kiosk>/) and ``kiosk.hq.ingest`` takes it in as it does every day: "one day".
3. Each page of headquarters' app is asked for 20 times (after one warm-up) for the whole
   fleet and for one country; the 50th and 95th percentiles are printed.
Goals (issue 17): one day's ingest under 60 s; every page under 500 ms on this machine.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import random
import re
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from kiosk.device.usage import write_snapshot
from kiosk.formats.snapshot import TABLES, snapshot, week_of
from kiosk.hq.accounts import Accounts
from kiosk.hq.database import open_hq
from kiosk.hq.ingest import ingest
from kiosk.hq.totals import rollup
from kiosk.hq.web import create_hq_app
from tests.hq_fleet import UNMET, guides, publish_stand_in

K = 5
ROUNDS = 20
COUNTRIES = [f"{a}{b}" for a, b in zip("ABCDEFGHIJKLMNOPQRSTUVWXY", "ZYXWVUTSRQPONMLKJIHGFEDCB",
                                       strict=True)]  # fmt: skip
LANGS = ("en", "ne", "es", "ro", "ar")
PAGES = ["/fleet", "/reach", "/needs", "/kiosk/k00001"]


def fleet(n: int, rng: random.Random) -> list[dict]:
    kiosks = []
    for i in range(n):
        country = COUNTRIES[i % len(COUNTRIES)]
        kiosks.append({
            "name": f"k{i:05d}", "country": country,
            "busy": rng.lognormvariate(0, 0.8),  # most quiet, a few busy
            "on": 0.15 if rng.random() < 0.1 else rng.uniform(0.6, 0.98),
            "langs": ("en", LANGS[1 + i % 4]),
        })  # fmt: skip
    return kiosks


def day_of(kiosk: dict, day: dt.date, rng: random.Random, guide_ids: list[str]) -> dict:
    """One kiosk's day, as its usage database would hold it (before the k cut)."""
    iso, week = day.isoformat(), week_of(day)
    busy = kiosk["busy"]
    views = []
    for guide in rng.sample(guide_ids, k=min(len(guide_ids), 1 + int(busy * 3))):
        for lang in kiosk["langs"]:
            n = int(rng.expovariate(1 / (busy * 6)))
            views.append({"day": iso, "guide": guide, "lang": lang, "channel": "phone",
                          "views": n, "listens_started": n // 2, "listens_finished": n // 3,
                          "helpful_yes": n // 5, "helpful_no": n // 12})  # fmt: skip
    visits = int(busy * rng.uniform(6, 25))
    unmet = [{"week": week, "lang": lang, "term": term, "searches": int(busy * rng.uniform(0, 12))}
             for lang, term in UNMET["NP"][: 1 + int(busy)]]  # fmt: skip
    return {
        "guide_day": views,
        "channel_day": [
            {"day": iso, "channel": "phone", "visits": visits, "pages": visits * 4},
            {"day": iso, "channel": "screen", "visits": visits // 3, "pages": visits},
        ],
        "language_day": [
            {
                "day": iso,
                "lang": kiosk["langs"][1],
                "channel": "phone",
                "choices": visits,
                "searches_found": visits // 4,
                "searches_missed": visits // 8,
            }
        ],
        "hour_day": [{"day": iso, "hour": h, "pages": int(visits * 4 / 8)} for h in (10, 11, 15)],
        "unmet_week": unmet,
    }


def beat(kiosk: dict, day: dt.date, release: int, rng: random.Random) -> dict:
    return {"format": 1, "day": day.isoformat(), "release": release,
            "disk_free": rng.uniform(2, 20) * 1e9, "disk_total": 32e9,
            "temperature": rng.uniform(40, 75), "uptime": 3600, "errors": {"failures": 0},
            "last_sync": "up to date", "last_sync_ok": True}  # fmt: skip


def bulk_year(root: Path, kiosks: list[dict], days: list[dt.date], rng, guide_ids) -> dict:
    """The year through ingest's own row writer, one transaction a day."""
    db = open_hq(root)
    db.execute("PRAGMA synchronous = NORMAL")
    rows = 0
    with db.conn:
        db.conn.executemany(
            "INSERT INTO kiosks VALUES (?, ?, ?, ?)",
            [(k["name"], k["country"], f"Library {k['name']}", "2025-01-01") for k in kiosks],
        )
    for day in days:
        tables = {t: [] for t in TABLES}
        beats = []
        for kiosk in kiosks:
            if rng.random() > kiosk["on"]:
                continue
            data = snapshot(day_of(kiosk, day, rng, guide_ids), day.isoformat(),
                            kiosk["name"], K)  # fmt: skip
            for table, cells in data["tables"].items():
                keys, columns = TABLES[table]
                for cell in cells:
                    tables[table].append((kiosk["name"], *[cell[k] for k in keys],
                                          *[cell.get(c) for c in columns]))  # fmt: skip
            beats.append((kiosk["name"], day.isoformat(),
                          json.dumps(beat(kiosk, day, 12, rng)),
                          f"{day.isoformat()}T12:00:00+00:00", "ssh"))  # fmt: skip
        with db.conn:
            for table, values in tables.items():
                keys, columns = TABLES[table]
                names = ["device", *keys, *columns]
                db.conn.executemany(
                    f"INSERT OR REPLACE INTO {table} ({', '.join(names)}) "  # noqa: S608
                    f"VALUES ({', '.join('?' for _ in names)})",
                    values,
                )
                rows += len(values)
            db.conn.executemany("INSERT OR REPLACE INTO heartbeat_day VALUES (?, ?, ?, ?, ?)",
                                beats)  # fmt: skip
            db.conn.executemany(
                "INSERT OR REPLACE INTO devices VALUES (?, ?, ?)",
                [(b[0], b[2], b[3]) for b in beats],
            )
    started = time.perf_counter()
    rollup(db)
    rolled = time.perf_counter() - started
    db.close()
    return {"rows": rows, "rollup": rolled}


def one_day_files(root: Path, kiosks: list[dict], day: dt.date, rng, guide_ids) -> int:
    files = 0
    for kiosk in kiosks:
        if rng.random() > kiosk["on"]:
            continue
        inbox = root / "inbox" / kiosk["name"]
        inbox.mkdir(parents=True, exist_ok=True)
        write_snapshot(inbox, snapshot(day_of(kiosk, day, rng, guide_ids), day.isoformat(),
                                       kiosk["name"], K))  # fmt: skip
        (inbox / "heartbeat.json").write_text(json.dumps(beat(kiosk, day, 12, rng)))
        files += 2
    return files


def page_times(root: Path, country: str) -> list[tuple[str, float, float]]:
    if Accounts(root).role_of("bench") is None:
        Accounts(root).add("bench", "viewer", "a benchmark password")
    client = create_hq_app(root).test_client()
    token = re.search(r'name="csrf" value="([^"]+)"', client.get("/").get_data(as_text=True))[1]
    client.post("/sign-in", data={"csrf": token, "user": "bench",
                                  "password": "a benchmark password"})  # fmt: skip
    out = []
    for path in [
        *PAGES,
        f"/fleet?country={country}",
        f"/reach?country={country}",
        f"/reach?country={country}&from=2026-06&to=2026-06",
        "/reach/by_kiosk.csv",
    ]:
        client.get(path)  # warm-up
        times = []
        for _ in range(ROUNDS):
            started = time.perf_counter()
            answer = client.get(path)
            times.append(time.perf_counter() - started)
            assert answer.status_code == 200, (path, answer.status_code)
        times.sort()
        out.append((path, statistics.median(times) * 1000,
                    times[int(len(times) * 0.95) - 1] * 1000))  # fmt: skip
        print(f"page {path:52} p50 {out[-1][1]:7.0f} ms   p95 {out[-1][2]:7.0f} ms"
              "   (goal: under 500 ms)", flush=True)  # fmt: skip
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--kiosks", type=int, default=10_000)
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument(
        "--pages-of",
        metavar="ROOT",
        help="Only time the pages, on a root an earlier run left behind.",
    )
    args = parser.parse_args()
    if args.pages_of:
        page_times(Path(args.pages_of), COUNTRIES[0])
        return
    rng = random.Random(7)
    guide_ids = [g["id"] for g in guides()]
    kiosks = fleet(args.kiosks, rng)
    today = dt.date(2026, 12, 1)
    days = [today - dt.timedelta(days=d) for d in range(args.days, 0, -1)]
    with tempfile.TemporaryDirectory(prefix="hq-bench-") as folder:
        root = Path(folder) / "root"
        publish_stand_in(root, (10, 11, 12))
        started = time.perf_counter()
        made = bulk_year(root, kiosks, days, rng, guide_ids)
        year = time.perf_counter() - started
        print(f"fleet: {args.kiosks:,} kiosks, {args.days} days, {made['rows']:,} cells")
        print(f"year, bulk (ingest's rows, a transaction a day)   {year:8.1f} s"
              f"   (of which the monthly rollups: {made['rollup']:.1f} s)")  # fmt: skip
        files = one_day_files(root, kiosks, today, rng, guide_ids)
        started = time.perf_counter()
        report = ingest(root, now=dt.datetime(2026, 12, 1, 12, tzinfo=dt.UTC))
        one_day = time.perf_counter() - started
        print(f"one day through files ({files:,} files, {report['ingested']:,} snapshots)"
              f"   {one_day:8.1f} s   (goal: under 60 s)")  # fmt: skip
        size = sum(p.stat().st_size for p in root.glob("hq.db*"))
        print(f"hq.db                                              {size / 1e9:8.2f} GB")
        page_times(root, kiosks[0]["country"])


if __name__ == "__main__":
    main()
