"""How far each translation has come: a guide × language matrix, as text, HTML or JSON.

For every guide and language, one state:
- ``reference``: the text every translation is checked against;
- ``done``: translated, and made from the reference text as it is now;
- ``stale``: translated, but some reference sections changed since (listed);
- ``untracked``: translated, with no record of which reference text it was made from;
- ``missing``: not translated yet (the guide is not shown in that language).

And for every language, the interface words it does not have yet, which pages show in the
reference language instead.
"""

from __future__ import annotations

import html
import json

from kiosk.content.source import Content

STATES = ("reference", "done", "stale", "untracked", "missing")
SYMBOLS = {"reference": "ref", "done": "ok", "stale": "STALE", "untracked": "?", "missing": "-"}


def content_status(content: Content) -> dict:
    """The matrix as plain data (what ``--json`` prints)."""
    ref_words = {k for k in content.ui.get(content.reference, {}) if not k.startswith("admin.")}
    languages = []
    for lang in content.languages:
        missing_words = sorted(ref_words - set(content.ui.get(lang.tag, {})))
        languages.append(
            {"tag": lang.tag, "name": lang.name, "dir": lang.dir, "ui_fallback": missing_words}
        )
    guides = []
    for guide in sorted(content.guides, key=lambda g: (g.order, g.id)):
        ref = guide.texts[content.reference]
        cells = {}
        for lang in content.languages:
            stale = guide.stale.get(lang.tag)
            if lang.tag == content.reference:
                state = "reference"
            elif lang.tag not in guide.texts:
                state = "missing"
            elif stale is None:
                state = "untracked"
            else:
                state = "stale" if stale else "done"
            cells[lang.tag] = {"state": state, "stale": stale or []}
        title = " ".join(ref.title.content.split())
        guides.append({"id": guide.id, "title": title, "cells": cells})
    totals = {
        lang["tag"]: {s: sum(g["cells"][lang["tag"]]["state"] == s for g in guides) for s in STATES}
        for lang in languages
    }
    return {
        "reference": content.reference,
        "languages": languages,
        "guides": guides,
        "totals": totals,
    }


def as_json(status: dict) -> str:
    return json.dumps(status, ensure_ascii=False, indent=2) + "\n"


def as_text(status: dict) -> str:
    tags = [lang["tag"] for lang in status["languages"]]
    width = max(len(g["id"]) for g in status["guides"]) if status["guides"] else 5
    cols = max(6, *(len(t) + 1 for t in tags))
    lines = [f"{'guide':{width}} " + "".join(f"{t:>{cols}}" for t in tags)]
    for guide in status["guides"]:
        cells = "".join(f"{SYMBOLS[guide['cells'][t]['state']]:>{cols}}" for t in tags)
        lines.append(f"{guide['id']:{width}} " + cells)
    done = "".join(
        f"{status['totals'][t]['done'] + status['totals'][t]['reference']:>{cols}}" for t in tags
    )
    lines.append(f"{'up to date':{width}} " + done)
    words = "".join(f"{len(lang['ui_fallback']):>{cols}}" for lang in status["languages"])
    lines.append(f"{'words in ' + status['reference']:{width}} " + words)
    lines.append("")
    lines.append(
        "ok: translated from the current text · STALE: the reference changed since · "
        "?: no record of what it was made from · -: not translated yet"
    )
    for guide in status["guides"]:
        for tag in tags:
            cell = guide["cells"][tag]
            if cell["state"] == "stale":
                lines.append(f"{guide['id']} · {tag}: changed since: {', '.join(cell['stale'])}")
    for lang in status["languages"]:
        if lang["ui_fallback"]:
            lines.append(
                f"{lang['tag']}: {len(lang['ui_fallback'])} interface words shown in "
                f"{status['reference']}: {', '.join(lang['ui_fallback'])}"
            )
    return "\n".join(lines) + "\n"


_COLOURS = {
    "reference": "#e8eef7",
    "done": "#d8f0dc",
    "stale": "#ffe7b3",
    "untracked": "#eeeeee",
    "missing": "#ffffff",
}
_WORDS = {
    "reference": "reference",
    "done": "done",
    "stale": "stale",
    "untracked": "not tracked",
    "missing": "missing",
}


def as_html(status: dict) -> str:
    """One self-contained page (no scripts, no outside files) that headquarters can open."""
    e = html.escape
    langs = status["languages"]
    head = "".join(
        f'<th scope="col"><span lang="{e(lang["tag"])}" dir="{e(lang["dir"])}">'
        f"{e(lang['name'])}</span><br><code>{e(lang['tag'])}</code></th>"
        for lang in langs
    )
    rows = []
    for guide in status["guides"]:
        cells = []
        for lang in langs:
            cell = guide["cells"][lang["tag"]]
            state = cell["state"]
            detail = f"<br><small>{e(', '.join(cell['stale']))}</small>" if cell["stale"] else ""
            cells.append(
                f'<td class="{state}" style="background:{_COLOURS[state]}">'
                f"{_WORDS[state]}{detail}</td>"
            )
        rows.append(
            f'<tr><th scope="row">{e(guide["title"])}<br><code>{e(guide["id"])}</code></th>'
            f"{''.join(cells)}</tr>"
        )
    words = "".join(
        f"<td>{len(lang['ui_fallback'])}"
        + (
            f"<details><summary>which</summary><small>{e(', '.join(lang['ui_fallback']))}"
            "</small></details>"
            if lang["ui_fallback"]
            else ""
        )
        + "</td>"
        for lang in langs
    )
    legend = "".join(
        f'<li><span style="background:{_COLOURS[s]}">{_WORDS[s]}</span>: {e(text)}</li>'
        for s, text in (
            ("done", "translated from the reference text as it is now"),
            ("stale", "the reference text of the sections listed changed since"),
            ("untracked", "no record of which reference text it was made from"),
            ("missing", "not translated yet: the guide is not shown in this language"),
        )
    )
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Translations: where each guide stands</title>
<style>
body {{ font: 16px/1.4 system-ui, sans-serif; margin: 1rem; color: #1b1b1b; }}
table {{ border-collapse: collapse; }}
th, td {{ border: 1px solid #999; padding: .4rem .6rem; text-align: start; vertical-align: top; }}
td.stale {{ font-weight: bold; }}
li span {{ padding: 0 .3rem; border: 1px solid #999; }}
</style></head>
<body>
<h1>Translations: where each guide stands</h1>
<p>Reference language: <code>{e(status["reference"])}</code>.</p>
<table>
<thead><tr><th scope="col">Guide</th>{head}</tr></thead>
<tbody>
{chr(10).join(rows)}
<tr><th scope="row">Interface words shown in {e(status["reference"])}</th>{words}</tr>
</tbody>
</table>
<ul>{legend}</ul>
</body></html>
"""
