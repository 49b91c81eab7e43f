"""A small example fleet for headquarters' app: kiosks that send heartbeats day after day.

Everything arrives as in the field: each kiosk's heartbeat is written into inbox/<kiosk>/ (or
a USB stick's inbox) and taken in by ``ingest``, a day at a time, as if that many days ago. Places
are examples, not real libraries. Used by the browser test and benchmarks/screenshots.py.
"""

from __future__ import annotations

import datetime as dt
import json
import random
import tomllib
from pathlib import Path

from kiosk.device.usage import snapshot, write_snapshot
from kiosk.formats.snapshot import week_of
from kiosk.hq import add_device, ingest

CONTENT = Path(__file__).resolve().parent.parent / "content"
LANGS = {"NP": ("ne", "en"), "MX": ("es", "en"), "MD": ("ro", "en", "ar")}
# What people looked for and did not find, per country: (language, term as typed)
UNMET = {
    "NP": [("ne", "भिसा"), ("ne", "म्यानपावर"), ("ne", "Visa"), ("en", "demand letter")],
    "MX": [("es", "visa de trabajo"), ("es", "Visa de trabajo"), ("es", "contrato H-2A")],
    "MD": [("ro", "permis de muncă"), ("ro", "Permis de munca"), ("ar", "تأشيرة عمل")],
}

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
            rng = random.Random(f"{name}{day}")
            counts = day_counts(day.isoformat(), KIOSKS[i][1], rng, 1.5 + i % 3)
            write_snapshot(inbox / name, snapshot(counts, day.isoformat(), name, 5))
            by_stick.append(trouble == "stick")
        then = dt.datetime.now(dt.UTC) - dt.timedelta(days=back)
        ingest(root, now=then)
        if any(by_stick):
            ingest(root, stick, now=then)
    publish_stand_in(root, releases)


def guides() -> list[dict]:
    """The sample guides' ids, titles and tags (content/guides/*)."""
    found = []
    for folder in sorted((CONTENT / "guides").iterdir()):
        meta = tomllib.loads((folder / "guide.toml").read_text(encoding="utf-8"))
        title = (folder / "en.md").read_text(encoding="utf-8").splitlines()[0].lstrip("# ")
        found.append({"id": folder.name, "steps": meta["steps"],
                      "dimensions": meta["dimensions"], "support": meta.get("support", []),
                      "text": {"en": {"title": title}}})  # fmt: skip
    return found


def publish_stand_in(root: Path, releases: tuple[int, ...]) -> None:
    """What the pages read of published releases: a manifest and a catalog of the sample
    guides' titles and tags (a real release is built by ``kiosk hq publish``)."""
    catalog = {"reference": "en", "guides": guides(), "languages": [
        {"tag": "en", "name": "English"}, {"tag": "ne", "name": "नेपाली"},
        {"tag": "es", "name": "Español"}, {"tag": "ro", "name": "Română"},
        {"tag": "ar", "name": "العربية"}]}  # fmt: skip
    for version in releases:
        folder = root / "releases" / "stable" / str(version)
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "manifest.json").write_text("{}")
        (folder / "catalog.json").write_text(json.dumps(catalog, ensure_ascii=False))
    (root / "releases" / "stable" / "LATEST").write_text(f"{releases[-1]}\n")


def day_counts(day: str, country: str, rng: random.Random, busy: float) -> dict:
    """One kiosk's day as its usage database counts it (the snapshot keeps cells of k+)."""
    views, visits = [], []
    for guide in guides():
        for lang in LANGS[country]:
            for channel in ("screen", "phone"):
                n = int(rng.expovariate(1 / (busy * (3 if lang != "en" else 1))))
                views.append({"day": day, "guide": guide["id"], "lang": lang, "channel": channel,
                              "views": n, "listens_started": n // 2, "listens_finished": n // 3,
                              "helpful_yes": n // 4, "helpful_no": n // 9})  # fmt: skip
    for channel in ("screen", "phone"):
        n = int(busy * rng.uniform(8, 20))
        visits.append({"day": day, "channel": channel, "visits": n, "pages": n * 4})
    week = week_of(dt.date.fromisoformat(day))
    weekday = dt.date.fromisoformat(day).weekday() + 1  # the week's searches so far
    unmet = [{"week": week, "lang": lang, "term": term,
              "searches": int(weekday * busy * (1 + i % 2))}
             for i, (lang, term) in enumerate(UNMET[country])]  # fmt: skip
    return {"guide_day": views, "channel_day": visits, "unmet_week": unmet}


if __name__ == "__main__":  # python -m tests.hq_fleet ROOT: an example root to look around in
    import sys

    from kiosk.hq.accounts import Accounts

    where = Path(sys.argv[1])
    Accounts(where).add("demo", "admin", "demo password, not for real use")
    demo_fleet(where)
    print(f"kiosk hq serve --root {where}   (sign in as demo / demo password, not for real use)")
