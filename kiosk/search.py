"""The release's full-text index: one writer (the build) and one reader (the device).

Built with sqlite-utils: a ``passages`` table and its FTS5 index ``passages_fts``, whose
unicode61 tokenizer folds case and removes Latin accents itself
(``remove_diacritics 2``); Arabic vowel marks are stripped on both sides by us. Stored text
keeps its case and accents, so snippets read naturally.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable
from pathlib import Path

import sqlite_utils

from kiosk.text import strip_arabic_marks

TOKENIZER = "unicode61 remove_diacritics 2"
MAX_QUERY_CHARS = 200
MAX_TERMS = 8


def build_index(path: Path, passages: Iterable[dict]) -> int:
    """Write a fresh index at ``path`` from passages (guide, lang, section, heading, body)."""
    path.unlink(missing_ok=True)
    db = sqlite_utils.Database(path)
    try:
        rows = [
            {
                "id": n,
                "guide": p["guide"],
                "lang": p["lang"],
                "section": p["section"],
                "heading": strip_arabic_marks(p["heading"]),
                "body": strip_arabic_marks(p["body"]),
            }
            for n, p in enumerate(passages, start=1)
        ]
        db["passages"].insert_all(rows, pk="id")
        db["passages"].create_index(["lang"])
        db["passages"].enable_fts(["heading", "body"], tokenize=TOKENIZER)
        db["passages"].optimize()
        db.vacuum()
    finally:
        db.close()
    return len(rows)


def query_terms(query: str) -> list[str]:
    """Turn what a visitor typed into safe FTS5 prefix terms (no operators get through)."""
    text = strip_arabic_marks(query[:MAX_QUERY_CHARS])
    terms = []
    for word in text.split():
        word = "".join(ch for ch in word if ch not in '"*^:(){}[]+-\0').strip(".,;!?¿¡।؟'")
        if word:
            terms.append(f'"{word}"*')
    return terms[:MAX_TERMS]


def search(path: Path, query: str, lang: str, limit: int = 20) -> list[dict]:
    """Find passages in one language; every word must match, or failing that, any word."""
    terms = query_terms(query)
    if not terms:
        return []
    db = sqlite3.connect(f"file:{path}?mode=ro&immutable=1", uri=True)
    try:
        for joiner in (" ", " OR "):
            rows = db.execute(
                "SELECT p.guide, p.section, p.heading, "
                "snippet(passages_fts, 1, char(2), char(3), '…', 16) "
                "FROM passages_fts JOIN passages p ON p.id = passages_fts.rowid "
                "WHERE passages_fts MATCH ? AND p.lang = ? ORDER BY passages_fts.rank LIMIT ?",
                (joiner.join(terms), lang, limit),
            ).fetchall()
            if rows or len(terms) == 1:
                break
    finally:
        db.close()
    return [{"guide": g, "section": s, "heading": h, "snippet": snip} for g, s, h, snip in rows]
