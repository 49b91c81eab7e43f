"""Leaflets on paper: every guide's printable PDFs, and printing them on the library's printer.

The leaflets come from the live release (signed and verified like every file in it). Printing
goes through CUPS (kiosk.device.printing); with no printer set up the page lists the PDFs to
open, save or print elsewhere. A print redirects (303) to the page, so reloading it never
prints the leaflet again.
"""

from __future__ import annotations

import re

from flask import g, redirect, request, url_for

from kiosk.device import printing
from kiosk.device.web.admin import common

JOB = re.compile(r"[A-Za-z0-9_.@-]{1,80}")


def _state(sentence: str) -> str:
    """lpstat's sentence about a printer, as one of the page's own words."""
    if sentence.startswith("disabled"):
        return "printer_stopped"
    return "printer_printing" if "printing" in sentence else "printer_idle"


def _rows(release, lang: str) -> list[dict]:
    """Each guide with its title in the page's language and its leaflets in every language."""
    rows = []
    for guide in sorted(release.guides, key=lambda g_: g_.order):
        text = guide.text.get(lang) or guide.text[release.reference]
        leaflets = [
            (release.languages[tag], guide.text[tag]["leaflets"])
            for tag in release.languages
            if guide.text.get(tag, {}).get("leaflets")
        ]
        if leaflets:
            rows.append({"id": guide.id, "title": text["title"], "leaflets": leaflets})
    return rows


def leaflets_page(message: str = "", job: str = "", status: int = 200):
    release = common.live_release()
    lang = g.librarian.lang if g.librarian else (release and release.reference)
    found = printing.printers()
    return common.page(
        "admin/leaflets.html",
        status=status,
        rows=_rows(release, lang) if release else [],
        printers=found,
        states={name: _state(s) for name, s in found.states.items()},
        papers=printing.PAPERS,
        max_copies=printing.MAX_COPIES,
        message=message,
        job=job,
    )


@common.admin.get("/leaflets")
@common.login_required
def leaflets():
    job = request.args.get("job", "")
    return leaflets_page(message="printed" if JOB.fullmatch(job) else "", job=job)


@common.admin.post("/print")
@common.login_required
def print_leaflet():
    """Print a guide's leaflet: the form names a guide, a language, a paper and copies."""
    release = common.live_release()
    form = request.form
    guide = next((g_ for g_ in release.guides if g_.id == form.get("guide")), None)
    text = guide.text.get(form.get("lang", "")) if guide else None
    rel = (text or {}).get("leaflets", {}).get(form.get("paper", ""))
    pdf = release.path_of(rel) if rel else None
    try:
        copies = int(form.get("copies", ""))
    except ValueError:
        copies = 0
    if pdf is None or not 1 <= copies <= printing.MAX_COPIES:
        return leaflets_page(message="print_invalid", status=400)
    title = f"{text['title']} ({form['lang']}, {form['paper'].upper()})"
    try:
        job = printing.print_leaflet(
            pdf, form.get("printer", ""), copies=copies, paper=form["paper"], title=title
        )
    except printing.PrintError as exc:
        return leaflets_page(message=exc.message, status=400)
    return redirect(url_for("admin.leaflets", job=job), code=303)
