"""Open visits: constant work per request, bounded memory, and still one visit per phone."""

from __future__ import annotations

import time

from kiosk.device.web.state import Visits


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


# Real time, with visits a few seconds long: Visits reads the clock itself.
WINDOW = 3.0  # seconds
SHORT = WINDOW / 60  # Visits(minutes=SHORT) ends a visit WINDOW seconds after its last page


def test_a_visit_ends_when_its_phone_is_away_longer_than_its_minutes():
    visits = Visits(minutes=SHORT)
    token, _, langs = visits.touch(None)
    langs.add("ne")
    time.sleep(WINDOW * 0.6)
    assert visits.touch(token)[1:] == (False, {"ne"})  # seen again: its minutes start over
    time.sleep(WINDOW * 0.6)
    assert visits.touch(token)[1:] == (False, {"ne"})  # past WINDOW since the first page
    time.sleep(WINDOW + 0.3)
    again, new, langs = visits.touch(token)
    assert new and again != token and langs == set()  # a new visit, its languages anew
    assert len(visits) == 1  # the ended one was dropped, not kept


def test_ended_visits_are_dropped_as_time_passes_not_only_when_the_table_is_full():
    visits = Visits(minutes=SHORT)
    for _ in range(500):
        visits.touch(None)
    time.sleep(WINDOW + 0.3)
    visits.touch(None)
    assert len(visits._seen) == 1  # the table itself, not only what len() reports


def test_cookieless_phones_cannot_grow_the_table_past_its_limit():
    visits = Visits(minutes=30, limit=1000)
    kept, _, _ = visits.touch(None)
    for _ in range(5000):
        visits.touch(None)  # a phone that drops cookies: a new visit every page
        visits.touch(kept)  # a real visitor keeps reading all the while
    assert len(visits._seen) == 1000
    assert visits.touch(kept)[1] is False  # the one still reading is remembered


def test_past_its_limit_the_visit_seen_longest_ago_is_forgotten():
    visits = Visits(minutes=30, limit=3)
    a, b, c = (visits.touch(None)[0] for _ in range(3))
    assert visits.touch(a)[1] is False  # a is read again: b is now the one seen longest ago
    visits.touch(None)  # a fourth visit
    assert len(visits) == 3
    assert visits.touch(c)[1] is False and visits.touch(a)[1] is False
    assert visits.touch(b)[1] is True  # forgotten: its next page is a new visit
