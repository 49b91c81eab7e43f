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

Indexes made before this scheme (``user_version`` 0: unicode61 over the text) are still
read, so a kiosk keeps searching the release it has until a new one comes.
"""

from __future__ import annotations

import sqlite3
from collections import Counter
from collections.abc import Iterable
from pathlib import Path

from kiosk import words
from kiosk.text import strip_arabic_marks

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


def build_index(path: Path, passages: Iterable[dict]) -> int:
    """Write a fresh index at ``path``.

    Each passage has guide, lang, section, heading and body; an ``intro`` passage has title
    and summary instead of heading and body.
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
            """
        )
        n = 0
        seen: dict[str, Counter] = {}
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


def _matches(found: tuple[str, ...], wanted: list[tuple[str, ...]]) -> bool:
    return any(
        k == w or (_prefix(w) and k.startswith(w)) for k in found for word in wanted for w in word
    )


def snippet(text: str, lang: str, wanted: list[tuple[str, ...]], size: int = SNIPPET_WORDS) -> str:
    """A piece of the text around the most matched words, each matched word marked whole."""
    spans = words.spans(text)
    hit = [_matches(words.key(text[a:b], lang), wanted) for a, b in spans]
    if not spans:
        return text
    best = max(range(max(1, len(spans) - size + 1)), key=lambda i: (sum(hit[i : i + size]), -i))
    chosen = range(best, min(len(spans), best + size))
    start = 0 if best == 0 else spans[best][0]
    end = len(text) if chosen[-1] == len(spans) - 1 else spans[chosen[-1]][1]
    out = ["" if start == 0 else "…"]
    at = start
    for i in chosen:
        a, b = spans[i]
        if hit[i]:
            out += [text[at:a], MARK, text[a:b], UNMARK]
            at = b
    out += [text[at:end], "" if end == len(text) else "…"]
    return "".join(out)


def search(path: Path, query: str, lang: str, limit: int = 20) -> list[dict]:
    """Find passages in one language; every word must match, or failing that, any word."""
    db = sqlite3.connect(f"file:{path}?mode=ro&immutable=1", uri=True)
    try:
        if db.execute("PRAGMA user_version").fetchone()[0] < SCHEME:
            return _search_unicode61(db, query, lang, limit)
        wanted = query_keys(query, lang)
        common = {k for (k,) in db.execute("SELECT key FROM common WHERE lang = ?", (lang,))}
        wanted = [w for w in wanted if w[0] not in common] or wanted
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
    finally:
        db.close()
    # BM25 is negative, better the lower. A passage far below the best one only mentions
    # the words in passing: leave it out.
    best = rows[0][4] if rows else 0.0
    return [
        {"guide": g, "section": s, "heading": h, "snippet": snippet(body, lang, wanted)}
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
