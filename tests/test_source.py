"""Content checks: every problem is found, located as file:line, and reported at once."""

import datetime as dt
import re

import pytest

from kiosk.content.source import load_content
from kiosk.errors import ContentInvalid
from tests.conftest import FIXTURE_CONTENT, SAMPLE_CONTENT, copy_content, run_kiosk

TODAY = dt.date(2026, 11, 25)


def problems_of(root) -> list[str]:
    with pytest.raises(ContentInvalid) as info:
        load_content(root, today=TODAY)
    return [str(p) for p in info.value.problems]


def test_fixture_content_is_valid():
    content = load_content(FIXTURE_CONTENT, today=TODAY)
    assert [g.id for g in content.guides] == ["help-abroad", "passport"]
    assert [lang.tag for lang in content.languages] == ["en", "ne", "ar", "ro"]


def test_sample_content_is_valid_and_complete():
    content = load_content(SAMPLE_CONTENT, today=TODAY)
    assert {lang.tag for lang in content.languages} >= {"en", "ne", "es", "ar", "ro"}
    assert len(content.guides) >= 8
    steps = {step for g in content.guides for step in g.steps}
    assert steps == {"origin", "transit", "camp", "arrival", "stay", "return"}
    assert any(c["example"] for c in content.contacts)
    assert all(
        c["organisation"]["en"].startswith("Example") for c in content.contacts if c["example"]
    )
    assert next(lang for lang in content.languages if lang.tag == "ar").dir == "rtl"


def test_unknown_vocabulary_word_is_an_error_with_its_line(tmp_path):
    root = copy_content(tmp_path / "c")
    meta = root / "guides" / "passport" / "guide.toml"
    meta.write_text(meta.read_text().replace('steps = ["origin", "transit"]', 'steps = ["moon"]'))
    assert any(
        re.match(r"c/guides/passport/guide\.toml:3: unknown steps word 'moon'", p)
        for p in problems_of(root)
    )


def test_unknown_language_file_is_an_error(tmp_path):
    root = copy_content(tmp_path / "c")
    (root / "guides" / "passport" / "xx.md").write_text("# T\n\nS.\n\n## A {#copies}\n\nB.\n")
    assert "c/guides/passport/xx.md: 'xx' is not a language in languages.toml" in problems_of(root)


def test_missing_title_and_summary_are_errors(tmp_path):
    root = copy_content(tmp_path / "c")
    (root / "guides" / "passport" / "ne.md").write_text(
        "## प्रतिलिपि {#copies}\n\nक।\n\n## ख {#taken}\n\nग।\n"
    )
    found = problems_of(root)
    assert any(p.startswith("c/guides/passport/ne.md:1: missing title") for p in found)
    assert any(p.startswith("c/guides/passport/ne.md:2: missing summary") for p in found)


def test_translation_missing_a_section_is_an_error(tmp_path):
    root = copy_content(tmp_path / "c")
    ar = root / "guides" / "passport" / "ar.md"
    ar.write_text(ar.read_text().split("## إذا")[0])
    assert "c/guides/passport/ar.md: section {#taken} from en.md is missing" in problems_of(root)


def test_broken_internal_links_are_errors(tmp_path):
    root = copy_content(tmp_path / "c")
    en = root / "guides" / "passport" / "en.md"
    en.write_text(en.read_text().replace("guide:help-abroad#embassy", "guide:help-abroad#nowhere"))
    ro = root / "guides" / "passport" / "ro.md"
    ro.write_text(ro.read_text().replace("guide:help-abroad#embassy", "guide:nosuch"))
    found = problems_of(root)
    assert (
        "c/guides/passport/en.md:11: broken link 'guide:help-abroad#nowhere': 'help-abroad' "
        "has no section 'nowhere'" in found
    )
    assert "c/guides/passport/ro.md:11: broken link 'guide:nosuch': there is no guide 'nosuch'" in (
        found
    )


def test_stale_contact_is_a_warning_not_an_error(tmp_path):
    content = load_content(FIXTURE_CONTENT, today=dt.date(2028, 1, 1))
    assert any(
        "np-police: not verified since 2026-11-01" in str(w) and w.severity == "warning"
        for w in content.warnings
    )


def test_every_problem_is_reported_at_once(tmp_path):
    root = copy_content(tmp_path / "c")
    (root / "ui" / "ne.toml").write_text('choose_language = "x"\nlisten = "y"\n')
    meta = root / "guides" / "help-abroad" / "guide.toml"
    meta.write_text(meta.read_text().replace('"social"', '"cosmic"'))
    (root / "guides" / "passport" / "en.md").unlink()
    found = problems_of(root)
    assert any("ui/ne.toml: help is missing" in p for p in found)  # the Help page's words
    assert any("unknown dimensions word 'cosmic'" in p for p in found)
    assert any("passport/en.md: every guide needs en.md" in p for p in found)


def test_placeholders_must_survive_translation(tmp_path):
    root = copy_content(tmp_path / "c")
    ui = root / "ui" / "ar.toml"
    ui.write_text(ui.read_text().replace("{query}", "{كلمة}"))
    line = (
        ui.read_text()
        .splitlines()
        .index(next(x for x in ui.read_text().splitlines() if x.startswith("search_results")))
    )
    assert any(
        f"ar.toml:{line + 1}: search_results must contain {{query}}" in p for p in problems_of(root)
    )


def test_unsafe_icon_is_refused(tmp_path):
    root = copy_content(tmp_path / "c")
    (root / "icons" / "passport.svg").write_text('<svg onload="alert(1)"></svg>')
    assert any("passport.svg:1: icons must be plain SVG" in p for p in problems_of(root))


def test_bad_contact_fields_are_errors(tmp_path):
    root = copy_content(tmp_path / "c")
    contacts = root / "contacts.toml"
    text = contacts.read_text().replace('phone = "100"', 'phone = "call me"')
    text = text.replace("verified = 2026-10-01", "verified = 2031-01-01")
    text = text.replace('organisation = "Example: Migrant help line"', 'organisation = "Help line"')
    contacts.write_text(text)
    found = problems_of(root)
    assert "c/contacts.toml:4: np-police: phone 'call me' may hold only digits, + - ( )" in found
    assert any("example-line: verified date 2031-01-01 is in the future" in p for p in found)
    assert any("example-line: an example's name must start with 'Example'" in p for p in found)


def test_broken_toml_reports_its_line(tmp_path):
    root = copy_content(tmp_path / "c")
    (root / "languages.toml").write_text('reference = "en"\n[[language]\ntag = "en"\n')
    assert any(p.startswith("c/languages.toml:2: not valid TOML") for p in problems_of(root))


def test_build_with_errors_exits_1_and_writes_nothing(tmp_path, keypair):
    root = copy_content(tmp_path / "c")
    (root / "guides" / "passport" / "ne.md").write_text("nothing useful\n")
    out = tmp_path / "out"
    result = run_kiosk("release", "build", str(root), str(out), "--key", str(keypair[0]))
    assert result.returncode == 1
    assert "c/guides/passport/ne.md:1: missing title" in result.stderr
    assert "nothing was written" in result.stderr
    assert not out.exists()
    assert not list(tmp_path.glob(".out*"))


def test_reference_language_must_have_every_word_the_pages_use(tmp_path):
    root = copy_content(tmp_path / "c")
    en = root / "ui" / "en.toml"
    en.write_text(en.read_text().replace('stop = "Stop"\n', ""))
    assert "c/ui/en.toml: stop is missing; pages need it" in problems_of(root)


def test_templates_use_only_required_words():
    from pathlib import Path

    from kiosk.vocabulary import REQUIRED_UI_KEYS

    used = set()
    for template in (Path(__file__).parent.parent / "kiosk/device/web/templates").glob("*.html"):
        used |= set(re.findall(r"\b(?:words|w)\.([a-z_]+)", template.read_text()))
    used -= {"get", "replace"}
    assert used <= set(REQUIRED_UI_KEYS), used - set(REQUIRED_UI_KEYS)


def test_contact_translations_must_be_known_languages_and_include_the_reference(tmp_path):
    root = copy_content(tmp_path / "c")
    contacts = root / "contacts.toml"
    contacts.write_text(
        contacts.read_text().replace(
            'organisation = { en = "Nepal Police", ne = "नेपाल प्रहरी" }',
            'organisation = { ne = "नेपाल प्रहरी", xx = "?" }',
        )
    )
    found = problems_of(root)
    assert (
        "c/contacts.toml:3: np-police: organisation has a translation for unknown language 'xx'"
        in (found)
    )
    assert "c/contacts.toml:3: np-police: organisation needs the en text too" in found
