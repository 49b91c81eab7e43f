"""Guide Markdown: parse a translator's file into title, summary and sections; render safe HTML.

Every piece of visible text is wrapped in ``<span data-s="N">`` where N is the sentence's index
in the guide, the same index the audio timings use, so a page can highlight what is being read.
"""

from __future__ import annotations

import html
import itertools
import re
from dataclasses import dataclass, field

import nh3
from markdown_it import MarkdownIt
from markdown_it.renderer import RendererHTML
from markdown_it.token import Token

from kiosk.text import sentence_spans

SECTION_ID = re.compile(r"\s*\{#([a-z0-9][a-z0-9-]*)\}\s*$")
ANY_ANCHOR = re.compile(r"\s*\{#([^}]*)\}\s*$")
LINK_SCHEMES = ("https:", "http:", "tel:", "mailto:", "guide:")

ALLOWED_TAGS = {
    "p",
    "ul",
    "ol",
    "li",
    "strong",
    "em",
    "blockquote",
    "a",
    "h3",
    "h4",
    "span",
    "br",
    "code",
    "hr",
}
ALLOWED_ATTRIBUTES = {"a": {"href"}, "span": {"data-s"}, "ol": {"start"}}


def _parser() -> MarkdownIt:
    md = MarkdownIt("commonmark", {"html": False, "linkify": False, "typographer": False})
    # Images would fetch files; code blocks make no sense read aloud.
    return md.disable(["image", "code", "fence", "html_block", "html_inline"])


MD = _parser()


@dataclass
class Section:
    id: str
    heading: Token  # the inline token of the ## heading, anchor removed
    line: int
    body: list[Token] = field(default_factory=list)

    @property
    def heading_text(self) -> str:
        return self.heading.content


@dataclass
class ParsedGuide:
    title: Token | None = None
    summary: Token | None = None
    sections: list[Section] = field(default_factory=list)
    problems: list[tuple[int, str, str]] = field(default_factory=list)  # line, severity, message
    links: list[tuple[int, str]] = field(default_factory=list)


def parse_guide(text: str) -> ParsedGuide:
    """Split a guide file into its parts and note every structural problem with its line."""
    out = ParsedGuide()
    tokens = MD.parse(text)
    lines = text.splitlines()
    current: Section | None = None
    i = 0
    while i < len(tokens):
        tok = tokens[i]
        line = (tok.map[0] + 1) if tok.map else 0
        if tok.type == "heading_open" and tok.tag == "h1":
            inline = tokens[i + 1]
            if out.title is None and current is None and not out.summary:
                out.title = inline
            else:
                out.problems.append((line, "error", "only the first line may be a '# ' title"))
            i += 3
            continue
        if tok.type == "heading_open" and tok.tag == "h2":
            inline = tokens[i + 1]
            match = SECTION_ID.search(inline.content)
            if not match:
                bad = ANY_ANCHOR.search(inline.content)
                why = (
                    f"section id {{#{bad.group(1)}}} may use only a-z, 0-9 and '-'"
                    if bad
                    else "section heading needs an id, like '## Your passport {#passport}'"
                )
                out.problems.append((line, "error", why))
                section_id = f"line-{line}"
            else:
                section_id = match.group(1)
                _strip_anchor(inline)
            if not inline.content.strip():
                out.problems.append((line, "error", "section heading has no text"))
            current = Section(section_id, inline, line)
            out.sections.append(current)
            i += 3
            continue
        if current is None:
            if tok.type == "paragraph_open" and out.title is not None and out.summary is None:
                out.summary = tokens[i + 1]
                i += 3
                continue
            if tok.type.endswith("_close") or tok.type == "inline":
                i += 1
                continue
            out.problems.append(
                (line, "error", "text before the first '## ' section is not shown; move it")
            )
            i += 1
            continue
        current.body.append(tok)
        i += 1

    for tok in tokens:
        if tok.type != "inline":
            continue
        for child in tok.children or []:
            if child.type == "link_open":
                href = str(child.attrs.get("href", ""))
                out.links.append((_line_of(lines, tok, href), href))
            if child.type == "text" and "![" in child.content:
                out.problems.append(
                    (_line_of(lines, tok, "!["), "warning", "images are not shown; describe it")
                )
    if out.title is None:
        out.problems.append((1, "error", "missing title: the first line must be '# ' and a title"))
    elif not out.title.content.strip():
        out.problems.append((1, "error", "the title is empty"))
    if out.summary is None or not out.summary.content.strip():
        out.problems.append((2, "error", "missing summary: one line after the title"))
    if not out.sections:
        out.problems.append((1, "error", "no sections: a guide needs at least one '## ' section"))
    return out


def _strip_anchor(inline: Token) -> None:
    inline.content = SECTION_ID.sub("", inline.content)
    children = inline.children or []
    while children and children[-1].type == "text":
        stripped = SECTION_ID.sub("", children[-1].content)
        if stripped == children[-1].content:
            break
        children[-1].content = stripped.rstrip()
        if children[-1].content:
            break
        children.pop()
    if children and children[-1].type == "text":
        children[-1].content = children[-1].content.rstrip()


def _line_of(lines: list[str], tok: Token, needle: str) -> int:
    start, end = tok.map if tok.map else (0, 0)
    for n in range(start, min(end, len(lines))):
        if needle in lines[n]:
            return n + 1
    return start + 1


# ---------------------------------------------------------------- sentences and rendering


class SentenceCounter:
    """Hands out guide-wide sentence numbers and remembers each sentence's text and section."""

    def __init__(self) -> None:
        self.sentences: list[tuple[str, str]] = []  # (section id, text)

    def split(self, inline: Token, section: str) -> None:
        """Split an inline token's text children at sentence ends and number each piece."""
        children = inline.children or []
        pieces = [(c, c.content) for c in children if c.type in ("text", "code_inline")]
        full = ""
        offsets = []
        for child in children:
            offsets.append(len(full))
            if child.type in ("text", "code_inline"):
                full += child.content
            elif child.type in ("softbreak", "hardbreak"):
                full += " "
        spans = sentence_spans(full)
        if not spans or not pieces:
            return
        first = len(self.sentences)
        for a, b in spans:
            self.sentences.append((section, " ".join(full[a:b].split())))

        def sentence_at(pos: int) -> int:
            for n, (_, end) in enumerate(spans):
                if pos < end:
                    return first + n
            return first + len(spans) - 1

        new_children: list[Token] = []
        for child, start in zip(children, offsets, strict=True):
            if child.type != "text":
                if child.type == "code_inline":
                    child.meta = {"s": sentence_at(start)}
                new_children.append(child)
                continue
            text = child.content
            cuts = sorted(
                {0, len(text)} | {b - start for _, b in spans if 0 < b - start < len(text)}
            )
            for a, b in itertools.pairwise(cuts):
                piece = Token("text", "", 0, content=text[a:b], meta={"s": sentence_at(start + a)})
                new_children.append(piece)
        inline.children = new_children


class _Renderer(RendererHTML):
    def text(self, tokens, idx, options, env):
        tok = tokens[idx]
        content = html.escape(tok.content, quote=False)
        if "s" in tok.meta:
            return f'<span data-s="{tok.meta["s"]}">{content}</span>'
        return content

    def code_inline(self, tokens, idx, options, env):
        tok = tokens[idx]
        return (
            f'<code><span data-s="{tok.meta.get("s", 0)}">{html.escape(tok.content)}</span></code>'
        )

    def link_open(self, tokens, idx, options, env):
        tok = tokens[idx]
        href = str(tok.attrs.get("href", ""))
        if href.startswith("guide:"):
            target, _, anchor = href[len("guide:") :].partition("#")
            tok.attrs = {"href": f"{target}#sec-{anchor}" if anchor else target}
        return self.renderToken(tokens, idx, options, env)


_RENDERER = _Renderer()


def render_inline(inline: Token) -> str:
    """Render one inline token (a title, heading or summary) to sanitised HTML."""
    return sanitise(_RENDERER.render([inline], MD.options, {}))


def render_blocks(tokens: list[Token]) -> str:
    """Render a section body to sanitised HTML."""
    return sanitise(_RENDERER.render(tokens, MD.options, {}))


def sanitise(markup: str) -> str:
    """Remove anything that could run or load: only the tags guides need survive."""
    return nh3.clean(
        markup,
        tags=ALLOWED_TAGS,
        attributes=ALLOWED_ATTRIBUTES,
        url_schemes={"http", "https", "tel", "mailto"},
        link_rel="noopener noreferrer",
        strip_comments=True,
    ).strip()
