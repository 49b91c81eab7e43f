"""The reach page: visits and guide views in pictures and tables, filtered; CSV of each table.

Every figure comes from kiosk.hq.totals, which leaves out cells below headquarters' k before
adding anything up; the CSV files hold exactly the figures the page shows.
"""

from __future__ import annotations

import csv
import datetime as dt
import io

from flask import Response, abort, request

from kiosk.errors import KioskError
from kiosk.hq import fleet as fleet_state
from kiosk.hq.charts import bar_chart
from kiosk.hq.report import catalog_words, guide_tags
from kiosk.hq.root import DEVICE_NAME
from kiosk.hq.totals import Filters, reach
from kiosk.hq.web import common
from kiosk.vocabulary import HQ_K

TABLES = {  # name → (title, column headings)
    "by_month": ("By month", ("Month", "Visits", "Guide views")),
    "by_kiosk": ("By kiosk", ("Kiosk", "Visits", "Guide views")),
    "by_country": ("By country", ("Country", "Visits", "Guide views")),
    "by_channel": ("Visits by channel", ("Channel", "Visits")),
    "by_language": ("Guide views by language", ("Language", "Guide views")),
    "by_guide": ("Guide views by guide", ("Guide", "Guide views")),
    "by_step": ("Guide views by journey step", ("Journey step", "Guide views")),
    "by_dimension": ("Guide views by resilience dimension", ("Dimension", "Guide views")),
    "by_support": ("Guide views by support type", ("Support type", "Guide views")),
}


MOST_KIOSKS = 30


def _month(name: str) -> dt.date | None:
    """A month from the address (YYYY-MM; a date counts as its month), or None."""
    value = request.args.get(name, "")
    try:
        return dt.date.fromisoformat(value[:7] + "-01") if len(value) in (7, 10) else None
    except ValueError:
        return None


def chosen(words: dict) -> tuple[Filters, dict]:
    """The filters in the address, each checked: a value that cannot be used is ignored."""
    known = fleet_state.kiosks(common.root())
    countries = sorted({c for c in known.values() if c})
    device = request.args.get("kiosk", "")
    country = request.args.get("country", "")
    filters = Filters(
        start=_month("from"),
        end=_month("to"),
        device=device if DEVICE_NAME.fullmatch(device) and device in known else None,
        country=country if country in countries else None,
    )
    return filters, {"kiosks": sorted(known), "countries": countries,
                     "country_names": words["countries"]}  # fmt: skip


def figures() -> tuple[Filters, dict, object, dict, dict]:
    """What a reach request shows: its filters, their choices, the figures, the figures'
    tables in words, and the catalog's words (read once)."""
    words = catalog_words(common.root())
    filters, options = chosen(words)
    result = reach(common.root(), filters, guide_tags(common.root()))
    return filters, options, result, labelled(result, words), words


def labelled(result, words: dict) -> dict[str, list[tuple]]:
    """Each table's rows with words for tags: guides' titles, languages' own names."""
    tables = {name: list(getattr(result, name)) for name in TABLES}
    tables["by_guide"] = [(words["guides"].get(g, g), n) for g, n in tables["by_guide"]]
    tables["by_language"] = [(words["languages"].get(t, t), n) for t, n in tables["by_language"]]
    return tables


@common.hq.get("/reach")
@common.needs("viewer")
def reach_page():
    filters, options, result, tables, _ = figures()
    count = len(tables["by_kiosk"])
    if count > MOST_KIOSKS:  # a page, not a phone book: the busiest, and the CSV has them all
        tables["by_kiosk"] = sorted(tables["by_kiosk"], key=lambda r: (-r[2], r[0]))[:MOST_KIOSKS]
    return common.page("hq/reach.html", result=result, tables=tables, charts=_charts(tables),
                       kiosk_count=count, most_kiosks=MOST_KIOSKS,
                       titles=TABLES, filters=filters, query=request.query_string.decode(),
                       **options)  # fmt: skip


def _charts(tables: dict) -> dict:
    charts = {}
    for name, (title, columns) in TABLES.items():
        rows = tables[name]
        if len(columns) == 3:  # visits and views: the chart shows guide views
            charts[name] = bar_chart([(r[0], r[2]) for r in rows], title=title, unit="guide views")
        else:
            charts[name] = bar_chart(rows, title=title, unit=columns[1].lower())
    return charts


@common.hq.get("/reach/report.pdf")
@common.needs("viewer")
def donor_report():
    from flask import render_template

    from kiosk.hq.donor import pdf_of

    filters, _, result, tables, words = figures()
    start = filters.start.isoformat()[:7] if filters.start else "the first month"
    end = filters.end.isoformat()[:7] if filters.end else "this month"
    from kiosk.hq.needs import MARKS, needs

    unmet = [n for n in needs(common.root(), HQ_K) if not filters.country][:10]
    html = render_template("hq/donor.html", result=result, tables=tables, charts=_charts(tables),
                           needs=unmet, marks=MARKS, words=words,
                           titles=TABLES, period=f"{start} to {end}",
                           place=(words["countries"].get(filters.country)
                                  or filters.country or filters.device or "all countries"),
                           today=dt.date.today())  # fmt: skip
    try:
        pdf = pdf_of(html)
    except KioskError as exc:
        abort(Response(exc.message, 503, mimetype="text/plain"))
    common.audit("donor report", f"{start} to {end}, {filters.country or 'all countries'}")
    name = f"reach-report-{start}-to-{end}.pdf".replace(" ", "-")
    return Response(pdf, mimetype="application/pdf",
                    headers={"Content-Disposition": f'attachment; filename="{name}"'})  # fmt: skip


@common.hq.get("/reach/<name>.csv")
@common.needs("viewer")
def reach_csv(name: str):
    if name not in TABLES:
        abort(404)
    filters, _, _, tables, _ = figures()
    rows = tables[name]
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(TABLES[name][1])
    writer.writerows(rows)
    period = (f"{filters.start.isoformat()[:7] if filters.start else 'start'}-to-"
              f"{filters.end.isoformat()[:7] if filters.end else 'now'}")  # fmt: skip
    return Response(
        out.getvalue(),
        mimetype="text/csv",
        headers={"Content-Disposition": f'attachment; filename="reach-{name}-{period}.csv"'},
    )
