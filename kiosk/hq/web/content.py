"""Content status: the guide × language matrix, and the help lines to call again first.

It reads the content source headquarters edits (``kiosk hq serve --content DIR``), the same
one ``kiosk content status`` and ``kiosk hq publish`` read.
"""

from __future__ import annotations

import datetime as dt

from flask import current_app

from kiosk.errors import KioskError
from kiosk.hq.web import common
from kiosk.vocabulary import STALE_AFTER_DAYS

WORDS = {"reference": "reference", "done": "done", "stale": "stale", "untracked": "not tracked",
         "missing": "missing"}  # fmt: skip


def help_lines(contacts: list[dict], reference: str, today: dt.date) -> list[dict]:
    """Every help line with the days since it was last checked, the overdue ones first."""
    rows = []
    for contact in contacts:
        try:
            verified = dt.date.fromisoformat(str(contact.get("verified")))
        except ValueError:
            verified = None
        age = (today - verified).days if verified else None
        name = contact.get("organisation", {})
        rows.append({
            "id": contact["id"], "name": name.get(reference) or next(iter(name.values()), ""),
            "phone": contact.get("phone", ""), "countries": contact.get("countries", []),
            "verified": verified, "age": age, "example": bool(contact.get("example")),
            "overdue": age is None or age > STALE_AFTER_DAYS,
        })  # fmt: skip
    return sorted(rows, key=lambda r: (not r["overdue"], -(r["age"] or 10**6), r["id"]))


@common.hq.get("/content")
@common.needs("viewer")
def content():
    from kiosk.content.source import load_content
    from kiosk.content.status import content_status

    source = current_app.config.get("HQ_CONTENT")
    if not source:
        return common.page("hq/content.html", matrix=None, source=None)
    try:
        loaded = load_content(source)
    except KioskError as exc:
        return common.page("hq/content.html", matrix=None, source=source, error=exc.message)
    today = dt.date.today()
    return common.page(
        "hq/content.html",
        source=source,
        matrix=content_status(loaded),
        words=WORDS,
        lines=help_lines(loaded.contacts, loaded.reference, today),
        stale_after=STALE_AFTER_DAYS,
        problems=[str(p) for p in loaded.warnings][:50],
    )
