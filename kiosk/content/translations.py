"""Which version of the reference text each translation was made from.

Each guide folder may hold ``translated.toml``, written by ``kiosk content translated`` and
never by hand: for each translation, a short hash of every reference section (and of the
title and summary, ``intro``) as it was when the translation was last brought up to date.

```toml
[ne]
intro = "5d41402abc4b"
passport = "7d793037a076"
```

When the reference text of a section changes, its hash no longer matches and the section's
translation is stale: the build warns, ``kiosk content status`` shows it, and the page tells
readers the reference text has changed since. A translation with no record at all is
"untracked": the build says so once, and nothing is claimed about it.
"""

from __future__ import annotations

import hashlib
import tomllib
from pathlib import Path

from kiosk.content.markdown import ParsedGuide

FILE = "translated.toml"
HEADER = (
    "# Which version of the reference text each translation was made from: a hash per\n"
    "# section. Written by `kiosk content translated`; do not edit by hand.\n"
)


def section_hashes(parsed: ParsedGuide) -> dict[str, str]:
    """A short hash of the words of the title and summary (``intro``) and of each section.

    Only the words count: moving a section, re-wrapping lines or spacing changes nothing.
    """
    parts = {"intro": [parsed.title, parsed.summary]}
    for section in parsed.sections:
        parts[section.id] = [section.heading, *section.body]
    return {
        sid: hashlib.sha256(
            "\n".join(
                " ".join(t.content.split()) for t in toks if t is not None and t.content
            ).encode()
        ).hexdigest()[:12]
        for sid, toks in parts.items()
    }


def read(guide_dir: Path) -> dict[str, dict[str, str]]:
    """The recorded hashes by language; empty when there is no record or it is unreadable."""
    try:
        data = tomllib.loads((guide_dir / FILE).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError):
        return {}
    return {
        tag: {k: v for k, v in table.items() if isinstance(v, str)}
        for tag, table in data.items()
        if isinstance(table, dict)
    }


def stale_sections(reference: dict[str, str], recorded: dict[str, str] | None) -> list[str] | None:
    """The reference sections changed since the translation was recorded (None: no record)."""
    if recorded is None:
        return None
    return [sid for sid, digest in reference.items() if recorded.get(sid) != digest]


def write(guide_dir: Path, records: dict[str, dict[str, str]]) -> None:
    """Write the record for a guide, languages and sections in a stable order."""
    lines = [HEADER]
    for tag in sorted(records):
        lines.append(f"\n[{tag}]\n")
        lines += [f'"{sid}" = "{digest}"\n' for sid, digest in records[tag].items()]
    tmp = guide_dir / f".{FILE}.tmp"
    tmp.write_text("".join(lines), encoding="utf-8")
    tmp.replace(guide_dir / FILE)
