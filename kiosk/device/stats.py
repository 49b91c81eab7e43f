"""Readable summaries and CSV of the usage counters, for `kiosk stats` and the librarian."""

from __future__ import annotations

import datetime as dt
from collections import Counter
from pathlib import Path

from kiosk.device.usage import TABLES, read_counts


def _since(days: int) -> dt.date:
    return dt.date.today() - dt.timedelta(days=max(1, days) - 1)


def totals(db: Path, days: int, k: int) -> dict:
    """Figures for a period: the device's own view, so small counts are shown, except terms."""
    counts = read_counts(db, since=_since(days))
    since = _since(days).isoformat()
    guides: Counter = Counter()
    languages: Counter = Counter()
    channels: Counter = Counter()
    visits: Counter = Counter()
    hours: Counter = Counter()
    helpful = Counter()
    listens = Counter()
    searches = Counter()
    for row in counts["guide_day"]:
        if row["day"] < since:
            continue
        guides[row["guide"]] += row["views"]
        helpful["yes"] += row["helpful_yes"]
        helpful["no"] += row["helpful_no"]
        listens["started"] += row["listens_started"]
        listens["finished"] += row["listens_finished"]
    for row in counts["language_day"]:
        if row["day"] >= since:
            languages[row["lang"]] += row["choices"]
            searches["found"] += row["searches_found"]
            searches["missed"] += row["searches_missed"]
    for row in counts["channel_day"]:
        if row["day"] >= since:
            channels[row["channel"]] += row["pages"]
            visits[row["channel"]] += row["visits"]
    for row in counts["hour_day"]:
        if row["day"] >= since:
            hours[row["hour"]] += row["pages"]
    unmet: Counter = Counter()
    for row in counts["unmet_week"]:
        unmet[(row["lang"], row["term"])] += row["searches"]
    return {
        "guides": guides,
        "languages": languages,
        "channels": channels,
        "visits": visits,
        "hours": hours,
        "helpful": helpful,
        "listens": listens,
        "searches": searches,
        "unmet": [(lang, term, n) for (lang, term), n in unmet.most_common() if n >= k],
    }


def summary(db: Path, days: int, k: int) -> str:
    t = totals(db, days, k)
    lines = [f"Usage over the last {days} day(s), today included"]
    lines.append(
        f"visits: {sum(t['visits'].values())} "
        f"(touchscreen {t['visits']['screen']}, phones {t['visits']['phone']}); "
        f"pages: {sum(t['channels'].values())}"
    )
    lines.append(
        "top guides: " + (", ".join(f"{g} {n}" for g, n in t["guides"].most_common(5)) or "none")
    )
    lines.append(
        "languages: "
        + (", ".join(f"{lang} {n}" for lang, n in t["languages"].most_common()) or "none")
    )
    busy = sorted(t["hours"].most_common(3))
    lines.append("busiest hours: " + (", ".join(f"{h:02d}:00 ({n})" for h, n in busy) or "none"))
    yes, no = t["helpful"]["yes"], t["helpful"]["no"]
    share = f"{100 * yes / (yes + no):.0f}% helpful" if yes + no else "no answers yet"
    lines.append(f"was it helpful: {yes} yes, {no} no ({share})")
    lines.append(f"listens: {t['listens']['started']} started, {t['listens']['finished']} finished")
    lines.append(
        f"searches: {t['searches']['found']} found something, {t['searches']['missed']} did not"
    )
    unmet = ", ".join(f"{term!r} [{lang}] {n}" for lang, term, n in t["unmet"][:10])
    lines.append(f"unmet needs (searched in at least {k} visits): {unmet or 'none'}")
    return "\n".join(lines)


def csv_rows(db: Path, days: int):
    """One row per counter: table, day or week, guide, lang, channel, hour, term, measure, n."""
    yield ["table", "period", "guide", "lang", "channel", "hour", "term", "measure", "count"]
    if not db.exists():
        return
    counts = read_counts(db, since=_since(days))
    for table, (_keys, columns) in TABLES.items():
        for row in counts[table]:
            for column in columns:
                yield [
                    table,
                    row.get("day") or row.get("week"),
                    row.get("guide", ""),
                    row.get("lang", ""),
                    row.get("channel", ""),
                    row.get("hour", ""),
                    row.get("term", ""),
                    column,
                    row[column],
                ]
