"""Translations that lag behind, and the table that shows where each guide stands."""

from __future__ import annotations

import json
import re

from kiosk.content.source import load_content
from kiosk.content.status import as_html, content_status
from tests.conftest import copy_content, partial_content, run_kiosk
from tests.test_source import TODAY


def warnings_of(root) -> list[str]:
    return [str(p) for p in load_content(root, today=TODAY).warnings]


def test_a_changed_reference_section_makes_each_translation_of_it_stale(tmp_path):
    root = copy_content(tmp_path / "c")
    assert not [w for w in warnings_of(root) if "translated" in w]
    en = root / "guides" / "passport" / "en.md"
    # Re-wrapping a paragraph changes no words: nothing is stale.
    en.write_text(en.read_text().replace("Leave one copy", "Leave\none copy"))
    assert not [w for w in warnings_of(root) if "changed since" in w]
    en.write_text(en.read_text().replace("Make two copies", "Make three copies"))
    stale = [w for w in warnings_of(root) if "changed since" in w]
    assert sorted(re.findall(r"passport/(\w+)\.md", " ".join(stale))) == ["ar", "ne", "ro"]
    assert all("({#copies})" in w for w in stale)
    status = content_status(load_content(root, today=TODAY))
    cells = next(g for g in status["guides"] if g["id"] == "passport")["cells"]
    assert cells["ne"] == {"state": "stale", "stale": ["copies"]}
    assert cells["en"]["state"] == "reference"

    # The Nepali translator updates ne.md, then records it: only Nepali is up to date.
    done = run_kiosk("content", "translated", str(root), "--guide", "passport", "--lang", "ne")
    assert done.returncode == 0, done.stderr
    assert "passport · ne: up to date" in done.stdout
    record = (root / "guides" / "passport" / "translated.toml").read_text()
    assert "do not edit by hand" in record
    stale = [w for w in warnings_of(root) if "changed since" in w]
    assert sorted(re.findall(r"passport/(\w+)\.md", " ".join(stale))) == ["ar", "ro"]


def test_a_translation_without_a_record_is_named_once_and_not_called_done(tmp_path):
    root = copy_content(tmp_path / "c")
    (root / "guides" / "help-abroad" / "translated.toml").unlink()
    untracked = [w for w in warnings_of(root) if "no record" in w]
    assert len(untracked) == 3 and all("help-abroad/" in w for w in untracked)
    assert "kiosk content translated" in untracked[0]
    status = content_status(load_content(root, today=TODAY))
    cells = next(g for g in status["guides"] if g["id"] == "help-abroad")["cells"]
    assert {c["state"] for c in cells.values()} == {"reference", "untracked"}


def test_unknown_languages_and_guides_are_refused_by_the_record_command(tmp_path):
    root = copy_content(tmp_path / "c")
    for args, message in ((("--lang", "xx"), "'xx' is not a translation"),
                          (("--lang", "en"), "'en' is not a translation"),
                          (("--guide", "nope"), "no guide 'nope'")):  # fmt: skip
        result = run_kiosk("content", "translated", str(root), *args)
        assert result.returncode == 1 and message in result.stderr


def test_status_shows_done_stale_missing_and_fallback_words_three_ways(tmp_path):
    root = partial_content(tmp_path / "c")
    text = run_kiosk("content", "status", str(root))
    assert text.returncode == 0, text.stderr
    rows = {line.split()[0]: line.split()[1:] for line in text.stdout.splitlines()[:4]}
    assert rows["guide"] == ["en", "ne", "ar", "ro", "ur"]
    assert rows["help-abroad"] == ["ref", "ok", "ok", "ok", "-"]
    assert rows["wages"] == ["ref", "-", "-", "-", "?"]
    assert re.search(r"ur: \d+ interface words shown in en: .*step\.origin", text.stdout)

    data = json.loads(run_kiosk("content", "status", str(root), "--format", "json").stdout)
    ur = next(lang for lang in data["languages"] if lang["tag"] == "ur")
    assert "step.origin" in ur["ui_fallback"] and "help" not in ur["ui_fallback"]
    assert data["totals"]["ur"] == {"reference": 0, "done": 0, "stale": 0, "untracked": 2,
                                    "missing": 1}  # fmt: skip

    out = tmp_path / "status.html"
    written = run_kiosk("content", "status", str(root), "--format", "html", "--out", str(out))
    assert written.returncode == 0
    page = out.read_text()
    assert page == as_html(data) and "<script" not in page and "http" not in page
    assert '<span lang="ur" dir="rtl">اردو</span>' in page
    assert page.count('class="missing"') == 4  # wages in ne, ar, ro; help-abroad in ur


def test_partial_content_loads_with_warnings_not_errors(tmp_path):
    root = partial_content(tmp_path / "c")
    content = load_content(root, today=TODAY)
    wages = next(g for g in content.guides if g.id == "wages")
    assert sorted(wages.texts) == ["en", "ur"]
    fallback = [w for w in map(str, content.warnings) if "ui/ur.toml" in w]
    assert len(fallback) == 1 and "will show in en" in fallback[0]
    assert "ur" not in next(g for g in content.guides if g.id == "help-abroad").texts
