"""The interface's own words, ui/<tag>.toml, and recordings found by name."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from kiosk.content.checks import PLACEHOLDER, line_of, read_toml
from kiosk.vocabulary import REQUIRED_UI_KEYS, SAFETY_UI_KEYS

AUDIO_SUFFIXES = (".wav", ".mp3", ".flac")


def _flatten(data: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    flat: dict[str, Any] = {}
    for key, value in data.items():
        if isinstance(value, dict):
            flat.update(_flatten(value, f"{prefix}{key}."))
        else:
            flat[f"{prefix}{key}"] = value
    return flat


def _key_line(text: str, key: str) -> int:
    table, _, name = key.rpartition(".")
    after = line_of(text, rf"^\s*\[{re.escape(table)}\]") if table else 0
    return line_of(text, rf"^\s*\"?{re.escape(name)}\"?\s*=", after)


def load_ui(root, report, reference, tags):
    ui: dict[str, dict[str, str]] = {}
    texts: dict[str, str] = {}
    for tag in tags:
        path = root / "ui" / f"{tag}.toml"
        loaded = read_toml(path, report)
        if loaded is None:
            continue
        data, texts[tag] = loaded
        flat = _flatten(data)
        for key, value in flat.items():
            if not isinstance(value, str) or not value.strip():
                report.add(path, _key_line(texts[tag], key), f"{key} must be non-empty text")
        ui[tag] = {k: v for k, v in flat.items() if isinstance(v, str)}
    ref = ui.get(reference, {})
    if reference in ui:
        for key in (*REQUIRED_UI_KEYS, *SAFETY_UI_KEYS):
            if key not in ref:
                report.add(root / "ui" / f"{reference}.toml", 0, f"{key} is missing; pages need it")
    for tag, words in ui.items():
        if tag == reference:
            continue
        path = root / "ui" / f"{tag}.toml"
        missing = sorted(k for k in set(ref) - set(words) if not k.startswith("admin."))
        for key in [k for k in missing if k in SAFETY_UI_KEYS]:
            report.add(
                path,
                0,
                f"{key} is missing (English: {ref[key]!r}); the Help page needs every word in "
                "every language",
            )
        fallback = [k for k in missing if k not in SAFETY_UI_KEYS]
        if fallback:
            shown = ", ".join(fallback[:6]) + (
                f" and {len(fallback) - 6} more" if len(fallback) > 6 else ""
            )
            report.add(
                path,
                0,
                f"{len(fallback)} interface words are not translated yet and will show in "
                f"{reference}: {shown}",
                "warning",
            )
        for key in sorted(set(words) - set(ref)):
            report.add(path, _key_line(texts[tag], key), f"{key} is not a known key")
        for key in sorted(set(ref) & set(words)):
            want = sorted(PLACEHOLDER.findall(ref[key]))
            if sorted(PLACEHOLDER.findall(words[key])) != want:
                report.add(
                    path,
                    _key_line(texts[tag], key),
                    f"{key} must contain {' '.join(want) or 'no {placeholders}'} exactly as in "
                    f"{reference}",
                )
    recordings = find_recordings(root / "ui" / "audio", report, tags, set(ref), "interface word")
    for (tag, key), path in list(recordings.items()):
        # A word recorded in the studio carries the words it reads; a changed word is not
        # played with its old recording.
        said = path.with_suffix(".txt")
        if said.is_file() and said.read_text(encoding="utf-8").strip() != ui.get(tag, {}).get(key):
            report.add(
                path,
                0,
                f"{key} has changed since it was recorded; the kiosk says it with espeak-ng "
                "until it is recorded again (kiosk studio)",
                "warning",
            )
            del recordings[(tag, key)]
    return ui, recordings


def find_recordings(folder: Path, report, tags, known: set[str], what: str):
    found: dict[tuple[str, str], Path] = {}
    if not folder.is_dir():
        return found
    for path in sorted(folder.rglob("*")):
        if path.is_dir():
            continue
        rel = path.relative_to(folder)
        if len(rel.parts) != 2 or rel.parts[0] not in tags:
            report.add(path, 0, f"recordings go in audio/<language>/<{what}>.wav; not here")
            continue
        if path.suffix == ".txt" and path.with_suffix(".flac").exists():
            continue  # the words a studio recording reads
        if path.suffix not in AUDIO_SUFFIXES or path.stem not in known:
            report.add(
                path,
                0,
                f"no {what} called {path.stem!r}, or not .wav/.mp3/.flac; the file is unused",
            )
            continue
        found[(rel.parts[0], path.stem)] = path
    return found
