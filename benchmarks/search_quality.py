"""How well search finds what visitors look for: the old index and the new, side by side.

Run: .venv/bin/python benchmarks/search_quality.py   (also part of ./dev bench)

The sample guides are indexed twice, in one run:
- "unicode61": the index releases had until 2026-12 (SQLite's unicode61 tokenizer over the
  text, sections only, no titles or summaries), read by kiosk.formats.search's reader for
  old indexes;
- "words": kiosk.formats.search's index (whole words keyed by kiosk.words, titles and summaries).
Each language's labelled queries (benchmarks/search_queries/<lang>.toml) are run against
both. For each query, the first 10 results are compared with the passages a reader would want:
- precision: the share of results that are wanted (a query that should find nothing scores 1
  when it finds nothing and 0 otherwise);
- recall: the share of wanted passages found (queries that should find nothing are left out).
Then the size of each index, and the 95th percentile of one search's time. Asserts nothing.
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
import tomllib
from pathlib import Path

import sqlite_utils

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from kiosk.content.build import index_passages, render_guide  # noqa: E402
from kiosk.content.source import load_content  # noqa: E402
from kiosk.formats.search import build_index, search  # noqa: E402
from kiosk.text import strip_arabic_marks  # noqa: E402

QUERIES = ROOT / "benchmarks" / "search_queries"
TOP = 10


def passages(content_dir: Path) -> list[dict]:
    content = load_content(content_dir)
    found: list[dict] = []
    for guide in content.guides:
        for lang in guide.texts:
            found += index_passages(guide.id, lang, *render_guide(guide, lang))
    return found


def build_unicode61(path: Path, rows: list[dict]) -> None:
    """The index as releases had it before: sections only, unicode61 over the text."""
    db = sqlite_utils.Database(path)
    db["passages"].insert_all(
        (
            {"id": n, "guide": p["guide"], "lang": p["lang"], "section": p["section"],
             "heading": strip_arabic_marks(p["heading"]), "body": strip_arabic_marks(p["body"])}
            for n, p in enumerate((p for p in rows if p["section"] != "intro"), start=1)
        ),
        pk="id",
    )  # fmt: skip
    db["passages"].enable_fts(["heading", "body"], tokenize="unicode61 remove_diacritics 2")
    db.vacuum()
    db.close()


def score(index: Path, queries: list[dict], lang: str) -> tuple[float, float, int, list[float]]:
    precision, recall, silent, times = [], [], 0, []
    for query in queries:
        started = time.perf_counter()
        hits = search(index, query["q"], lang, limit=TOP)
        times.append(time.perf_counter() - started)
        found = [f"{h['guide']}#{h['section']}" for h in hits]
        wanted = set(query["expect"])
        if not wanted:
            precision.append(0.0 if found else 1.0)
            silent += not found
            continue
        precision.append(len(wanted & set(found)) / len(found) if found else 0.0)
        recall.append(len(wanted & set(found)) / len(wanted))
    return statistics.mean(precision), statistics.mean(recall), silent, times


def main() -> None:
    rows = passages(ROOT / "content")
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        indexes = {"unicode61": tmp / "old.db", "words": tmp / "new.db"}
        build_unicode61(indexes["unicode61"], rows)
        started = time.perf_counter()
        build_index(indexes["words"], rows)
        built = time.perf_counter() - started
        print(f"{'lang':5} {'queries':>7} {'none':>5}   {'precision':>19}   {'recall':>19}")
        print(f"{'':19}   {'unicode61':>9} {'words':>9}   {'unicode61':>9} {'words':>9}")
        times: dict[str, list[float]] = {name: [] for name in indexes}
        totals: dict[str, list[float]] = {}
        for path in sorted(QUERIES.glob("*.toml")):
            lang = path.stem
            queries = tomllib.loads(path.read_text(encoding="utf-8"))["query"]
            nones = sum(1 for q in queries if not q["expect"])
            line = f"{lang:5} {len(queries):7} {nones:5}  "
            results = {}
            for name, index in indexes.items():
                results[name] = score(index, queries, lang)
                times[name] += results[name][3]
            for n in (0, 1):
                line += " " + "".join(f" {results[name][n]:9.2f}" for name in indexes) + " "
            print(line)
            for name in indexes:
                totals.setdefault(f"{name} p", []).append(results[name][0])
                totals.setdefault(f"{name} r", []).append(results[name][1])
        means = {k: statistics.mean(v) for k, v in totals.items()}
        line = f"{'mean':19}  "
        for what in ("p", "r"):
            line += " " + "".join(f" {means[f'{name} {what}']:9.2f}" for name in indexes) + " "
        print(line)
        for name, index in indexes.items():
            p95 = statistics.quantiles(times[name], n=20)[-1] * 1000
            print(
                f"{name}: index {index.stat().st_size / 1024:.0f} KiB, one search p95 {p95:.2f} ms"
            )
        print(f"words index built in {built:.2f} s ({len(rows)} passages)")


if __name__ == "__main__":
    main()
