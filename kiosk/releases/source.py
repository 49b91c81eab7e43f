"""Read and check the content source folder; every problem is reported at once with its line."""

from __future__ import annotations

import datetime as dt
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kiosk.errors import ContentInvalid, Problem
from kiosk.releases import translations
from kiosk.releases.markdown import LINK_SCHEMES, ParsedGuide, parse_guide
from kiosk.vocabulary import (
    CONTACT_TOPICS,
    DIMENSIONS,
    REQUIRED_UI_KEYS,
    SAFETY_UI_KEYS,
    STALE_AFTER_DAYS,
    STEPS,
    SUPPORT,
)

ID = re.compile(r"^[a-z0-9][a-z0-9-]*\Z")  # \Z: "$" allows a final newline
TAG = re.compile(r"^[a-z]{2,3}(-[A-Za-z0-9]{2,8})*\Z")
COUNTRY = re.compile(r"^[A-Z]{2}\Z")
PLACEHOLDER = re.compile(r"\{[a-z_]+\}")
AUDIO_SUFFIXES = (".wav", ".mp3", ".flac")
SVG_FORBIDDEN = re.compile(
    r"<script|<foreignObject|<image|\son[a-z]+\s*=|javascript:|@import|href\s*=\s*[\"'](?!#)",
    re.IGNORECASE,
)


@dataclass
class Language:
    tag: str
    name: str
    dir: str
    voice: str


@dataclass
class Guide:
    id: str
    icon: str
    order: int
    steps: list[str]
    dimensions: list[str]
    support: list[str]
    texts: dict[str, ParsedGuide] = field(default_factory=dict)
    recordings: dict[tuple[str, str], Path] = field(default_factory=dict)  # (lang, section)
    # lang → reference sections changed since it was translated; None: no record kept
    stale: dict[str, list[str] | None] = field(default_factory=dict)
    kind: str = "guide"  # or "story": a person's own account, audio first
    names_changed: bool = False


@dataclass
class Content:
    root: Path
    reference: str
    languages: list[Language]
    ui: dict[str, dict[str, str]]  # lang → flat key ("step.origin") → text
    ui_recordings: dict[tuple[str, str], Path]
    guides: list[Guide]
    contacts: list[dict[str, Any]]
    icons: dict[str, Path]
    warnings: list[Problem]


class _Report:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.problems: list[Problem] = []

    def add(self, path: Path | str, line: int, message: str, severity: str = "error") -> None:
        rel = Path(path).relative_to(self.root) if Path(path).is_absolute() else Path(path)
        self.problems.append(Problem(f"{self.root.name}/{rel}", line, message, severity))

    @property
    def errors(self) -> list[Problem]:
        return [p for p in self.problems if p.severity == "error"]


def _line_of(text: str, pattern: str, after: int = 0) -> int:
    """Line number (1-based) of the first line at or after ``after`` matching a regex."""
    rx = re.compile(pattern)
    for n, line in enumerate(text.splitlines()[after:], start=after + 1):
        if rx.search(line):
            return n
    return after + 1 if after else 1


def _read_toml(path: Path, report: _Report) -> tuple[dict[str, Any], str] | None:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        report.add(path, 0, "file is missing")
        return None
    except UnicodeDecodeError:
        report.add(path, 0, "file is not UTF-8 text; save it as UTF-8")
        return None
    try:
        return tomllib.loads(text), text
    except tomllib.TOMLDecodeError as exc:
        line = getattr(exc, "lineno", 0) or int(re.search(r"line (\d+)", str(exc)).group(1))
        report.add(path, line, f"not valid TOML: {exc.msg if hasattr(exc, 'msg') else exc}")
        return None


def _check_words(report, path, text, key, values, allowed, after=0, required=True) -> list[str]:
    line = _line_of(text, rf"^\s*{re.escape(key)}\s*=", after)
    if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
        if values is not None or required:
            report.add(path, line, f'{key} must be a list of words, like {key} = ["{allowed[0]}"]')
        return []
    if required and not values:
        report.add(path, line, f"{key} is empty; choose from: {', '.join(allowed)}")
    for word in values:
        if word not in allowed:
            report.add(path, line, f"unknown {key} word {word!r}; allowed: {', '.join(allowed)}")
    return [v for v in values if v in allowed]


def load_content(root: str | Path, today: dt.date | None = None) -> Content:
    """Load the content source, or raise ContentInvalid listing every error found."""
    root = Path(root).resolve()
    today = today or dt.date.today()
    report = _Report(root)
    if not root.is_dir():
        report.add(root, 0, "content folder does not exist")
        raise ContentInvalid(report.problems)

    reference, languages = _load_languages(root, report)
    tags = [lang.tag for lang in languages]
    ui, ui_recordings = _load_ui(root, report, reference, tags)
    icons = _load_icons(root, report)
    guides = _load_guides(root, report, reference, tags, icons)
    _check_links(root, report, guides)
    contacts = _load_contacts(root, report, tags, ui, reference, today)

    if report.errors:
        raise ContentInvalid(report.problems)
    return Content(
        root, reference, languages, ui, ui_recordings, guides, contacts, icons, report.problems
    )


def _load_languages(root: Path, report: _Report) -> tuple[str, list[Language]]:
    path = root / "languages.toml"
    loaded = _read_toml(path, report)
    if loaded is None:
        return "", []
    data, text = loaded
    blocks = data.get("language")
    if not isinstance(blocks, list) or not blocks:
        report.add(path, 1, "no [[language]] blocks")
        return "", []
    languages: list[Language] = []
    block_lines = [n for n, line in enumerate(text.splitlines()) if line.strip() == "[[language]]"]
    for n, block in enumerate(blocks):
        at = block_lines[n] if n < len(block_lines) else 0
        line = at + 1
        tag = block.get("tag")
        if not isinstance(tag, str) or not TAG.match(tag):
            report.add(path, line, f"tag {tag!r} is not a language tag like 'ne' or 'es-419'")
            continue
        if tag in {lang.tag for lang in languages}:
            report.add(path, line, f"language {tag!r} is listed twice")
            continue
        name = block.get("name")
        if not isinstance(name, str) or not name.strip():
            report.add(path, _line_of(text, r"^\s*name\s*=", at), f"{tag}: name is missing")
        direction = block.get("dir", "ltr")
        if direction not in ("ltr", "rtl"):
            report.add(path, _line_of(text, r"^\s*dir\s*=", at), f"{tag}: dir must be ltr or rtl")
        voice = block.get("voice", "")
        if not isinstance(voice, str):
            report.add(path, _line_of(text, r"^\s*voice\s*=", at), f"{tag}: voice must be text")
            voice = ""
        languages.append(Language(tag, str(name or tag), str(direction), voice))
    reference = data.get("reference", languages[0].tag if languages else "")
    if reference not in {lang.tag for lang in languages}:
        report.add(
            path, _line_of(text, r"^\s*reference\s*="), f"reference {reference!r} is not listed"
        )
    return str(reference), languages


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
    after = _line_of(text, rf"^\s*\[{re.escape(table)}\]") if table else 0
    return _line_of(text, rf"^\s*\"?{re.escape(name)}\"?\s*=", after)


def _load_ui(root, report, reference, tags):
    ui: dict[str, dict[str, str]] = {}
    texts: dict[str, str] = {}
    for tag in tags:
        path = root / "ui" / f"{tag}.toml"
        loaded = _read_toml(path, report)
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
    recordings = _find_recordings(root / "ui" / "audio", report, tags, set(ref), "interface word")
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


def _find_recordings(folder: Path, report, tags, known: set[str], what: str):
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


def _load_icons(root: Path, report: _Report) -> dict[str, Path]:
    icons: dict[str, Path] = {}
    for path in sorted((root / "icons").glob("*.svg")):
        try:
            text = path.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            report.add(path, 0, "icon is not UTF-8 SVG text")
            continue
        bad = SVG_FORBIDDEN.search(text)
        if bad or "<svg" not in text:
            line = text.count("\n", 0, bad.start()) + 1 if bad else 1
            report.add(path, line, "icons must be plain SVG: no scripts, events or outside links")
            continue
        icons[path.stem] = path
    return icons


def _load_guides(root, report, reference, tags, icons) -> list[Guide]:
    guides: list[Guide] = []
    folder = root / "guides"
    if not folder.is_dir():
        report.add(folder, 0, "guides folder is missing")
        return guides
    for gdir in sorted(p for p in folder.iterdir() if p.is_dir()):
        if not ID.match(gdir.name):
            report.add(gdir, 0, "guide folder names use only a-z, 0-9 and '-'")
            continue
        meta_path = gdir / "guide.toml"
        loaded = _read_toml(meta_path, report)
        if loaded is None:
            continue
        meta, text = loaded
        known = {"icon", "order", "steps", "dimensions", "support", "kind", "consent",
                 "names_changed"}  # fmt: skip
        for key in sorted(set(meta) - known):
            report.add(
                meta_path, _line_of(text, rf"^\s*{re.escape(key)}\s*="), f"unknown field {key!r}"
            )
        icon = meta.get("icon")
        if icon not in icons:
            report.add(
                meta_path, _line_of(text, r"^\s*icon\s*="), f"icon {icon!r} is not in icons/"
            )
        order = meta.get("order", 0)
        if not isinstance(order, int) or isinstance(order, bool):
            report.add(meta_path, _line_of(text, r"^\s*order\s*="), "order must be a whole number")
            order = 0
        guide = Guide(
            gdir.name,
            str(icon),
            order,
            _check_words(report, meta_path, text, "steps", meta.get("steps"), STEPS),
            _check_words(report, meta_path, text, "dimensions", meta.get("dimensions"), DIMENSIONS),
            _check_words(report, meta_path, text, "support", meta.get("support"), SUPPORT),
        )
        guide.kind, guide.names_changed = _check_story(report, meta_path, text, meta)
        for md in sorted(gdir.glob("*.md")):
            if md.stem not in tags:
                report.add(md, 0, f"{md.stem!r} is not a language in languages.toml")
        for tag in tags:
            path = gdir / f"{tag}.md"
            try:
                parsed = parse_guide(path.read_text(encoding="utf-8"))
            except FileNotFoundError:
                if tag == reference:
                    report.add(
                        path, 0, f"every guide needs {tag}.md: translations are checked against it"
                    )
                continue  # not translated yet: the guide is shown in the languages it has
            except UnicodeDecodeError:
                report.add(path, 0, "file is not UTF-8 text; save it as UTF-8")
                continue
            for line, severity, message in parsed.problems:
                report.add(path, line, message, severity)
            seen: set[str] = set()
            for section in parsed.sections:
                if section.id in seen:
                    report.add(path, section.line, f"section id {{#{section.id}}} is used twice")
                seen.add(section.id)
            guide.texts[tag] = parsed
        ref = guide.texts.get(reference)
        if ref is not None:
            ref_ids = [s.id for s in ref.sections]
            for tag, parsed in guide.texts.items():
                if tag == reference:
                    continue
                path = gdir / f"{tag}.md"
                ids = {s.id for s in parsed.sections}
                for missing in [i for i in ref_ids if i not in ids]:
                    report.add(path, 0, f"section {{#{missing}}} from {reference}.md is missing")
                for section in parsed.sections:
                    if section.id not in ref_ids:
                        report.add(
                            path,
                            section.line,
                            f"section {{#{section.id}}} is not in {reference}.md",
                        )
        if ref is not None:
            _check_translated(report, gdir, guide, reference)
        known = {"intro"} | {s.id for s in ref.sections} if ref else {"intro"}
        guide.recordings = _find_recordings(gdir / "audio", report, tags, known, "section id")
        guides.append(guide)
    if not guides:
        report.add(folder, 0, "there are no guides")
    return guides


def _check_story(report: _Report, path: Path, text: str, meta: dict) -> tuple[str, bool]:
    """A story is a person's own: it is shown only with their consent on record."""
    kind = meta.get("kind", "guide")
    if kind not in ("guide", "story"):
        report.add(path, _line_of(text, r"^\s*kind\s*="), 'kind must be "guide" or "story"')
        return "guide", False
    if kind == "guide":
        for key in ("consent", "names_changed"):
            if key in meta:
                report.add(path, _line_of(text, rf"^\s*{key}\s*="), f"{key} is for stories only")
        return kind, False
    if meta.get("consent") is not True:
        report.add(
            path,
            _line_of(text, r"^\s*(consent|kind)\s*="),
            "a story needs consent = true: the person agreed, knowing it is shown and played "
            "to the public, and can take it back",
        )
    names = meta.get("names_changed")
    if not isinstance(names, bool):
        report.add(
            path,
            _line_of(text, r"^\s*(names_changed|kind)\s*="),
            "a story must say names_changed = true or false",
        )
    return kind, names is True


def _check_translated(report: _Report, gdir: Path, guide: Guide, reference: str) -> None:
    """Note which sections of each translation were made from an older reference text."""
    hashes = translations.section_hashes(guide.texts[reference])
    recorded = translations.read(gdir)
    for tag in guide.texts:
        if tag == reference:
            continue
        stale = translations.stale_sections(hashes, recorded.get(tag))
        guide.stale[tag] = stale
        fix = f"kiosk content translated {report.root.name} --guide {guide.id} --lang {tag}"
        if stale is None:
            report.add(
                gdir / f"{tag}.md",
                0,
                f"no record of which {reference}.md text this translates; once it is up to date, "
                f"run: {fix}",
                "warning",
            )
        elif stale:
            changed = ", ".join("title and summary" if s == "intro" else f"{{#{s}}}" for s in stale)
            report.add(
                gdir / f"{tag}.md",
                0,
                f"{reference}.md changed since this was translated ({changed}); update the "
                f"translation, then run: {fix}",
                "warning",
            )


def _check_links(root: Path, report: _Report, guides: list[Guide]) -> None:
    sections = {g.id: {s.id for t in g.texts.values() for s in t.sections} for g in guides}
    for guide in guides:
        for tag, parsed in guide.texts.items():
            path = root / "guides" / guide.id / f"{tag}.md"
            for line, href in parsed.links:
                if not href.startswith(LINK_SCHEMES):
                    report.add(path, line, f"link {href!r}: use https:, tel:, mailto: or guide:")
                    continue
                if not href.startswith("guide:"):
                    continue
                target, _, anchor = href[len("guide:") :].partition("#")
                if target not in sections:
                    report.add(path, line, f"broken link {href!r}: there is no guide {target!r}")
                elif anchor and anchor not in sections[target]:
                    report.add(
                        path, line, f"broken link {href!r}: {target!r} has no section {anchor!r}"
                    )


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


def _load_contacts(root, report, tags, ui, reference, today) -> list[dict[str, Any]]:
    path = root / "contacts.toml"
    loaded = _read_toml(path, report)
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
            return _line_of(text, rf"^\s*{key}\s*=", at)

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
        langs = _check_words(report, path, text, "languages", entry.get("languages"), tags, at)
        topics = _check_words(report, path, text, "topics", entry.get("topics"), CONTACT_TOPICS, at)
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
