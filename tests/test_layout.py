"""The code's shape holds (issue 13): no import cycles, no private names across modules."""

from __future__ import annotations

from benchmarks.layout import cycles, figures


def test_no_module_imports_itself_round_about_and_none_reaches_into_anothers_privates():
    found = figures()
    assert found["cycles"] == []
    assert found["private"] == []


def test_nothing_a_kiosk_runs_imports_headquarters_or_build_code():
    """kiosk/content/ and kiosk/hq/ run where releases are built and kiosks are managed; the
    device's modules, the formats and the shared ones at the top never import them
    (tests/test_extras.py runs a kiosk's commands with their packages refused)."""
    assert figures()["crossing"] == []


def test_the_cycle_finder_finds_a_cycle():
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
