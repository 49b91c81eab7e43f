"""What a first-time visitor meets, in real Chromium: each test asserts what a person sees
(text in the viewport, a control within reach, colours, history), not that a class is there."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from kiosk.content.build import build_release
from kiosk.device.install import ReleaseStore
from tests.conftest import FIXTURE_CONTENT, Server
from tests.integration.test_browser import PHONE, SCREEN, browser  # noqa: F401 - a fixture

# The share of a box that is on screen, from the page's own geometry.
IN_VIEW = """e => { const r = e.getBoundingClientRect();
  return r.height > 0 && r.top >= 0 && r.bottom <= innerHeight && r.left >= 0
         && r.right <= innerWidth; }"""


def in_view(locator) -> bool:
    return locator.evaluate(IN_VIEW)


@pytest.fixture
def phone(browser):  # noqa: F811 - the fixture imported above
    context = browser.new_context(viewport=PHONE)
    yield context.new_page()
    context.close()


@pytest.fixture
def screen(browser):  # noqa: F811
    context = browser.new_context(viewport=SCREEN)
    yield context.new_page()
    context.close()


# ---------------------------------------------------------------- 1. the help page


def test_a_nepali_visitor_finds_nepal_first_and_in_sight(phone: Page, sample_server):
    phone.goto(sample_server.url + "/ne/help")
    countries = phone.locator(".country-name").all_inner_texts()
    assert countries[0] == "नेपाल", countries  # not ten other countries' emergency numbers
    first = phone.locator(".contact h3").first
    expect(first).to_have_text("नेपाल प्रहरी")
    assert in_view(first)  # on the first screen, not below ten cards
    assert phone.locator(".contact a[href^='tel:']").first.inner_text().strip() == "100"


def test_the_touchscreen_shows_numbers_to_scan_not_buttons_it_cannot_dial(
    screen: Page, sample_server
):
    screen.goto(sample_server.url + "/screen/ne/help")
    assert screen.locator("a[href^='tel:']").count() == 0
    cards = screen.locator(".contact")
    assert cards.count() > 5
    assert screen.locator(".call-here figure svg").count() == cards.count()  # a QR code each
    number = screen.locator(".call-here .number").first
    expect(number).to_have_text("100")
    assert float(number.evaluate("e => parseFloat(getComputedStyle(e).fontSize)")) >= 36
    expect(screen.locator(".call-here figcaption").first).to_be_visible()
    # The filters, then "Show": the contacts found are what the visitor sees.
    start = screen.evaluate("history.length")
    screen.select_option("#country", "MD")
    screen.click(".filters button")
    screen.wait_for_url("**/screen/ne/help?country=MD&language=#contacts")
    expect(screen.locator(".country-name")).to_have_text(["मोल्डोभा"])
    assert in_view(screen.locator(".contact h3").first)
    assert screen.evaluate("history.length") == start  # the touchscreen keeps no history


# ---------------------------------------------------------------- 2. Listen and Stop


def test_listen_turns_into_stop_and_a_stop_stays_in_reach(phone: Page, sample_server):
    phone.goto(sample_server.url + "/en/guide/recruiters")
    whole = phone.locator("button.listen.big")
    expect(whole).to_contain_text("Listen")
    whole.click()
    expect(whole).to_contain_text("Stop")
    expect(phone.locator("[data-s].reading").first).to_be_visible(timeout=10_000)
    floating = phone.locator("button.stop-float")
    expect(floating).to_be_hidden()  # the button that plays is in sight: one Stop is enough
    phone.evaluate("scrollTo(0, document.body.scrollHeight)")  # reading on, far below
    expect(floating).to_be_visible()
    assert in_view(floating)
    expect(floating).to_contain_text("Stop")
    floating.click()
    expect(phone.locator("[data-s].reading")).to_have_count(0)
    expect(whole).to_contain_text("Listen")
    expect(floating).to_be_hidden()
    assert phone.evaluate("[...document.querySelectorAll('audio')].every(a => a.paused)")


# ---------------------------------------------------------------- 3. was this helpful?


def test_an_answer_on_the_touchscreen_shows_its_thanks_where_it_was_asked(
    screen: Page, sample_server
):
    screen.goto(sample_server.url + "/screen/ne/guide/documents")
    yes, no = screen.locator(".answer-yes"), screen.locator(".answer-no")
    no.scroll_into_view_if_needed()
    colours = [b.evaluate("e => getComputedStyle(e).backgroundColor") for b in (yes, no)]
    assert colours[0] != colours[1]  # Yes and No do not look the same
    no.click()
    screen.wait_for_url("**/screen/ne/guide/documents?thanks=1#helpful")
    thanks = screen.locator(".thanks")
    expect(thanks).to_be_visible()
    assert in_view(thanks)  # not the top of the guide, as if it had been reset


# ---------------------------------------------------------------- 4. the attract screen


def test_the_attract_screen_fits_the_touchscreen(screen: Page, sample_server):
    screen.goto(sample_server.url + "/screen/attract")
    slide = screen.locator(".slide:not([hidden])")
    touch = slide.locator(".touch")
    expect(touch).to_have_text("Welcome. Touch a language to begin.")
    assert in_view(touch)
    assert slide.locator("ul.titles").evaluate("e => e.getBoundingClientRect().bottom") <= 480
    caption = slide.locator(".wifi figcaption")
    expect(caption).to_be_visible()
    assert in_view(caption)
    assert in_view(slide.locator(".wifi svg"))
    underlined = screen.evaluate(
        "[...document.querySelectorAll('.slide:not([hidden]) *')]"
        ".filter(e => getComputedStyle(e).textDecorationLine.includes('underline')).length"
    )
    assert underlined == 0


@pytest.fixture(scope="module")
def eight_languages(tmp_path_factory, keypair, speaker) -> Path:
    """The fixture guides in eight languages: four more, text only, copied from Romanian (the
    words do not matter here, only how many buttons the chooser must fit)."""
    content = tmp_path_factory.mktemp("eight") / "content"
    shutil.copytree(FIXTURE_CONTENT, content)
    extra = {"es": "Español", "fr": "Français", "pt": "Português", "uk": "Українська"}
    with (content / "languages.toml").open("a", encoding="utf-8") as langs:
        for tag, name in extra.items():
            langs.write(f'\n[[language]]\ntag = "{tag}"\nname = "{name}"\ndir = "ltr"\n'
                        'voice = ""\n')  # fmt: skip
            shutil.copy(content / "ui" / "ro.toml", content / "ui" / f"{tag}.toml")
            for guide in (content / "guides").iterdir():
                shutil.copy(guide / "ro.md", guide / f"{tag}.md")
    out = content.parent / "release"
    build_release(content, out, keypair[0], speaker, version=200)
    data = content.parent / "device"
    ReleaseStore(data).install(out, [keypair[1]])
    return data


def test_eight_languages_all_fit_the_touchscreens_chooser(screen: Page, eight_languages, keypair):
    server = Server(eight_languages, Path(f"{keypair[0]}.pub"))
    try:
        screen.goto(server.url + "/screen/")
        buttons = screen.locator("a.language")
        assert buttons.count() == 8
        assert all(in_view(buttons.nth(i)) for i in range(8))
    finally:
        server.stop()


# ---------------------------------------------------------------- 5. nothing left behind


def test_the_next_visitor_cannot_walk_back_to_the_last_ones_pages(browser, sample_device, keypair):  # noqa: F811
    server = Server(sample_device, Path(f"{keypair[0]}.pub"), KIOSK_IDLE_SECONDS="6")
    try:
        context = browser.new_context(viewport=SCREEN)
        page = context.new_page()
        page.goto(server.url + "/screen/")
        start = page.evaluate("history.length")
        page.click("a.language[lang=ne]")
        page.wait_for_url("**/screen/ne/")
        page.click("a.btn.help")
        page.wait_for_url("**/screen/ne/help")
        page.select_option("#country", "NP")
        page.click(".filters button")
        page.wait_for_url("**/screen/ne/help?country=NP*")
        assert page.evaluate("history.length") == start
        page.wait_for_url(server.url + "/screen/", timeout=20_000)  # the idle reset
        page.evaluate("setTimeout(() => history.back(), 0)")
        page.wait_for_timeout(1500)
        # Back leads only where the browser began (a new tab's blank page; in the kiosk's
        # window nowhere), never to the last visitor's pages.
        assert page.url in (server.url + "/screen/", "about:blank"), page.url
        context.close()
    finally:
        server.stop()


# ---------------------------------------------------------------- 6. small things


def contrast(a: tuple[float, ...], b: tuple[float, ...]) -> float:
    def luminance(rgb):
        parts = [c / 255 for c in rgb[:3]]
        lin = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in parts]
        return 0.2126 * lin[0] + 0.7152 * lin[1] + 0.0722 * lin[2]

    high, low = sorted((luminance(a), luminance(b)), reverse=True)
    return (high + 0.05) / (low + 0.05)


# The focused element's outline colour, and the colour behind it (the first ancestor that
# paints a background).
FOCUS = """() => {
  const e = document.activeElement, rgb = s => s.match(/[\\d.]+/g).map(Number);
  let p = e.parentElement;
  while (p && rgb(getComputedStyle(p).backgroundColor)[3] === 0) p = p.parentElement;
  const behind = p ? getComputedStyle(p).backgroundColor : 'rgb(255, 255, 255)';
  const s = getComputedStyle(e);
  return {what: e.textContent.trim().slice(0, 30), style: s.outlineStyle,
          outline: rgb(s.outlineColor), behind: rgb(behind)};
}"""


@pytest.mark.parametrize("path", ["/ne/", "/en/guide/documents", "/screen/ar/"])
def test_the_focus_ring_stands_out_from_what_is_behind_it(phone: Page, sample_server, path):
    phone.goto(sample_server.url + path)
    seen = 0
    for _ in range(12):
        phone.keyboard.press("Tab")
        focus = phone.evaluate(FOCUS)
        if not focus["what"]:
            continue
        assert focus["style"] != "none", focus
        assert contrast(focus["outline"], focus["behind"]) >= 3, focus
        seen += 1
    assert seen >= 5


@pytest.mark.parametrize("lang", ["en", "ne", "es", "ar", "ro"])
def test_the_search_hint_is_not_cut_off_on_a_phone(phone: Page, sample_server, lang):
    phone.goto(f"{sample_server.url}/{lang}/")
    box = phone.locator("#q")
    room, needed = box.evaluate(
        """e => { const s = getComputedStyle(e);
             const c = document.createElement('canvas').getContext('2d');
             c.font = s.font;
             return [e.clientWidth - parseFloat(s.paddingLeft) - parseFloat(s.paddingRight),
                     c.measureText(e.placeholder).width]; }"""
    )
    assert needed <= room, (lang, needed, room)


def test_a_tapped_language_answers_at_once(screen: Page, sample_server):
    screen.goto(sample_server.url + "/screen/")
    button = screen.locator("a.language[lang=ne]")
    before = button.evaluate("e => getComputedStyle(e).backgroundColor")
    button.dispatch_event("click")
    changed = screen.wait_for_function(
        'b => getComputedStyle(document.querySelector("a.language[lang=ne]"))'
        ".backgroundColor !== b",
        arg=before,
        timeout=300,
    )
    assert changed


def test_no_page_asks_for_an_icon_it_cannot_have(phone: Page, sample_server):
    answers = []
    phone.on("response", lambda r: answers.append((r.status, r.url)))
    for path in ("/", "/ne/", "/en/guide/documents", "/en/help"):
        phone.goto(sample_server.url + path)
        phone.wait_for_load_state("networkidle")
    assert [a for a in answers if a[0] >= 300] == []
    assert any(url.endswith("/icon.svg") and status == 200 for status, url in answers)
    icon = phone.request.get(sample_server.url + "/favicon.ico", max_redirects=0)
    assert icon.status == 204


def test_without_javascript_a_tile_can_still_say_its_title(browser, sample_server):  # noqa: F811
    context = browser.new_context(viewport=PHONE, java_script_enabled=False)
    page = context.new_page()
    page.goto(sample_server.url + "/ne/")
    hear = page.locator(".tile a.btn.listen").first
    expect(hear).to_be_visible()
    href = hear.get_attribute("href")
    assert "/media/" in href and href.split("#t=0,")[1]  # the title and summary, then stop
    assert page.request.get(sample_server.url + href.split("#")[0]).status == 200
    context.close()
