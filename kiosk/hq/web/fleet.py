"""The fleet page (every kiosk, reddest first) and one kiosk's page (its history)."""

from __future__ import annotations

from flask import abort, request

from kiosk.hq import fleet as fleet_state
from kiosk.hq.charts import line_chart
from kiosk.hq.report import catalog_words
from kiosk.hq.root import DEVICE_NAME
from kiosk.hq.web import common

PER_PAGE = 100
SORTS = {
    "status": lambda k: (fleet_state.COLOURS.index(k.colour), k.name),
    "name": lambda k: k.name,
    "country": lambda k: (k.country or "~", k.place, k.name),
    "heard": lambda k: k.received.timestamp() if k.received else 0.0,
    "release": lambda k: (k.release or 0, k.name),
    "disk": lambda k: (-(k.disk_used or 0), k.name),
}


@common.hq.get("/fleet")
@common.needs("viewer")
def fleet():
    everyone = fleet_state.fleet(common.root())
    countries = sorted({k.country for k in everyone if k.country})
    country = request.args.get("country", "")
    colour = request.args.get("colour", "")
    sort = request.args.get("sort", "status")
    shown = [
        k
        for k in everyone
        if (not country or k.country == country) and (not colour or k.colour == colour)
    ]
    shown.sort(key=SORTS.get(sort, SORTS["status"]))
    counts = {c: sum(1 for k in everyone if k.colour == c) for c in fleet_state.COLOURS}
    pages = max(1, -(-len(shown) // PER_PAGE))
    try:
        page = min(max(1, int(request.args.get("page", "1"))), pages)
    except ValueError:
        page = 1
    matching = len(shown)
    shown = shown[(page - 1) * PER_PAGE : page * PER_PAGE]
    versions = fleet_state.published(common.root()).get("stable", [])
    return common.page(
        "hq/fleet.html",
        kiosks=shown,
        matching=matching,
        page=page,
        pages=pages,
        total=len(everyone),
        counts=counts,
        countries=countries,
        country=country if country in countries else "",
        colour=colour if colour in fleet_state.COLOURS else "",
        sort=sort if sort in SORTS else "status",
        sorts=list(SORTS),
        newest=versions[-1] if versions else None,  # on the default channel
        country_names=catalog_words(common.root())["countries"],
    )


@common.hq.get("/kiosk/<name>")
@common.needs("viewer")
def kiosk(name: str):
    if not DEVICE_NAME.fullmatch(name):
        abort(404)
    state = next((k for k in fleet_state.fleet(common.root()) if k.name == name), None)
    if state is None:
        abort(404)
    days = fleet_state.history(common.root(), name)
    disk = [(d["day"], round(d["disk_used"] * 100, 1) if d["disk_used"] is not None else None)
            for d in days]  # fmt: skip
    heat = [(d["day"], d["temperature"]) for d in days]
    return common.page(
        "hq/kiosk.html",
        k=state,
        country_names=catalog_words(common.root())["countries"],
        days=days,
        installed=fleet_state.releases_installed(days),
        disk_chart=line_chart(
            disk,
            title="Storage used",
            unit="%",
            top=100,
            limit=(fleet_state.DISK_RED * 100, "red above this"),
        ),
        heat_chart=line_chart(
            heat,
            title="Temperature",
            unit="°C",
            top=90,
            colour="#7a3e00",
            limit=(fleet_state.HOT, "amber above this"),
        ),
    )


@common.hq.get("/audit")
@common.needs("admin")
def audit():
    return common.page("hq/audit.html", lines=common.accounts().audit(500),
                       accounts=common.accounts().accounts())  # fmt: skip
