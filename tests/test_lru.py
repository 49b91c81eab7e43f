"""The bounded tables behind the gzip and search caches."""

from __future__ import annotations

from kiosk.lru import LRU


def test_the_least_recently_used_goes_first_and_the_size_holds():
    table: LRU[str, int] = LRU(3)
    for i, key in enumerate("abc"):
        table.put(key, i)
    assert table.get("a") == 0  # a is now the most recent
    table.put("d", 3)
    assert (table.get("b"), table.get("a"), table.get("c"), table.get("d")) == (None, 0, 2, 3)
    for i in range(1000):
        table.put(f"k{i}", i)
    assert len(table) == 3 and table.get("k999") == 999 and table.get("a") is None


def test_putting_a_known_key_again_refreshes_it():
    table: LRU[str, int] = LRU(2)
    table.put("a", 1)
    table.put("b", 2)
    table.put("a", 10)
    table.put("c", 3)
    assert (table.get("a"), table.get("b"), table.get("c")) == (10, None, 3)


def test_clearing_forgets_everything_and_the_table_fills_again():
    """benchmarks/search_bench.py clears the release's kept result pages between its cases."""
    table: LRU[str, int] = LRU(2)
    table.put("a", 1)
    table.clear()
    assert len(table) == 0 and table.get("a") is None
    table.put("b", 2)
    assert table.get("b") == 2
