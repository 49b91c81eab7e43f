"""Help lines and organisations, contacts.toml: every field checked, examples labelled."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

from kiosk.content.checks import COUNTRY, ID, check_words, line_of, read_toml
from kiosk.vocabulary import CONTACT_TOPICS, STALE_AFTER_DAYS


def _translated(report, path, line, cid, key, value, tags, reference) -> dict[str, str]:
    """A contact's text: one string for every language, or a table of translations."""
    if isinstance(value, str) and value.strip():
        return {reference: value.strip()}
    if isinstance(value, dict) and value:
        for tag, text in value.items():
            if tag not in tags:
                report.add(
                    path, line, f"{cid}: {key} has a translation for unknown language {tag!r}"
                )
            elif not isinstance(text, str) or not text.strip():
                report.add(path, line, f"{cid}: {key} in {tag} is empty")
        if reference not in value:
            report.add(path, line, f"{cid}: {key} needs the {reference} text too")
        return {t: v.strip() for t, v in value.items() if t in tags and isinstance(v, str)}
    report.add(path, line, f"{cid}: {key} is missing")
    return {}


CONTACT_FIELDS = {
    "id",
    "organisation",
    "phone",
    "hours",
    "languages",
    "countries",
    "topics",
    "verified",
    "example",
}


def load_contacts(root, report, tags, ui, reference, today) -> list[dict[str, Any]]:
    path = root / "contacts.toml"
    loaded = read_toml(path, report)
    if loaded is None:
        return []
    data, text = loaded
    block_lines = [n for n, line in enumerate(text.splitlines()) if line.strip() == "[[contact]]"]
    contacts: list[dict[str, Any]] = []
    seen: set[str] = set()
    # Other languages may leave a country's name out: it is then shown in the reference's.
    countries_named = {
        k[len("country.") :] for k in ui.get(reference, {}) if k.startswith("country.")
    }
    for n, entry in enumerate(data.get("contact", [])):
        at = block_lines[n] if n < len(block_lines) else 0

        def line(key: str, at: int = at) -> int:
            return line_of(text, rf"^\s*{key}\s*=", at)

        cid = entry.get("id")
        if not isinstance(cid, str) or not ID.match(cid):
            report.add(path, at + 1, "each contact needs an id of a-z, 0-9 and '-'")
            continue
        if cid in seen:
            report.add(path, line("id"), f"contact id {cid!r} is used twice")
        seen.add(cid)
        for key in sorted(set(entry) - CONTACT_FIELDS):
            report.add(path, line(key), f"{cid}: unknown field {key!r}")
        texts = {}
        for key in ("organisation", "hours"):
            texts[key] = _translated(
                report, path, line(key), cid, key, entry.get(key), tags, reference
            )
        if not isinstance(entry.get("phone"), str) or not entry["phone"].strip():
            report.add(
                path, line("phone") if "phone" in entry else at + 1, f"{cid}: phone is missing"
            )
        phone = str(entry.get("phone", ""))
        if phone and not re.fullmatch(r"\+?[0-9][0-9 ()-]{1,24}", phone):
            report.add(path, line("phone"), f"{cid}: phone {phone!r} may hold only digits, + - ( )")
        langs = check_words(report, path, text, "languages", entry.get("languages"), tags, at)
        topics = check_words(report, path, text, "topics", entry.get("topics"), CONTACT_TOPICS, at)
        countries = entry.get("countries")
        if not isinstance(countries, list) or not countries:
            report.add(path, line("countries"), f'{cid}: countries must list ISO codes like "NP"')
            countries = []
        for code in countries:
            if not isinstance(code, str) or not COUNTRY.match(code):
                report.add(path, line("countries"), f"{cid}: {code!r} is not a country code")
            elif code not in countries_named:
                report.add(
                    path,
                    line("countries"),
                    f"{cid}: country {code} has no name in ui/{reference}.toml",
                )
        verified = entry.get("verified")
        if not isinstance(verified, dt.date) or isinstance(verified, dt.datetime):
            report.add(path, line("verified"), f"{cid}: verified must be a date like 2026-11-01")
            verified = None
        elif verified > today:
            report.add(path, line("verified"), f"{cid}: verified date {verified} is in the future")
        elif (today - verified).days > STALE_AFTER_DAYS:
            report.add(
                path,
                line("verified"),
                f"{cid}: not verified since {verified}; call them and update the date",
                "warning",
            )
        example = entry.get("example", False)
        if not isinstance(example, bool):
            report.add(path, line("example"), f"{cid}: example must be true or false")
        if example and not texts["organisation"].get(reference, "").lower().startswith("example"):
            report.add(
                path, line("organisation"), f"{cid}: an example's name must start with 'Example'"
            )
        contacts.append(
            {
                "id": cid,
                "organisation": texts["organisation"],
                "phone": phone,
                "hours": texts["hours"],
                "languages": langs,
                "countries": [c for c in countries if isinstance(c, str)],
                "topics": topics,
                "verified": verified.isoformat() if verified else None,
                "example": bool(example),
            }
        )
    if not contacts:
        report.add(path, 1, "no [[contact]] entries: the Help page would be empty")
    return contacts
