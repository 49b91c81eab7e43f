"""Unmet needs across the fleet, and a content editor's mark on each (kiosk.hq.needs)."""

from __future__ import annotations

from flask import redirect, request, url_for

from kiosk.errors import KioskError
from kiosk.hq import needs as fleet_needs
from kiosk.hq.report import catalog_words
from kiosk.hq.web import common
from kiosk.vocabulary import HQ_K

MOST = 200  # the most searched; the rest wait behind them


def needs_page(message: str = "", status: int = 200):
    words = catalog_words(common.root())
    everyone = fleet_needs.needs(common.root(), HQ_K)
    langs = sorted({n.lang for n in everyone})
    lang = request.args.get("lang", "")
    shown = [n for n in everyone if not lang or n.lang == lang]
    more = max(0, len(shown) - MOST)
    shown = shown[:MOST]
    return common.page("hq/needs.html", status=status, needs=shown, langs=langs,
                       lang=lang if lang in langs else "", marks=fleet_needs.MARKS,
                       guides=words["guides"], names=words["languages"], k=HQ_K,
                       message=message, more=more)  # fmt: skip


@common.hq.get("/needs")
@common.needs("viewer")
def needs():
    return needs_page(message="marked" if request.args.get("m") == "marked" else "")


@common.hq.post("/needs/mark")
@common.needs("publisher")
def mark_need():
    form = request.form
    lang, term, what, guide = (form.get(f, "") for f in ("lang", "term", "mark", "guide"))
    guides = set(catalog_words(common.root())["guides"])
    try:
        fleet_needs.mark(common.root(), lang, term, what, guide, common.g.staff.user, guides)
    except KioskError as exc:
        return needs_page(message=exc.message, status=400)
    answer = f" ({guide})" if what == "answered" else ""
    common.audit("mark need", f"{lang}: {term} → {what or 'no mark'}{answer}")
    return redirect(url_for("hq.needs", m="marked", lang=request.args.get("lang", "")), code=303)
