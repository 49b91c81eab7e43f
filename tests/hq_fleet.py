"""A small example fleet for headquarters' app: kiosks that send heartbeats day after day.

Everything arrives as in the field: each kiosk's heartbeat is written into inbox/<kiosk>/ (or
a USB stick's inbox) and taken in by ``ingest``, a day at a time, as if that many days ago. Places
are examples, not real libraries. Used by the browser test and benchmarks/screenshots.py.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

from kiosk.hq import add_device, ingest

GB = 1_000_000_000
# name, country, place, what goes wrong (None: nothing)
KIOSKS = [
    ("pokhara-1", "NP", "Example public library, Pokhara", None),
    ("pokhara-2", "NP", "Example community centre, Lekhnath", "full"),
    ("dhangadhi-1", "NP", "Example library, Dhangadhi", "silent"),
    ("janakpur-1", "NP", "Example youth centre, Janakpur", None),
    ("oaxaca-1", "MX", "Example biblioteca, Oaxaca", "behind"),
    ("puebla-1", "MX", "Example centro comunitario, Puebla", None),
    ("cahul-1", "MD", "Example library, Cahul", "hot"),
    ("balti-1", "MD", "Example community centre, Bălți", "stick"),
]


def demo_fleet(root: Path, days: int = 30, releases: tuple[int, ...] = (10, 11, 12),
               today: dt.date | None = None) -> None:  # fmt: skip
    """Add the example kiosks and replay ``days`` days of their heartbeats up to ``today``."""
    today = today or dt.date.today()
    for name, country, place, _ in KIOSKS:
        add_device(root, name, country=country, place=place)
    stick = root.parent / "returned-stick" / "inbox"
    for back in range(days - 1, -1, -1):
        day = today - dt.timedelta(days=back)
        newest = releases[min(len(releases) - 1, (days - 1 - back) * len(releases) // days)]
        by_stick = []
        for i, (name, _, _, trouble) in enumerate(KIOSKS):
            if trouble == "silent" and back < 5:
                continue
            release = releases[0] if trouble == "behind" else newest
            used = 0.3 + 0.004 * (days - back) + (0.6 if trouble == "full" else 0)
            beat = {
                "format": 1, "day": day.isoformat(), "release": release,
                "disk_free": (1 - min(used, 0.97)) * 32 * GB, "disk_total": 32 * GB,
                "temperature": (81 + back % 5 if trouble == "hot" else 48 + (i * 3 + back) % 9),
                "uptime": 3600 * (1 + back % 20), "errors": {"failures": 0},
                "last_sync": "up to date", "last_sync_ok": True,
            }  # fmt: skip
            if trouble == "stick" and back % 7:
                continue  # a kiosk with no internet: its figures come on a stick once a week
            inbox = stick if trouble == "stick" else root / "inbox"
            (inbox / name).mkdir(parents=True, exist_ok=True)
            (inbox / name / "heartbeat.json").write_text(json.dumps(beat))
            by_stick.append(trouble == "stick")
        then = dt.datetime.now(dt.UTC) - dt.timedelta(days=back)
        ingest(root, now=then)
        if any(by_stick):
            ingest(root, stick, now=then)
    for version in releases:  # what headquarters has published (only the folders the page reads)
        folder = root / "releases" / "stable" / str(version)
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "manifest.json").write_text("{}")


if __name__ == "__main__":  # python -m tests.hq_fleet ROOT: an example root to look around in
    import sys

    from kiosk.hq.accounts import Accounts

    where = Path(sys.argv[1])
    Accounts(where).add("demo", "admin", "demo password, not for real use")
    demo_fleet(where)
    print(f"kiosk hq serve --root {where}   (sign in as demo / demo password, not for real use)")
