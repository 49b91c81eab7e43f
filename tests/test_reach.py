"""Headquarters' reach: exact sums of what kiosks sent, and the k rule on every figure.

The property tests put cells straight into hq.db's tables (the aggregation is what they
prove); the round trip sends snapshots the way a kiosk writes them, through ingest.
"""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kiosk.hq import add_device, ingest
from kiosk.hq.database import open_hq
from kiosk.hq.totals import Filters, reach
from tests.test_hq_app import send_day

DEVICES = ("np-1", "np-2", "mx-1")
COUNTRY = {"np-1": "NP", "np-2": "NP", "mx-1": "MX"}
DAYS = [dt.date(2026, 10, 30) + dt.timedelta(days=i) for i in range(5)]  # across two months
TAGS = {
    "passport": {"steps": ["origin"], "dimensions": ["regulatory", "human"],
                 "support": ["awareness"]},
    "contract": {"steps": ["origin", "stay"], "dimensions": ["financial"],
                 "support": ["protection"]},
}  # fmt: skip

view_keys = st.tuples(st.sampled_from(DEVICES), st.sampled_from(DAYS),
                      st.sampled_from(sorted(TAGS)), st.sampled_from(("en", "ne")),
                      st.sampled_from(("screen", "phone")))  # fmt: skip
visit_keys = st.tuples(st.sampled_from(DEVICES), st.sampled_from(DAYS),
                       st.sampled_from(("screen", "phone")))  # fmt: skip
counts = st.integers(1, 15)
filters = st.builds(
    Filters,
    start=st.none() | st.sampled_from(DAYS),
    end=st.none() | st.sampled_from(DAYS),
    device=st.none() | st.sampled_from(DEVICES),
    country=st.none() | st.sampled_from(("NP", "MX")),
)


# Every property runs on the same kind of fleet: cells of views and visits, a k, a filter.
examples = settings(max_examples=150, deadline=None,
                    suppress_health_check=[HealthCheck.function_scoped_fixture])  # fmt: skip
cells = given(
    views=st.dictionaries(view_keys, counts, max_size=40),
    visits=st.dictionaries(visit_keys, counts, max_size=20),
    k=st.integers(2, 8),
    f=filters,
    data=st.data(),
)


@pytest.fixture(scope="module")
def db(tmp_path_factory):
    db = open_hq(tmp_path_factory.mktemp("reach"))
    db.execute("INSERT INTO kiosks VALUES ('np-1', 'NP', '', ''), ('np-2', 'NP', '', ''), "
               "('mx-1', 'MX', '', '')")  # fmt: skip
    yield db
    db.close()


def store(db, views: dict, visits: dict) -> None:
    with db.conn:
        db.execute("DELETE FROM guide_day")
        db.execute("DELETE FROM channel_day")
        for (device, day, guide, lang, channel), n in views.items():
            db.execute("INSERT INTO guide_day (device, day, guide, lang, channel, views) "
                       "VALUES (?, ?, ?, ?, ?, ?)",
                       [device, day.isoformat(), guide, lang, channel, n])  # fmt: skip
        for (device, day, channel), n in visits.items():
            db.execute("INSERT INTO channel_day (device, day, channel, visits, pages) "
                       "VALUES (?, ?, ?, ?, ?)",
                       [device, day.isoformat(), channel, n, n])  # fmt: skip


def shown(db, f: Filters, k: int):
    """What the pages show: the rollups at headquarters' k, then the figures from them."""
    from kiosk.hq.totals import _reach, rollup

    rollup(db, None, k)
    return _reach(db, f, TAGS)


def narrower(f: Filters, draw) -> Filters:
    """A filter whose cells are a part of ``f``'s: one more condition, or a shorter range."""
    choice = draw(st.sampled_from(("start", "end", "device", "country")))
    if choice == "device" and f.device is None:
        options = [d for d in DEVICES if f.country in (None, COUNTRY[d])]
        return Filters(f.start, f.end, draw(st.sampled_from(options)), f.country)
    if choice == "country" and f.country is None and f.device is None:
        return Filters(f.start, f.end, f.device, draw(st.sampled_from(("NP", "MX"))))
    if choice == "start":
        later = [d for d in DAYS if f.start is None or d >= f.start]
        return Filters(draw(st.sampled_from(later)), f.end, f.device, f.country)
    earlier = [d for d in DAYS if f.end is None or d <= f.end]
    return Filters(f.start, draw(st.sampled_from(earlier)), f.device, f.country)


@examples
@cells
def test_no_figure_depends_on_a_cell_below_k(db, views, visits, k, f, data):
    """Change every small cell to any other small value, or drop it: nothing shown changes."""
    store(db, views, visits)
    before = shown(db, f, k)
    small = st.one_of(st.none(), st.integers(1, k - 1))
    changed_views = {key: (data.draw(small) if n < k else n) for key, n in views.items()}
    changed_visits = {key: (data.draw(small) if n < k else n) for key, n in visits.items()}
    store(db, {a: n for a, n in changed_views.items() if n},
          {a: n for a, n in changed_visits.items() if n})  # fmt: skip
    assert shown(db, f, k) == before
    assert all(n == 0 or n >= k for n in before.figures())


@examples
@cells
def test_the_difference_of_a_filter_and_a_narrower_one_is_zero_or_at_least_k(
    db, views, visits, k, f, data
):
    store(db, views, visits)
    wide, narrow = shown(db, f, k), shown(db, narrower(f, data.draw), k)
    for a, b in ((wide.views, narrow.views), (wide.visits, narrow.visits)):
        assert a - b == 0 or a - b >= k
    # Within one report too: the total less any one row of a breakdown.
    for _, visits_row, views_row in (*wide.by_month, *wide.by_kiosk, *wide.by_country):
        assert wide.visits - visits_row == 0 or wide.visits - visits_row >= k
        assert wide.views - views_row == 0 or wide.views - views_row >= k


def test_a_small_cell_is_left_out_and_everything_else_is_exact(db):
    day = DAYS[0]
    store(db, {("np-1", day, "passport", "ne", "phone"): 7,
               ("np-1", day, "passport", "en", "phone"): 3,   # below k = 5: left out
               ("mx-1", DAYS[3], "contract", "en", "screen"): 5},
          {("np-1", day, "phone"): 9, ("mx-1", DAYS[3], "screen"): 4})  # fmt: skip
    r = shown(db, Filters(), 5)
    assert (r.views, r.visits, r.kiosks_active) == (12, 9, 2)
    assert r.by_month == [("2026-10", 9, 7), ("2026-11", 0, 5)]
    assert r.by_country == [("MX", 0, 5), ("NP", 9, 7)]
    assert r.by_language == [("ne", 7), ("en", 5)]
    assert r.by_step == [("First steps at origin", 12), ("Long-term stay", 5)]
    assert r.by_dimension == [("Regulatory safety", 7), ("Financial capital", 5),
                              ("Human capital", 7)]  # fmt: skip
    assert r.by_support == [("Protection", 5), ("Awareness raising", 7)]
    nepal = shown(db, Filters(country="NP", start=day, end=day), 5)  # October
    assert (nepal.views, nepal.visits, nepal.by_kiosk) == (7, 9, [("np-1", 9, 7)])


def test_kiosks_snapshots_round_trip_through_ingest_to_exact_reach(tmp_path):
    root = tmp_path / "hq"
    add_device(root, "np-1", country="NP")
    add_device(root, "mx-1", country="MX")
    sent = {"np-1": {"2026-11-02": 11, "2026-12-03": 6}, "mx-1": {"2026-12-03": 8}}
    for device, days in sent.items():
        for day, views in days.items():
            send_day(root, device, day, views, visits=views - 1)
    assert ingest(root)["ingested"] == 3
    r = reach(root, tags=TAGS)
    assert (r.views, r.visits) == (25, 22)
    assert r.by_kiosk == [("mx-1", 7, 8), ("np-1", 15, 17)]
    r = reach(root, Filters(start=dt.date(2026, 12, 3)), tags=TAGS)  # December
    assert (r.views, r.visits, r.by_country) == (14, 12, [("MX", 7, 8), ("NP", 5, 6)])
    assert r.by_step == [("First steps at origin", 14)]
