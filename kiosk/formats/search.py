"""The release's full-text index: one writer (the build) and one reader (the device).

Words are cut and keyed in Python by ``kiosk.words`` (whole words in every script, stemmed
and folded), and SQLite's FTS5 only stores and ranks the keys: its ``ascii`` tokenizer splits
on the spaces between keys and takes every other character as part of a word. The index is
contentless; the ``passages`` table keeps the text as written, and the snippet around the
matched words is cut here, so highlights cover whole words.

A guide's title and summary are a passage of their own (section ``intro``). Ranking is
FTS5's BM25 with a title worth more than a heading, a heading more than a summary, and a
summary more than body text. Query keys of four letters or more also match longer keys
(राहदानी finds राहदानीको's stem and compounds); shorter ones match whole keys only, so
दो does not find every word that starts with द.

The device never stems a passage: the build writes the keys of every word the passages' text
holds (``word_keys``), and the snippet looks them up. Stemming in pure Python is what a search
cost on a kiosk that had just started: some 80 ms of CPU for a language's first search, half
a second of a Pi's time while every phone waited (benchmarks/load_bench.py). An index without
that table (built before it) is still read: its words are stemmed on the device as before.

What a search reads again and again is read once per release and language (``_Language``),
and each server thread keeps its connection to the live index open: together they took an
uncached search of any word of the guides from 1.88 to 1.16 ms (benchmarks/search_bench.py).

Indexes made before this scheme (``user_version`` 0: unicode61 over the text) are still
read, so a kiosk keeps searching the release it has until a new one comes.
"""

from __future__ import annotations

import bisect
import functools
import itertools
import re
import sqlite3
import threading
import unicodedata
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from kiosk import words
from kiosk.text import fold_for_search, strip_arabic_marks

SCHEME = 2
MAX_QUERY_CHARS = 200
MAX_TERMS = 8
WEIGHTS = (10.0, 3.0, 5.0, 1.0)  # title, summary, heading, body
SNIPPET_WORDS = 18
RELEVANT_SHARE = 0.25  # results scoring less than this share of the best are left out
# A key found in more than this share of a language's passages says little ("the", "को"):
# it is left out of a query that has other words.
COMMON_SHARE = 0.3
MARK, UNMARK = "\x02", "\x03"


def guide_texts(catalog: dict, lang: str | None = None) -> list[str]:
    """The guides' words as a release's catalog holds them (titles, summaries, headings and
    sections with their markup taken out), in one language or in all."""
    texts = []
    for guide in catalog["guides"]:
        for tag, text in guide["text"].items():
            if lang is None or tag == lang:
                texts += [text["title"], text["summary"]]
                texts += [s["heading"] + " " + re.sub(r"<[^>]+>", " ", s["html"])
                          for s in text["sections"]]  # fmt: skip
    return texts


def catalog_words(catalog: dict) -> set[str]:
    """Every word a release's catalog uses (interface words, titles, summaries, sections),
    folded: a failed search's capitalised word is kept as a need only if it is one of these
    (kiosk.text.unmet_term)."""
    texts = [w for words in catalog["ui"].values() for w in words.values()]
    texts += guide_texts(catalog)
    tokens = {raw for text in texts for raw in text.split()}  # each distinct one folded once
    found = set()
    for raw in tokens:
        word = "".join(ch for ch in raw if unicodedata.category(ch)[0] in "LM")
        if word:
            found.add(fold_for_search(word))
    return found


def _open(path: Path | str) -> sqlite3.Connection:
    """The release's index, read-only: the release folder never changes once verified."""
    return sqlite3.connect(f"file:{path}?mode=ro&immutable=1", uri=True)


_readers = threading.local()


def _reader(path: str) -> sqlite3.Connection:
    """This thread's connection to the live release's index, kept open. Opening it for each
    search (reading the schema, preparing the query again) cost 0.38 ms of the query's
    0.45 ms. A thread keeps one connection; a search in a new release's index closes it and
    opens that one."""
    held = getattr(_readers, "held", None)
    if held is not None and held[0] == path:
        return held[1]
    if held is not None:
        held[1].close()
    db = _open(path)
    _readers.held = (path, db)
    return db


def known_words(path: Path) -> set[str] | None:
    """The release's words as its build listed them, or None for an index made before."""
    db = _open(path)
    try:
        return {word for (word,) in db.execute("SELECT word FROM known_words")}
    except sqlite3.OperationalError:
        return None
    finally:
        db.close()


def build_index(path: Path, passages: Iterable[dict], known: Iterable[str] = ()) -> int:
    """Write a fresh index at ``path``.

    Each passage has guide, lang, section, heading and body; an ``intro`` passage has title
    and summary instead of heading and body. ``known``: the release's words
    (``catalog_words``), listed so that a kiosk need not work them out at its first search.
    """
    path.unlink(missing_ok=True)
    db = sqlite3.connect(path)
    try:
        db.executescript(
            f"""
            PRAGMA user_version = {SCHEME};
            CREATE TABLE passages (id INTEGER PRIMARY KEY, guide TEXT, lang TEXT, section TEXT,
                                   title TEXT, heading TEXT, body TEXT);
            CREATE TABLE common (lang TEXT, key TEXT, PRIMARY KEY (lang, key)) WITHOUT ROWID;
            CREATE VIRTUAL TABLE passages_fts USING fts5(title, summary, heading, body,
                                   tokenize = 'ascii', content = '');
            CREATE TABLE word_keys (lang TEXT, word TEXT, keys TEXT, PRIMARY KEY (lang, word))
                                   WITHOUT ROWID;
            CREATE TABLE known_words (word TEXT PRIMARY KEY) WITHOUT ROWID;
            """
        )
        n = 0
        seen: dict[str, Counter] = {}
        keyed_words: dict[tuple[str, str], str] = {}
        for n, p in enumerate(passages, start=1):
            lang = p["lang"]
            title, summary = p.get("title", ""), p.get("summary", "")
            heading, body = p.get("heading", ""), p.get("body", "")
            db.execute(
                "INSERT INTO passages VALUES (?, ?, ?, ?, ?, ?, ?)",
                (n, p["guide"], lang, p["section"], title, heading or title, body or summary),
            )
            keyed = [words.keys(t, lang) for t in (title, summary, heading, body)]
            db.execute(
                "INSERT INTO passages_fts (rowid, title, summary, heading, body) "
                "VALUES (?, ?, ?, ?, ?)",
                (n, *(" ".join(k for word in ks for k in word) for ks in keyed)),
            )
            seen.setdefault(lang, Counter()).update({word[0] for ks in keyed for word in ks})
            seen[lang]["\0passages"] += 1
            text = body or summary  # what a snippet is cut from
            for a, b in words.spans(text):
                if (lang, text[a:b]) not in keyed_words:
                    keyed_words[lang, text[a:b]] = " ".join(words.key(text[a:b], lang))
        db.executemany("INSERT INTO known_words VALUES (?)", [(w,) for w in sorted(set(known))])
        db.executemany(
            "INSERT INTO word_keys VALUES (?, ?, ?)",
            [(lang, word, ks) for (lang, word), ks in sorted(keyed_words.items())],
        )
        for lang, counts in seen.items():
            total = counts.pop("\0passages")
            db.executemany(
                "INSERT INTO common VALUES (?, ?)",
                [(lang, k) for k, c in counts.items() if c > COMMON_SHARE * total >= 3],
            )
        db.execute("CREATE INDEX passages_lang ON passages (lang)")
        db.execute("INSERT INTO passages_fts (passages_fts) VALUES ('optimize')")
        db.commit()
        db.execute("VACUUM")
    finally:
        db.close()
    return n


def query_keys(query: str, lang: str) -> list[tuple[str, ...]]:
    """The keys of each distinct word a visitor typed, at most MAX_TERMS words."""
    found: list[tuple[str, ...]] = []
    for k in words.keys(query[:MAX_QUERY_CHARS], lang):
        if k not in found:
            found.append(k)
    return found[:MAX_TERMS]


def _prefix(k: str) -> bool:
    return words.letters(k) >= words.MIN_PREFIX_LETTERS


def _term(word: tuple[str, ...]) -> str:
    # A key holds only letters, marks and digits, so quoting it lets no FTS5 syntax through.
    return "(" + " OR ".join(f'"{k}"*' if _prefix(k) else f'"{k}"' for k in word) + ")"


@dataclass(frozen=True)
class _Language:
    """What a search in one language of one release reads again and again, read once: the
    release's folder never changes. ``places``: each passage text's word spans and words;
    ``words_of``: the words that have each key; ``keys``: those keys, sorted (the keys that
    start with a typed key are a run of them)."""

    scheme: int
    common: frozenset[str]
    places: dict[str, tuple[list[tuple[int, int]], list[str]]]
    words_of: dict[str, list[str]]
    keys: list[str]

    def matched(self, wanted: list[tuple[str, ...]]) -> set[str]:
        """The passages' words a search matches: each has a key equal to a wanted key, or
        starting with one of four letters or more. Found from the keys, not word by word:
        a search reads only the words it marks."""
        found: set[str] = set()
        for k in {k for word in wanted for k in word}:
            found.update(self.words_of.get(k, ()))
            if _prefix(k):
                at = bisect.bisect_right(self.keys, k)
                while at < len(self.keys) and self.keys[at].startswith(k):
                    found.update(self.words_of[self.keys[at]])
                    at += 1
        return found


def _places(text: str) -> tuple[list[tuple[int, int]], list[str]]:
    spans = words.spans(text)
    return spans, [text[a:b] for a, b in spans]


@functools.lru_cache(maxsize=32)
def _language(path: str, lang: str) -> _Language:
    """Read ``lang``'s passages once per release: where each word starts and ends, and each
    word's keys as the build wrote them (an index built before ``word_keys`` has its words
    keyed here, as the device always did for it). Finding a passage's words one character at
    a time was a third of what a search cost; matching every word of every passage found
    against the typed keys, another third."""
    db = _open(path)
    try:
        scheme = db.execute("PRAGMA user_version").fetchone()[0]
        if scheme < SCHEME:
            return _Language(scheme, frozenset(), {}, {}, [])
        common = frozenset(k for (k,) in db.execute("SELECT key FROM common WHERE lang = ?",
                                                     (lang,)))  # fmt: skip
        bodies = [body for (body,) in db.execute("SELECT body FROM passages WHERE lang = ?",
                                                  (lang,))]  # fmt: skip
        try:
            rows = db.execute("SELECT word, keys FROM word_keys WHERE lang = ?", (lang,))
            built = {word: tuple(keys.split(" ")) for word, keys in rows}
        except sqlite3.OperationalError:  # built before word_keys
            built = {}
    finally:
        db.close()
    places = {body: _places(body) for body in bodies}
    words_of: dict[str, list[str]] = {}
    for word in {w for _, found in places.values() for w in found}:
        for k in built.get(word) or words.key(word, lang):
            words_of.setdefault(k, []).append(word)
    return _Language(scheme, common, places, words_of, sorted(words_of))


def snippet(
    text: str,
    marked: set[str],
    places: tuple[list[tuple[int, int]], list[str]],
    size: int = SNIPPET_WORDS,
) -> str:
    """A piece of the text around the most matched words, each matched word marked whole.
    ``marked``: the words to mark (``_Language.matched``); ``places``: the text's word spans
    and words (``_Language.places``)."""
    spans, found = places
    if not spans:
        return text
    hit = [word in marked for word in found]
    # The first window of ``size`` words with the most matches, from running totals.
    totals = list(itertools.accumulate(hit, initial=0))
    sums = [totals[i + size] - totals[i] for i in range(len(totals) - size)] or [totals[-1]]
    best = sums.index(max(sums))
    chosen = range(best, min(len(spans), best + size))
    start = 0 if best == 0 else spans[best][0]
    end = len(text) if chosen[-1] == len(spans) - 1 else spans[chosen[-1]][1]
    out = ["" if start == 0 else "…"]
    at = start
    for i in chosen:
        if hit[i]:
            a, b = spans[i]
            out += [text[at:a], MARK, text[a:b], UNMARK]
            at = b
    out += [text[at:end], "" if end == len(text) else "…"]
    return "".join(out)


def search(path: Path, query: str, lang: str, limit: int = 20) -> list[dict]:
    """Find passages in one language; every word must match, or failing that, any word."""
    language = _language(str(path), lang)
    db = _reader(str(path))
    if language.scheme < SCHEME:
        return _search_unicode61(db, query, lang, limit)
    wanted = query_keys(query, lang)
    wanted = [w for w in wanted if w[0] not in language.common] or wanted
    if not wanted:
        return []
    terms = [_term(k) for k in wanted]
    rows: list = []
    for joiner in (" AND ", " OR "):
        rows = db.execute(
            "SELECT p.guide, p.section, p.heading, p.body, bm25(passages_fts, ?, ?, ?, ?) AS r "
            "FROM passages_fts f JOIN passages p ON p.id = f.rowid "
            "WHERE passages_fts MATCH ? AND p.lang = ? ORDER BY r LIMIT ?",
            (*WEIGHTS, joiner.join(terms), lang, limit),
        ).fetchall()
        if rows or len(terms) == 1:
            break
    # BM25 is negative, better the lower. A passage far below the best one only mentions
    # the words in passing: leave it out.
    best = rows[0][4] if rows else 0.0
    marked = language.matched(wanted) if rows else set()
    return [
        {
            "guide": g,
            "section": s,
            "heading": h,
            "snippet": snippet(body, marked, language.places[body]),
        }
        for g, s, h, body, rank in rows
        if rank <= best * RELEVANT_SHARE
    ]


def _search_unicode61(db: sqlite3.Connection, query: str, lang: str, limit: int) -> list[dict]:
    """Search an index built before whole-word keys (a release made by an older build)."""
    terms = []
    for word in strip_arabic_marks(query[:MAX_QUERY_CHARS]).split():
        word = "".join(ch for ch in word if ch not in '"*^:(){}[]+-\0').strip(".,;!?¿¡।؟'")
        if word:
            terms.append(f'"{word}"*')
    rows: list = []
    for joiner in (" ", " OR "):
        if not terms:
            break
        rows = db.execute(
            "SELECT p.guide, p.section, p.heading, "
            "snippet(passages_fts, 1, char(2), char(3), '…', 16) "
            "FROM passages_fts JOIN passages p ON p.id = passages_fts.rowid "
            "WHERE passages_fts MATCH ? AND p.lang = ? ORDER BY passages_fts.rank LIMIT ?",
            (joiner.join(terms[:MAX_TERMS]), lang, limit),
        ).fetchall()
        if rows or len(terms) == 1:
            break
    return [{"guide": g, "section": s, "heading": h, "snippet": snip} for g, s, h, snip in rows]
