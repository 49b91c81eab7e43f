"""Reach for headquarters and donors: visits and guide views, summed from what kiosks sent.

**The k rule at headquarters.** Each kiosk sends only cells of at least its own k (a
librarian may set k as low as 2). Headquarters has its own k (``HQ_K``, 5 unless it is set
higher) and leaves out every stored cell below it *before* adding anything up. So every figure
shown is a sum of whole cells that are each k or more, and the figures do not depend on the
small cells at all: change any cell below k to any other value below k (or remove it) and
every page, chart and export shows exactly the same numbers. Nothing about a small cell can
therefore be worked out by subtracting one shown figure from another, whatever filters are
chosen; and where one filter's cells are a part of another's, the difference of their totals
is itself a sum of whole cells, so 0 or at least k (tests/test_reach.py proves both with
Hypothesis).

Views are also added up along each guide's journey steps, resilience dimensions and support
types (from the newest published release's catalog); a guide with two steps counts toward
both, so those bars add up to more than the total views.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path

from kiosk.hq.database import open_hq
from kiosk.hq.report import guide_tags

HQ_K = 5
STEP_WORDS = {
    "origin": "First steps at origin",
    "transit": "Crossing borders",
    "camp": "Migrant camps",
    "arrival": "Arrival",
    "stay": "Long-term stay",
    "return": "Return",
}
DIMENSION_WORDS = {
    "regulatory": "Regulatory safety",
    "financial": "Financial capital",
    "physical": "Physical capital",
    "human": "Human capital",
    "social": "Social capital",
    "natural": "Natural capital",
}
SUPPORT_WORDS = {
    "assistance": "Assistance",
    "protection": "Protection",
    "awareness": "Awareness raising",
    "advocacy": "Advocacy",
}
CHANNEL_WORDS = {"screen": "Touchscreen", "phone": "Phones"}


@dataclass(frozen=True)
class Filters:
    start: dt.date | None = None  # first day counted
    end: dt.date | None = None  # last day counted
    device: str | None = None
    country: str | None = None

    def sql(self, alias: str) -> tuple[str, list]:
        """The WHERE conditions for a table of day cells, joined to kiosks as ``k``."""
        where, args = [], []
        if self.start:
            where.append(f"{alias}.day >= ?")
            args.append(self.start.isoformat())
        if self.end:
            where.append(f"{alias}.day <= ?")
            args.append(self.end.isoformat())
        if self.device:
            where.append(f"{alias}.device = ?")
            args.append(self.device)
        if self.country:
            where.append("k.country = ?")
            args.append(self.country)
        return (" AND " + " AND ".join(where)) if where else "", args


@dataclass
class Reach:
    k: int
    visits: int = 0
    views: int = 0
    kiosks_active: int = 0
    by_month: list[tuple[str, int, int]] = field(default_factory=list)  # month, visits, views
    by_kiosk: list[tuple[str, int, int]] = field(default_factory=list)
    by_country: list[tuple[str, int, int]] = field(default_factory=list)
    by_channel: list[tuple[str, int]] = field(default_factory=list)  # visits
    by_language: list[tuple[str, int]] = field(default_factory=list)  # views
    by_guide: list[tuple[str, int]] = field(default_factory=list)
    by_step: list[tuple[str, int]] = field(default_factory=list)
    by_dimension: list[tuple[str, int]] = field(default_factory=list)
    by_support: list[tuple[str, int]] = field(default_factory=list)

    def figures(self) -> list[int]:
        """Every number this report shows (for the tests of the k rule)."""
        out = [self.visits, self.views]
        for rows in (self.by_month, self.by_kiosk, self.by_country):
            for row in rows:
                out.extend(row[1:])
        for rows in (self.by_channel, self.by_language, self.by_guide, self.by_step,
                     self.by_dimension, self.by_support):  # fmt: skip
            out.extend(n for _, n in rows)
        return out


def reach(root: Path, filters: Filters = Filters(), k: int = HQ_K, tags: dict | None = None):
    """Headquarters' reach under ``filters``: only cells of at least ``k`` are added up."""
    tags = guide_tags(root) if tags is None else tags
    db = open_hq(root)
    try:
        return _reach(db, filters, k, tags)
    finally:
        db.close()


def _reach(db, filters: Filters, k: int, tags: dict) -> Reach:
    visits_where, visits_args = filters.sql("c")
    views_where, views_args = filters.sql("g")
    visits_from = (
        "FROM channel_day c LEFT JOIN kiosks k ON k.device = c.device "
        f"WHERE c.visits >= ?{visits_where}"
    )
    views_from = (
        "FROM guide_day g LEFT JOIN kiosks k ON k.device = g.device "
        f"WHERE g.views >= ?{views_where}"
    )
    va, ga = [k, *visits_args], [k, *views_args]

    def grouped(select: str, frm: str, args: list, group: str) -> list[tuple]:
        return db.execute(f"SELECT {select} {frm} GROUP BY {group} ORDER BY 1", args).fetchall()

    result = Reach(k=k)
    result.visits = db.execute(f"SELECT coalesce(sum(c.visits), 0) {visits_from}", va).fetchone()
    result.visits = result.visits[0]
    result.views = db.execute(f"SELECT coalesce(sum(g.views), 0) {views_from}", ga).fetchone()[0]
    visits_month = dict(grouped("substr(c.day, 1, 7), sum(c.visits)", visits_from, va, "1"))
    views_month = dict(grouped("substr(g.day, 1, 7), sum(g.views)", views_from, ga, "1"))
    result.by_month = [
        (m, visits_month.get(m, 0), views_month.get(m, 0))
        for m in sorted({*visits_month, *views_month})
    ]
    visits_kiosk = dict(grouped("c.device, sum(c.visits)", visits_from, va, "1"))
    views_kiosk = dict(grouped("g.device, sum(g.views)", views_from, ga, "1"))
    result.by_kiosk = [
        (d, visits_kiosk.get(d, 0), views_kiosk.get(d, 0))
        for d in sorted({*visits_kiosk, *views_kiosk})
    ]
    result.kiosks_active = len(result.by_kiosk)
    visits_country = dict(grouped("coalesce(k.country, '?'), sum(c.visits)", visits_from, va, "1"))
    views_country = dict(grouped("coalesce(k.country, '?'), sum(g.views)", views_from, ga, "1"))
    result.by_country = [
        (c, visits_country.get(c, 0), views_country.get(c, 0))
        for c in sorted({*visits_country, *views_country})
    ]
    result.by_channel = [
        (CHANNEL_WORDS.get(ch, ch), n)
        for ch, n in grouped("c.channel, sum(c.visits)", visits_from, va, "1")
    ]
    result.by_language = _largest(grouped("g.lang, sum(g.views)", views_from, ga, "1"))
    per_guide = grouped("g.guide, sum(g.views)", views_from, ga, "1")
    result.by_guide = _largest(per_guide)
    steps: dict[str, int] = {}
    dimensions: dict[str, int] = {}
    support: dict[str, int] = {}
    for guide, n in per_guide:
        for key, into in (("steps", steps), ("dimensions", dimensions), ("support", support)):
            for tag in tags.get(guide, {}).get(key, []):
                into[tag] = into.get(tag, 0) + n
    result.by_step = [(STEP_WORDS[s], steps[s]) for s in STEP_WORDS if s in steps]
    result.by_dimension = [(DIMENSION_WORDS[d], dimensions[d]) for d in DIMENSION_WORDS
                           if d in dimensions]  # fmt: skip
    result.by_support = [(SUPPORT_WORDS[s], support[s]) for s in SUPPORT_WORDS if s in support]
    return result


def _largest(rows: list[tuple[str, int]]) -> list[tuple[str, int]]:
    return sorted(rows, key=lambda row: (-row[1], row[0]))
