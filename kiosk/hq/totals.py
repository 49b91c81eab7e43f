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
from kiosk.vocabulary import HQ_K

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
    start: dt.date | None = None  # the first month counted (any day of it)
    end: dt.date | None = None  # the last month counted (any day of it)
    device: str | None = None
    country: str | None = None


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


def reach(root: Path, filters: Filters = Filters(), tags: dict | None = None) -> Reach:
    """Headquarters' reach under ``filters``, from the rollups ingest keeps (cells of k+)."""
    tags = guide_tags(root) if tags is None else tags
    db = open_hq(root)
    try:
        return _reach(db, filters, tags)
    finally:
        db.close()


def months_of(start: str, end: str) -> list[str]:
    """Every month from ``start`` to ``end`` (YYYY-MM), both included."""
    months, year, month = [], int(start[:4]), int(start[5:7])
    while f"{year:04d}-{month:02d}" <= end:
        months.append(f"{year:04d}-{month:02d}")
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return months


def rollup(db, months: set[str] | None = None, k: int = HQ_K) -> None:
    """Sum the cells of at least ``k`` of each month into the rollup tables the pages read.

    Ingest calls it for the months it touched (a day rewritten changes only its month);
    ``months=None`` rolls up every month (after a kiosk changed country, or another k).
    """
    if months is None:
        found = db.execute("SELECT min(day), max(day) FROM (SELECT day FROM guide_day UNION ALL "
                           "SELECT day FROM channel_day)").fetchone()  # fmt: skip
        months = set(months_of(found[0][:7], found[1][:7])) if found[0] else set()
        with db.conn:
            for table in ("views_by_country", "views_by_device", "visits_by_country",
                          "visits_by_device", "device_month"):  # fmt: skip
                db.execute(f"DELETE FROM {table}")  # noqa: S608 - our own names
    country = "coalesce(k.country, '?')"
    with db.conn:
        db.execute("DELETE FROM rollup_state")
        db.execute("INSERT INTO rollup_state VALUES (?)", [k])
        for month in sorted(months):
            span = [month, f"{month}-01", f"{month}-99", k]
            for table in ("views_by_country", "views_by_device", "visits_by_country",
                          "visits_by_device", "device_month"):  # fmt: skip
                db.execute(f"DELETE FROM {table} WHERE month = ?", [month])  # noqa: S608
            views = ("FROM guide_day g LEFT JOIN kiosks k ON k.device = g.device "
                     "WHERE g.day >= ? AND g.day <= ? AND g.views >= ?")  # fmt: skip
            visits = ("FROM channel_day c LEFT JOIN kiosks k ON k.device = c.device "
                      "WHERE c.day >= ? AND c.day <= ? AND c.visits >= ?")  # fmt: skip
            db.execute(f"INSERT INTO views_by_device SELECT ?, g.device, {country}, g.guide, "
                       f"g.lang, g.channel, sum(g.views) {views} GROUP BY 2, 4, 5, 6",
                       span)  # fmt: skip
            db.execute(f"INSERT INTO views_by_country SELECT ?, {country}, g.guide, g.lang, "
                       f"g.channel, sum(g.views) {views} GROUP BY 2, 3, 4, 5", span)  # fmt: skip
            db.execute(f"INSERT INTO visits_by_device SELECT ?, c.device, {country}, c.channel, "
                       f"sum(c.visits) {visits} GROUP BY 2, 4", span)  # fmt: skip
            db.execute(f"INSERT INTO visits_by_country SELECT ?, {country}, c.channel, "
                       f"sum(c.visits) {visits} GROUP BY 2, 3", span)  # fmt: skip
            db.execute(
                "INSERT INTO device_month SELECT ?, device, country, sum(visits), sum(views) "
                "FROM (SELECT device, country, visits, 0 AS views FROM visits_by_device "
                "WHERE month = ? UNION ALL SELECT device, country, 0, views FROM views_by_device "
                "WHERE month = ?) GROUP BY device",
                [month, month, month],
            )


def _where(f: Filters) -> tuple[str, list]:
    where, args = ["1"], []
    if f.start:
        where.append("month >= ?")
        args.append(f.start.isoformat()[:7])
    if f.end:
        where.append("month <= ?")
        args.append(f.end.isoformat()[:7])
    if f.country:
        where.append("country = ?")
        args.append(f.country)
    if f.device:
        where.append("device = ?")
        args.append(f.device)
    return " AND ".join(where), args


def _reach(db, filters: Filters, tags: dict) -> Reach:
    """The figures from the rollups (whole months: a filter's days count by their month)."""
    row = db.execute("SELECT k FROM rollup_state").fetchone()
    result = Reach(k=row[0] if row else HQ_K)
    where, args = _where(filters)
    by = "device" if filters.device else "country"
    views, visits = f"views_by_{by}", f"visits_by_{by}"

    def grouped(select: str, table: str) -> list[tuple]:
        sql = f"SELECT {select} FROM {table} WHERE {where} GROUP BY 1 ORDER BY 1"  # noqa: S608
        return db.execute(sql, args).fetchall()

    def total(column: str, table: str) -> int:
        sql = f"SELECT coalesce(sum({column}), 0) FROM {table} WHERE {where}"  # noqa: S608
        return db.execute(sql, args).fetchone()[0]

    result.visits, result.views = total("visits", visits), total("views", views)
    visits_month = dict(grouped("month, sum(visits)", visits))
    views_month = dict(grouped("month, sum(views)", views))
    result.by_month = [(m, visits_month.get(m, 0), views_month.get(m, 0))
                       for m in sorted({*visits_month, *views_month})]  # fmt: skip
    result.by_kiosk = [
        (d, v, w) for d, v, w in db.execute(
            f"SELECT device, sum(visits), sum(views) FROM device_month WHERE {where} "  # noqa: S608
            "GROUP BY device ORDER BY device", args)
    ]  # fmt: skip
    result.kiosks_active = len(result.by_kiosk)
    visits_country = dict(grouped("country, sum(visits)", visits))
    views_country = dict(grouped("country, sum(views)", views))
    result.by_country = [(c, visits_country.get(c, 0), views_country.get(c, 0))
                         for c in sorted({*visits_country, *views_country})]  # fmt: skip
    result.by_channel = [(CHANNEL_WORDS.get(ch, ch), n)
                         for ch, n in grouped("channel, sum(visits)", visits)]  # fmt: skip
    result.by_language = _largest(grouped("lang, sum(views)", views))
    per_guide = grouped("guide, sum(views)", views)
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
