import re
from html.parser import HTMLParser

import pytest

from kiosk.content.markdown import SentenceCounter, parse_guide, render_blocks, render_inline

GUIDE = """# Title

Summary here.

## Part one {#one}

{body}
"""


class _Elements(HTMLParser):
    def __init__(self):
        super().__init__()
        self.found = []

    def handle_starttag(self, tag, attrs):
        self.found.append((tag, attrs))


def elements(markup: str) -> list[tuple[str, list]]:
    """Every element and its attributes, as a browser would parse them."""
    parser = _Elements()
    parser.feed(markup)
    return parser.found


def render(body: str) -> str:
    parsed = parse_guide(GUIDE.replace("{body}", body))
    counter = SentenceCounter()
    for section in parsed.sections:
        for tok in section.body:
            if tok.type == "inline":
                counter.split(tok, section.id)
    return render_blocks(parsed.sections[0].body)


@pytest.mark.parametrize(
    "hostile",
    [
        "<script>alert(1)</script>",
        '<img src=x onerror="alert(1)">',
        "[click](javascript:alert(1))",
        "[click](JAVASCRIPT:alert(1))",
        '<a href="javascript:alert(1)">x</a>',
        "[x](data:text/html;base64,PHNjcmlwdD4=)",
        "<iframe src='https://example.org'></iframe>",
        "<div onclick='steal()'>hi</div>",
        "![pic](https://example.org/tracker.png)",
    ],
)
def test_nothing_that_can_run_or_load_survives(hostile):
    tags = elements(render(hostile))
    assert {tag for tag, _ in tags} <= {"p", "a", "span", "strong", "em"}
    for _tag, attrs in tags:
        for name, value in attrs:
            assert name in {"href", "data-s", "rel"}, name
            if name == "href":
                assert value.startswith(("https:", "tel:", "mailto:")), value


def test_raw_html_is_shown_as_text():
    assert "&lt;b&gt;bold&lt;/b&gt;" in render("<b>bold</b>")


def test_every_piece_of_text_carries_its_sentence_number():
    out = render("First one. Second **bold. Third** one.\n\n- a list item")
    assert re.findall(r'data-s="(\d+)"', out) == ["0", "1", "1", "2", "2", "3"]
    assert "<strong>" in out


def test_guide_links_become_page_links_and_outside_links_are_safe():
    out = render(
        "See [rights](guide:rights#help), [call](tel:+9771) or [web](https://example.org)."
    )
    assert 'href="rights#sec-help"' in out
    assert 'href="tel:+9771"' in out
    assert 'rel="noopener noreferrer"' in out


def test_heading_anchor_is_removed_from_the_visible_heading():
    parsed = parse_guide(GUIDE.replace("{body}", "Text."))
    assert parsed.sections[0].id == "one"
    assert render_inline(parsed.sections[0].heading) == "Part one"


def test_structure_problems_are_found_with_lines():
    parsed = parse_guide("no title here\n\n## Section without id\n\ntext\n")
    messages = {(line, msg.split(":")[0]) for line, _sev, msg in parsed.problems}
    assert any("heading needs an id" in m for _l, m in messages)
    assert any("missing title" in m for _l, m in messages)
    assert (3, "section heading needs an id, like '## Your passport {#passport}'") in {
        (line, msg) for line, _s, msg in parsed.problems
    }
