"""Read and check the content source folder; every problem is reported at once with its line."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kiosk.content import translations
from kiosk.content.checks import ID, Report, check_words, line_of, read_toml
from kiosk.content.contacts import load_contacts
from kiosk.content.interface import find_recordings, load_ui
from kiosk.content.markdown import LINK_SCHEMES, ParsedGuide, parse_guide
from kiosk.errors import ContentInvalid, Problem
from kiosk.vocabulary import DIMENSIONS, STEPS, SUPPORT

__all__ = ["Content", "Language", "SourceGuide", "load_content"]

TAG = re.compile(r"^[a-z]{2,3}(-[A-Za-z0-9]{2,8})*\Z")
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
class SourceGuide:
    """A guide as written in the content folder (guides/<id>/: guide.toml, one Markdown
    file per language, recordings), read by headquarters and the studio to build a release.

    The build (kiosk.content.build) renders each into a catalog.json entry: on a kiosk that
    entry is a ``kiosk.device.library.Guide``, the guide as the device shows it. This one holds the
    parsed source (``texts``), recording files and translation staleness; that one holds
    rendered text only.
    """

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
    guides: list[SourceGuide]
    contacts: list[dict[str, Any]]
    icons: dict[str, Path]
    warnings: list[Problem]


def load_content(root: str | Path, today: dt.date | None = None) -> Content:
    """Load the content source, or raise ContentInvalid listing every error found."""
    root = Path(root).resolve()
    today = today or dt.date.today()
    report = Report(root)
    if not root.is_dir():
        report.add(root, 0, "content folder does not exist")
        raise ContentInvalid(report.problems)

    reference, languages = _load_languages(root, report)
    tags = [lang.tag for lang in languages]
    ui, ui_recordings = load_ui(root, report, reference, tags)
    icons = _load_icons(root, report)
    guides = _load_guides(root, report, reference, tags, icons)
    _check_links(root, report, guides)
    contacts = load_contacts(root, report, tags, ui, reference, today)

    if report.errors:
        raise ContentInvalid(report.problems)
    return Content(
        root, reference, languages, ui, ui_recordings, guides, contacts, icons, report.problems
    )


def _load_languages(root: Path, report: Report) -> tuple[str, list[Language]]:
    path = root / "languages.toml"
    loaded = read_toml(path, report)
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
            report.add(path, line_of(text, r"^\s*name\s*=", at), f"{tag}: name is missing")
        direction = block.get("dir", "ltr")
        if direction not in ("ltr", "rtl"):
            report.add(path, line_of(text, r"^\s*dir\s*=", at), f"{tag}: dir must be ltr or rtl")
        voice = block.get("voice", "")
        if not isinstance(voice, str):
            report.add(path, line_of(text, r"^\s*voice\s*=", at), f"{tag}: voice must be text")
            voice = ""
        languages.append(Language(tag, str(name or tag), str(direction), voice))
    reference = data.get("reference", languages[0].tag if languages else "")
    if reference not in {lang.tag for lang in languages}:
        report.add(
            path, line_of(text, r"^\s*reference\s*="), f"reference {reference!r} is not listed"
        )
    return str(reference), languages


def _load_icons(root: Path, report: Report) -> dict[str, Path]:
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


def _load_guides(root, report, reference, tags, icons) -> list[SourceGuide]:
    guides: list[SourceGuide] = []
    folder = root / "guides"
    if not folder.is_dir():
        report.add(folder, 0, "guides folder is missing")
        return guides
    for gdir in sorted(p for p in folder.iterdir() if p.is_dir()):
        if not ID.match(gdir.name):
            report.add(gdir, 0, "guide folder names use only a-z, 0-9 and '-'")
            continue
        meta_path = gdir / "guide.toml"
        loaded = read_toml(meta_path, report)
        if loaded is None:
            continue
        meta, text = loaded
        known = {"icon", "order", "steps", "dimensions", "support", "kind", "consent",
                 "names_changed"}  # fmt: skip
        for key in sorted(set(meta) - known):
            report.add(
                meta_path, line_of(text, rf"^\s*{re.escape(key)}\s*="), f"unknown field {key!r}"
            )
        icon = meta.get("icon")
        if icon not in icons:
            report.add(meta_path, line_of(text, r"^\s*icon\s*="), f"icon {icon!r} is not in icons/")
        order = meta.get("order", 0)
        if not isinstance(order, int) or isinstance(order, bool):
            report.add(meta_path, line_of(text, r"^\s*order\s*="), "order must be a whole number")
            order = 0
        guide = SourceGuide(
            gdir.name,
            str(icon),
            order,
            check_words(report, meta_path, text, "steps", meta.get("steps"), STEPS),
            check_words(report, meta_path, text, "dimensions", meta.get("dimensions"), DIMENSIONS),
            check_words(report, meta_path, text, "support", meta.get("support"), SUPPORT),
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
        guide.recordings = find_recordings(gdir / "audio", report, tags, known, "section id")
        guides.append(guide)
    if not guides:
        report.add(folder, 0, "there are no guides")
    return guides


def _check_story(report: Report, path: Path, text: str, meta: dict) -> tuple[str, bool]:
    """A story is a person's own: it is shown only with their consent on record."""
    kind = meta.get("kind", "guide")
    if kind not in ("guide", "story"):
        report.add(path, line_of(text, r"^\s*kind\s*="), 'kind must be "guide" or "story"')
        return "guide", False
    if kind == "guide":
        for key in ("consent", "names_changed"):
            if key in meta:
                report.add(path, line_of(text, rf"^\s*{key}\s*="), f"{key} is for stories only")
        return kind, False
    if meta.get("consent") is not True:
        report.add(
            path,
            line_of(text, r"^\s*(consent|kind)\s*="),
            "a story needs consent = true: the person agreed, knowing it is shown and played "
            "to the public, and can take it back",
        )
    names = meta.get("names_changed")
    if not isinstance(names, bool):
        report.add(
            path,
            line_of(text, r"^\s*(names_changed|kind)\s*="),
            "a story must say names_changed = true or false",
        )
    return kind, names is True


def _check_translated(report: Report, gdir: Path, guide: SourceGuide, reference: str) -> None:
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


def _check_links(root: Path, report: Report, guides: list[SourceGuide]) -> None:
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
