"""What one search costs the app, with its result pages kept per release and without.

Run: .venv/bin/python benchmarks/search_bench.py   (also part of ./dev bench)

2,000 searches in the five sample languages, through Flask's test client (no network, no
server threads: the app's own cost), one after the other: the load bench's common words, then
any word of the guides (as the load bench's other half). Prints the mean per search both ways,
in one run.

Then a kiosk's first searches after it starts, each case in a fresh process: the first search
in each of the five languages, with the release's index as the build writes it (every word's
keys and the release's words listed) and with a copy of it without those two tables (an index
built before them, so the kiosk stems the passages' words itself). Asserts nothing.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.load_bench import SEARCH_WORDS, guide_words  # noqa: E402
from kiosk.config import load_settings  # noqa: E402
from kiosk.content.build import build_release  # noqa: E402
from kiosk.device.install import ReleaseStore  # noqa: E402
from kiosk.device.web import create_app  # noqa: E402
from kiosk.device.web.state import kiosk_of  # noqa: E402
from kiosk.formats.manifest import (  # noqa: E402
    generate_key,
    load_private_key,
    write_manifest,
)
from kiosk.speech import Speaker  # noqa: E402


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
        catalog = json.loads((tmp / "release" / "catalog.json").read_text())
        langs = ("en", "ne", "es", "ar", "ro")
        release = kiosk_of(app).library.release()
        for mix, choices in (
            ("common words", {lang: SEARCH_WORDS for lang in langs}),
            ("any word of the guides", {lang: guide_words(catalog, lang) for lang in langs}),
        ):
            rng = random.Random(1)
            urls = [f"/{lang}/search?q={rng.choice(choices[lang])}" for lang in langs
                    for _ in range(400)]  # fmt: skip
            rng.shuffle(urls)
            for label, size in (("drawn every time", 0), ("kept per release (512)", 512)):
                release.searches.size = size
                release.searches.clear()
                for url in urls[:50]:  # warm: the release loaded, the search index opened once
                    client.get(url, environ_base=phone, headers={"Accept-Encoding": "gzip"})
                started = time.perf_counter()
                for url in urls:
                    client.get(url, environ_base=phone, headers={"Accept-Encoding": "gzip"})
                took = (time.perf_counter() - started) / len(urls) * 1000
                print(f"a search, {mix}, result pages {label}: {took:.2f} ms")
        first_searches(tmp, public)


FIRST = """
import sys, time
from kiosk.config import load_settings
from kiosk.device.web import create_app
app = create_app(load_settings(environ={}, data_dir=sys.argv[1], trusted_keys=[sys.argv[2]]))
client = app.test_client()
client.get("/en/", environ_base={"REMOTE_ADDR": "10.42.0.5"})  # the release loaded
took = []
for lang, word in (("en", "passport"), ("ne", "राहदानी"), ("es", "pasaporte"),
                   ("ar", "جواز"), ("ro", "pașaport")):
    started = time.perf_counter()
    found = client.get(f"/{lang}/search?q={word}", environ_base={"REMOTE_ADDR": "10.42.0.5"})
    took.append((time.perf_counter() - started) * 1000)
    assert found.status_code == 200 and b"<mark>" in found.data, (lang, found.status_code)
print(" ".join(f"{t:.1f}" for t in took), sum(took))
"""


def first_searches(tmp: Path, public) -> None:
    """The first search in each language of a kiosk just started, in a fresh process."""
    import datetime as dt

    older = tmp / "release-older"
    shutil.copytree(tmp / "release", older)
    with sqlite3.connect(older / "search.db") as db:
        db.execute("DROP TABLE word_keys")
        db.execute("DROP TABLE known_words")
    now = dt.datetime.now(dt.UTC)
    write_manifest(older, 2, now, now + dt.timedelta(days=30), load_private_key(tmp / "key"))
    ReleaseStore(tmp / "data-older").install(older, [public])
    print("a kiosk's first search in en, ne, es, ar, ro (ms each; total), a fresh process:")
    for label, data in (("index as built now", tmp / "data"),
                        ("index without the build's keys", tmp / "data-older")):  # fmt: skip
        out = subprocess.run([sys.executable, "-c", FIRST, str(data), public.source], cwd=ROOT,
                             capture_output=True, text=True, check=True).stdout.split()  # fmt: skip
        print(f"  {label:>30}: {' '.join(out[:-1])}; total {float(out[-1]):.0f} ms")


if __name__ == "__main__":
    main()
