"""What people looked for and did not find, across the fleet, and headquarters' word on it.

Each kiosk sends the week's failed search terms that at least k different visits used
(kiosk.device.usage). Headquarters leaves out every stored row below its own k (as the reach figures
do), then merges the rest per language under a normal form of the term: each word folded as
search folds it (case, accents, Devanagari and Arabic spelling variants; kiosk.words), so
"Visa", "visa " and "vísa" are one need. Each need says how many searches, in how many kiosks
and weeks, and the spelling used most.

A content editor (a publisher) marks a need "answered by guide X", "new guide planned" or "not
relevant"; the mark is kept in hq.db with who made it and when, and shown beside the need.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from kiosk.errors import KioskError
from kiosk.hq.database import open_hq
from kiosk.vocabulary import HQ_K
from kiosk.words import fold, spans

MARKS = {
    "answered": "Answered by a guide",
    "planned": "New guide planned",
    "not_relevant": "Not relevant",
}


def normal(term: str) -> str:
    """The form needs are merged under: the term's words, folded, one space apart."""
    return " ".join(fold(term[a:b]) for a, b in spans(term))


@dataclass
class Need:
    lang: str
    term: str  # the normal form
    searches: int = 0
    kiosks: int = 0  # how many kiosks it was searched at
    weeks: int = 0  # in how many weeks
    spellings: Counter = field(default_factory=Counter)
    mark: str = ""
    guide: str = ""
    marked_by: str = ""
    marked_at: str = ""

    @property
    def shown(self) -> str:
        """The spelling people used most (ties: the first in order)."""
        return min(self.spellings.items(), key=lambda kv: (-kv[1], kv[0]))[0]


def learn_terms(db) -> None:
    """Give every unmet term not seen before its normal form (a few new terms a day)."""
    new = db.execute(
        "SELECT DISTINCT u.lang, u.term FROM unmet_week u LEFT JOIN unmet_terms t "
        "ON t.lang = u.lang AND t.term = u.term WHERE t.term IS NULL"
    ).fetchall()
    if new:
        with db.conn:
            db.conn.executemany(
                "INSERT OR IGNORE INTO unmet_terms VALUES (?, ?, ?)",
                [(lang, term, normal(term)) for lang, term in new],
            )


def roll_up_needs(db, k: int = HQ_K) -> None:
    """Merge every unmet row of at least ``k`` under its term's normal form, for the page.

    Ingest calls it after taking in snapshots: the page then reads a few thousand rows, not
    every kiosk's every week.
    """
    learn_terms(db)
    joined = (
        "FROM unmet_week u JOIN unmet_terms t ON t.lang = u.lang AND t.term = u.term "
        "WHERE u.searches >= ? AND t.norm != ''"
    )
    with db.conn:
        db.execute("DELETE FROM needs_rollup")
        db.execute("DELETE FROM needs_spellings")
        db.execute(
            "INSERT INTO needs_rollup SELECT u.lang, t.norm, sum(u.searches), "
            f"count(DISTINCT u.device), count(DISTINCT u.week) {joined} "
            "GROUP BY u.lang, t.norm HAVING sum(u.searches) >= ?",
            [k, k],
        )
        db.execute(
            "INSERT INTO needs_spellings SELECT u.lang, t.norm, trim(u.term), "
            f"sum(u.searches) {joined} GROUP BY u.lang, t.norm, trim(u.term)",
            [k],
        )


def needs(root: Path, k: int = HQ_K, lang: str | None = None) -> list[Need]:
    """Every need that passes k at headquarters, most searched first (as ingest merged them)."""
    db = open_hq(root)
    try:
        rows = db.execute(
            "SELECT lang, norm, searches, kiosks, weeks FROM needs_rollup "
            "WHERE searches >= ? AND (? IS NULL OR lang = ?)",
            [k, lang, lang],
        ).fetchall()
        spellings = db.execute(
            "SELECT lang, norm, term, searches FROM needs_spellings WHERE (? IS NULL OR lang = ?)",
            [lang, lang],
        ).fetchall()
        marks = {
            (r[0], r[1]): r[2:]
            for r in db.execute("SELECT lang, term, mark, guide, who, at FROM need_marks")
        }
    finally:
        db.close()
    found = {}
    for tag, norm, searches, kiosks, weeks in rows:
        need = found[(tag, norm)] = Need(tag, norm, searches, kiosks, weeks)
        if (tag, norm) in marks:
            need.mark, need.guide, need.marked_by, need.marked_at = marks[(tag, norm)]
            need.guide = need.guide or ""
    for tag, norm, term, searches in spellings:
        if (tag, norm) in found:
            found[(tag, norm)].spellings[term] += searches
    return sorted(found.values(), key=lambda n: (-n.searches, n.lang, n.term))


def mark(root: Path, lang: str, term: str, what: str, guide: str, who: str,
         guides: set[str]) -> None:  # fmt: skip
    """Keep headquarters' mark on a need ("" clears it); the need must be one shown now."""
    if what and what not in MARKS:
        raise KioskError(f"A mark is one of: {', '.join(MARKS)}.")
    if what == "answered" and guide not in guides:
        raise KioskError("Choose the guide that answers it.")
    if not any(n.lang == lang and n.term == term for n in needs(root, lang=lang)):
        raise KioskError("That need is not in the list.")
    db = open_hq(root)
    try:
        with db.conn:
            if not what:
                db.execute("DELETE FROM need_marks WHERE lang = ? AND term = ?", [lang, term])
            else:
                db.execute(
                    "INSERT INTO need_marks VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT DO UPDATE SET "
                    "mark = excluded.mark, guide = excluded.guide, who = excluded.who, "
                    "at = excluded.at",
                    [lang, term, what, guide if what == "answered" else None, who,
                     dt.datetime.now(dt.UTC).replace(microsecond=0).isoformat()],
                )  # fmt: skip
    finally:
        db.close()
