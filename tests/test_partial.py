"""A language added part-way: Urdu with two of three guides and half the interface words.

The content is built into a signed release (speech and leaflets included), installed and
served; every page a visitor meets is read for text shown under the wrong language.
"""

from __future__ import annotations

import re
import sqlite3
from html.parser import HTMLParser
from typing import ClassVar

import pytest

from kiosk.content.build import build_release
from kiosk.device.install import ReleaseStore
from kiosk.device.usage import Usage
from kiosk.device.web import create_app
from tests.conftest import device_settings, partial_content

PHONE = {"REMOTE_ADDR": "10.42.0.23"}
SCREEN = {"REMOTE_ADDR": "127.0.0.1"}


@pytest.fixture(scope="module")
def partial_release(tmp_path_factory, keypair, speaker):
    root = tmp_path_factory.mktemp("partial")
    content = partial_content(root / "content")
    # English changed after the other languages were translated: their copies are stale.
    en = content / "guides" / "passport" / "en.md"
    en.write_text(en.read_text().replace("Make two copies of your passport.",
                                         "Make two copies of your passport and visa."))  # fmt: skip
    out = root / "release"
    result = build_release(content, out, keypair[0], speaker, version=300)
    data = root / "device"
    ReleaseStore(data).install(out, [keypair[1]])
    return out, data, result


@pytest.fixture
def site(partial_release, keypair, tmp_path):
    _, data, _ = partial_release
    usage = Usage(tmp_path / "usage.db", start=False)
    app = create_app(device_settings(data, keypair[1].source), usage=usage)
    yield app.test_client(), usage
    usage.close()


def page(client, url, env=PHONE) -> str:
    response = client.get(url, environ_base=env)
    assert response.status_code == 200, url
    return response.get_data(as_text=True)


class _Languages(HTMLParser):
    """Each piece of visible text with the language it is marked as (the nearest lang=)."""

    VOID: ClassVar = {
        "meta",
        "link",
        "img",
        "input",
        "br",
        "hr",
        "source",
        "use",
        "path",
        "area",
        "wbr",
    }

    def __init__(self) -> None:
        super().__init__()
        self.stack: list[tuple[str, str | None]] = []
        self.pieces: list[tuple[str | None, str]] = []
        self.skip = 0

    def handle_starttag(self, tag, attrs):
        if tag in self.VOID:
            return
        self.stack.append((tag, dict(attrs).get("lang")))
        self.skip += tag in ("script", "style", "svg", "title")

    def handle_endtag(self, tag):
        while self.stack:
            name, _ = self.stack.pop()
            self.skip -= name in ("script", "style", "svg", "title")
            if name == tag:
                break

    def handle_data(self, data):
        if data.strip() and not self.skip:
            lang = next((lang for _, lang in reversed(self.stack) if lang), None)
            self.pieces.append((lang, data.strip()))


def text_by_language(html: str) -> list[tuple[str | None, str]]:
    parser = _Languages()
    parser.feed(html)
    return parser.pieces


def assert_no_latin_words_marked_urdu(html: str) -> None:
    for lang, text in text_by_language(html):
        if lang == "ur":
            assert not re.search(r"[A-Za-z]{3,}", text), f"English shown as Urdu: {text!r}"


def test_the_release_builds_with_warnings_not_errors(partial_release):
    out, _, result = partial_release
    assert any("ui/ur.toml" in str(w) and "will show in en" in str(w) for w in result.warnings)
    assert (out / "audio" / "guides" / "wages" / "ur.mp3").is_file()
    assert not (out / "audio" / "guides" / "help-abroad" / "ur.mp3").exists()
    assert not (out / "audio" / "guides" / "wages" / "ne.mp3").exists()
    assert (out / "leaflets" / "wages" / "ur-a4.pdf").is_file()
    assert not (out / "leaflets" / "help-abroad" / "ur-a4.pdf").exists()


def test_a_languages_home_shows_its_guides_and_offers_the_others_in_their_languages(site):
    client, _ = site
    home = page(client, "/ur/")
    assert 'href="/ur/guide/passport"' in home and 'href="/ur/guide/wages"' in home
    assert 'href="/ur/guide/help-abroad"' not in home
    elsewhere = home.split('id="elsewhere-h"')[1]
    for tag, name in (("en", "English"), ("ne", "नेपाली"), ("ar", "العربية")):
        assert f'href="/{tag}/guide/help-abroad" lang="{tag}"' in elsewhere
        assert f">{name}</a>" in elsewhere
    assert '<span class="title" lang="en" dir="ltr">' in elsewhere  # the title, marked English
    assert_no_latin_words_marked_urdu(home)

    nepali = page(client, "/ne/")
    assert 'href="/ne/guide/wages"' not in nepali.split('id="elsewhere-h"')[0]
    assert 'href="/ur/guide/wages" lang="ur" dir="rtl" hreflang="ur">اردو</a>' in nepali


def test_words_a_language_lacks_are_shown_in_english_and_marked_so(site):
    client, _ = site
    guide = page(client, "/ur/guide/passport")
    assert '<html lang="ur" dir="rtl"' in guide
    assert '<span lang="en" dir="ltr">Listen to the whole guide</span>' in guide
    assert 'data-label-stop="روکیں"' in guide  # Urdu has this word
    assert not re.search(r'="[^"]*<span', guide)  # no tag inside any attribute
    assert_no_latin_words_marked_urdu(guide)
    assert_no_latin_words_marked_urdu(page(client, "/ur/help"))
    assert_no_latin_words_marked_urdu(page(client, "/screen/ur/guide/wages", SCREEN))


def test_the_next_guide_is_the_next_one_in_the_visitors_language(site):
    client, _ = site
    guide = page(client, "/ur/guide/passport")
    assert 'rel="next" href="/ur/guide/wages"' in guide
    assert "/ur/guide/help-abroad" not in guide


def test_a_guide_not_in_the_language_says_so_and_links_to_the_languages_it_has(site):
    client, usage = site
    missing = page(client, "/ur/guide/help-abroad")
    assert '<h1 lang="en" dir="ltr">' in missing
    assert '<span lang="en" dir="ltr">This guide is not in your language yet.' in missing
    for tag in ("en", "ne", "ar", "ro"):
        assert f'href="/{tag}/guide/help-abroad" lang="{tag}"' in missing
    assert_no_latin_words_marked_urdu(missing)
    assert client.get("/ur/guide/help-abroad/save.html", environ_base=PHONE).status_code == 404
    assert views(usage) == 0  # a page saying "not in your language" is not a view of the guide
    page(client, "/ur/guide/wages")
    assert views(usage) == 1


def views(usage) -> int:
    usage.flush()
    with sqlite3.connect(usage.path) as db:
        return db.execute("SELECT COALESCE(SUM(views), 0) FROM guide_day").fetchone()[0]


def test_urdu_is_searched_with_the_letters_an_arabic_keyboard_types(site):
    client, _ = site
    found = page(client, "/ur/search?q=تنخواه")  # ه for ہ
    assert 'href="/ur/guide/wages#sec-payslip"' in found
    assert "<mark>تنخواہ</mark>" in found  # the word as written, marked whole
    copies = page(client, "/ur/search?q=كاپي")  # ك for ک, ي for ی
    assert 'href="/ur/guide/passport#sec-copies"' in copies
    assert "/guide/wages" not in page(client, "/ne/search?q=wages")  # not across languages


def test_the_new_language_is_offered_spoken_and_on_the_attract_screen(site):
    client, _ = site
    chooser = page(client, "/screen/", SCREEN)
    assert re.search(
        r'lang="ur" dir="rtl" data-say="/media/300/audio/ui/ur/language_name\.mp3"', chooser
    )
    attract = page(client, "/screen/attract", SCREEN)
    slide = attract.split('<section class="slide" lang="ur"')[1].split("</section>")[0]
    assert 'data-invite="/media/300/audio/ui/ur/welcome.mp3"' in slide
    assert "پاسپورٹ" in slide and "help" not in slide.lower()  # its own two guides' titles


def test_a_section_changed_in_english_since_its_translation_says_so(site, partial_release):
    client, _ = site
    _, _, result = partial_release
    stale = [str(w) for w in result.warnings if "changed since" in str(w)]
    assert len(stale) == 3 and all("({#copies})" in w for w in stale)  # ne, ar, ro
    nepali = page(client, "/ne/guide/passport")
    copies = nepali.split('id="sec-copies"')[1].split("</section>")[0]
    assert 'class="note stale"' in copies
    assert 'href="/en/guide/passport#sec-copies" lang="en" dir="ltr">English</a>' in copies
    assert 'class="note stale"' not in nepali.split('id="sec-taken"')[1]  # unchanged there
    assert 'class="note stale"' not in page(client, "/ur/guide/passport")  # no record: no claim


def test_the_radio_pack_takes_each_language_s_own_guides(partial_release):
    import json

    from kiosk.content.radio import tracks_of

    out, _, _ = partial_release
    tracks = tracks_of(json.loads((out / "catalog.json").read_text()))
    by_lang = {}
    for track in tracks:
        by_lang.setdefault(track.lang, []).append(track.name)
    assert by_lang["ur"] == ["ur/01-passport.mp3", "ur/03-wages.mp3"]
    assert by_lang["ne"] == ["ne/01-passport.mp3", "ne/02-help-abroad.mp3"]
