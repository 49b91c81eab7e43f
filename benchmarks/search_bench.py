"""What one search costs the app, with its result pages kept per release and without.

Run: .venv/bin/python benchmarks/search_bench.py   (also part of ./dev bench)

2,000 searches over the load bench's words in the five sample languages, through Flask's test
client (no network, no server threads: the app's own cost), one after the other. Prints the
mean per search both ways, in one run. Asserts nothing.
"""

from __future__ import annotations

import os
import random
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.load_bench import SEARCH_WORDS  # noqa: E402
from kiosk.config import load_settings  # noqa: E402
from kiosk.releases.build import build_release  # noqa: E402
from kiosk.releases.install import ReleaseStore  # noqa: E402
from kiosk.releases.manifest import generate_key  # noqa: E402
from kiosk.speech import Speaker  # noqa: E402
from kiosk.web import create_app  # noqa: E402


def main() -> None:
    default = Path.home() / ".cache" / "first-mile-kiosk" / "speech"
    cache = Path(os.environ.get("KIOSK_SPEECH_CACHE_DIR", default))
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        public = generate_key(tmp / "key")
        build_release(ROOT / "content", tmp / "release", tmp / "key", Speaker(cache), version=1)
        ReleaseStore(tmp / "data").install(tmp / "release", [public])
        settings = load_settings(environ={}, data_dir=str(tmp / "data"),
                                 trusted_keys=[public.source])  # fmt: skip
        app = create_app(settings)
        client = app.test_client()
        phone = {"REMOTE_ADDR": "10.42.0.5"}
        rng = random.Random(1)
        langs = ("en", "ne", "es", "ar", "ro")
        urls = [
            f"/{lang}/search?q={rng.choice(SEARCH_WORDS)}" for lang in langs for _ in range(400)
        ]
        rng.shuffle(urls)
        release = app.extensions["kiosk.library"].release()
        for label, size in (("drawn every time", 0), ("kept per release (512)", 512)):
            release.searches.size = size
            for url in urls[:50]:  # warm: the release loaded, the search index opened once
                client.get(url, environ_base=phone, headers={"Accept-Encoding": "gzip"})
            started = time.perf_counter()
            for url in urls:
                client.get(url, environ_base=phone, headers={"Accept-Encoding": "gzip"})
            took = (time.perf_counter() - started) / len(urls) * 1000
            print(f"a search, result pages {label}: {took:.2f} ms")


if __name__ == "__main__":
    main()
