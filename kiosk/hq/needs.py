"""What people looked for and did not find, across the fleet, and headquarters' word on it.

Each kiosk sends the week's failed search terms that at least k different visits used
(kiosk.usage). Headquarters leaves out every stored row below its own k (as the reach figures
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
from kiosk.hq.totals import HQ_K
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
    kiosks: set[str] = field(default_factory=set)
    weeks: set[str] = field(default_factory=set)
    spellings: Counter = field(default_factory=Counter)
    mark: str = ""
    guide: str = ""
    marked_by: str = ""
    marked_at: str = ""

    @property
    def shown(self) -> str:
        """The spelling people used most (ties: the first in order)."""
        return min(self.spellings.items(), key=lambda kv: (-kv[1], kv[0]))[0]


def needs(root: Path, k: int = HQ_K, lang: str | None = None) -> list[Need]:
    """Every need that passes k at headquarters, most searched first."""
    db = open_hq(root)
    try:
        rows = db.execute(
            "SELECT device, week, lang, term, searches FROM unmet_week "
            "WHERE searches >= ? AND (? IS NULL OR lang = ?)",
            [k, lang, lang],
        ).fetchall()
        marks = {
            (r[0], r[1]): r[2:]
            for r in db.execute("SELECT lang, term, mark, guide, who, at FROM need_marks")
        }
    finally:
        db.close()
    merged: dict[tuple[str, str], Need] = {}
    for device, week, tag, term, searches in rows:
        key = (tag, normal(term))
        if not key[1]:
            continue
        need = merged.setdefault(key, Need(tag, key[1]))
        need.searches += searches
        need.kiosks.add(device)
        need.weeks.add(week)
        need.spellings[term.strip()] += searches
    for key, need in merged.items():
        if key in marks:
            need.mark, need.guide, need.marked_by, need.marked_at = marks[key]
            need.guide = need.guide or ""
    found = [n for n in merged.values() if n.searches >= k]
    return sorted(found, key=lambda n: (-n.searches, n.lang, n.term))


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
