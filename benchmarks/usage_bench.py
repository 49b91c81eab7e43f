"""Figures for usage counting: cost per request, flush cost, snapshot bytes per device-day.

Run: ./dev bench   (or .venv/bin/python benchmarks/usage_bench.py)
"""

from __future__ import annotations

import datetime as dt
import gzip
import json
import random
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from kiosk.content.build import build_release  # noqa: E402
from kiosk.device.install import ReleaseStore  # noqa: E402
from kiosk.device.usage import Usage, read_counts, snapshot  # noqa: E402
from kiosk.device.web import create_app  # noqa: E402
from kiosk.formats.manifest import generate_key  # noqa: E402
from kiosk.speech import Speaker  # noqa: E402
from tests.conftest import FIXTURE_CONTENT, device_settings  # noqa: E402


class NoCounting(Usage):
    """The same app with every count a no-op, for the side-by-side figure."""

    def _add(self, *args, **kwargs) -> None:
        return None


def per_request(app, n: int = 3000) -> float:
    client = app.test_client()
    env = {"REMOTE_ADDR": "10.42.0.5"}
    client.get("/en/guide/passport", environ_base=env)
    started = time.perf_counter()
    for _ in range(n):
        client.get("/en/guide/passport", environ_base=env).close()
    return (time.perf_counter() - started) / n * 1e6


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        key = tmp / "key"
        public = generate_key(key)
        build_release(FIXTURE_CONTENT, tmp / "rel", key, Speaker(tmp / "cache"), version=1)
        ReleaseStore(tmp / "data").install(tmp / "rel", [public])
        settings = device_settings(tmp / "data", Path(public.source))

        counting = Usage(tmp / "a.db", start=False)
        silent = NoCounting(tmp / "b.db", start=False)
        with_counts = per_request(create_app(settings, usage=counting))
        without = per_request(create_app(settings, usage=silent))

        usage = Usage(tmp / "c.db", start=False)
        started = time.perf_counter()
        for _ in range(1_000_000):
            usage.count_view("passport", "ne", "phone")
        increment = (time.perf_counter() - started) / 1_000_000 * 1e9

        # A busy day: 600 visits, 9 guides x 5 languages x 2 channels, searches, hours.
        rng = random.Random(1)
        guides = [f"guide-{n}" for n in range(9)]
        langs = ["en", "ne", "es", "ar", "ro"]
        day_usage = Usage(tmp / "day.db", start=False)
        for visit in range(600):
            channel = rng.choice(["phone", "phone", "screen"])
            lang = rng.choice(langs)
            day_usage.count_visit(channel)
            day_usage.count_language(lang, channel)
            for _ in range(rng.randint(1, 6)):
                day_usage.count_page(channel)
                day_usage.count_view(rng.choice(guides), lang, channel)
            if rng.random() < 0.3:
                day_usage.count_listen(rng.choice(guides), lang, channel, rng.random() < 0.5)
            if rng.random() < 0.2:
                day_usage.count_search(
                    lang,
                    channel,
                    rng.random() < 0.6,
                    rng.choice(["visa", "loan", "divorce"]),
                    visit=f"visit-{visit}",
                )
        started = time.perf_counter()
        day_usage.flush()
        flush_ms = (time.perf_counter() - started) * 1000
        day_usage.close()
        today = dt.date.today().isoformat()
        snap = json.dumps(
            snapshot(read_counts(tmp / "day.db"), today, "kiosk-1", 5), separators=(",", ":")
        ).encode()

    print(f"one count (in-memory increment)         {increment:8.0f} ns")
    print(f"guide page, counting on                 {with_counts:8.0f} us per request")
    print(f"guide page, counting off                {without:8.0f} us per request")
    print(f"counting cost per request               {with_counts - without:8.0f} us")
    print(f"flush of a busy day's counts (one txn)  {flush_ms:8.1f} ms")
    packed = len(gzip.compress(snap))
    print(f"snapshot per device-day (busy day)      {len(snap):8d} bytes, {packed} gzipped")


if __name__ == "__main__":
    main()
