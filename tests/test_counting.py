"""Open visits: constant work per request, bounded memory, and still one visit per phone."""

from __future__ import annotations

from kiosk.web import counting
from kiosk.web.counting import Visits


def test_a_returning_cookie_is_the_same_visit_and_keeps_its_languages():
    visits = Visits(minutes=30)
    token, new, langs = visits.touch(None)
    assert new and langs == set()
    langs.add("ne")
    again, new, langs = visits.touch(token)
    assert (again, new, langs) == (token, False, {"ne"})
    assert len(visits) == 1


def test_a_made_up_cookie_starts_a_new_visit():
    visits = Visits(minutes=30)
    token, new, _ = visits.touch("not-one-we-gave")
    assert new and token != "not-one-we-gave"


def test_a_visit_ends_after_its_minutes(monkeypatch):
    clock = [1000.0]
    monkeypatch.setattr(counting.time, "monotonic", lambda: clock[0])
    visits = Visits(minutes=1)
    token, _, _ = visits.touch(None)
    clock[0] += 59
    assert visits.touch(token)[1] is False  # seen again: its minute starts over
    clock[0] += 61
    assert visits.touch(token)[1] is True
    assert len(visits) == 1  # the ended one was dropped, not kept


def test_ended_visits_are_dropped_as_time_passes_not_only_when_the_table_is_full(monkeypatch):
    clock = [0.0]
    monkeypatch.setattr(counting.time, "monotonic", lambda: clock[0])
    visits = Visits(minutes=1)
    for _ in range(500):
        visits.touch(None)
    clock[0] += 120
    visits.touch(None)
    assert len(visits._seen) == 1


def test_cookieless_phones_cannot_grow_the_table_past_its_limit():
    visits = Visits(minutes=30, limit=1000)
    kept, _, _ = visits.touch(None)
    for _ in range(5000):
        visits.touch(None)  # a phone that drops cookies: a new visit every page
        visits.touch(kept)  # a real visitor keeps reading all the while
    assert len(visits._seen) == 1000
    assert visits.touch(kept)[1] is False  # the one still reading is remembered
