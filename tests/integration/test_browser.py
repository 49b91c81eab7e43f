"""Real Chromium (Debian's) driven by Playwright against a real `kiosk serve`."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect, sync_playwright

from tests.conftest import Server

CHROMIUM = "/usr/bin/chromium"
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--autoplay-policy=no-user-gesture-required",
]
AXE = (
    Path(__file__).resolve().parent.parent / "browser" / "node_modules" / "axe-core" / "axe.min.js"
)
PHONE = {"width": 360, "height": 740}
SCREEN = {"width": 800, "height": 480}
LANGS = ("en", "ne", "es", "ar", "ro")


def axe_violations(page: Page) -> list[dict]:
    """Run axe-core on the page as it is now; each violation with up to three elements."""
    page.add_script_tag(path=str(AXE))
    return page.evaluate(
        "async () => (await axe.run(document, {resultTypes: ['violations']})).violations"
        ".map(v => ({id: v.id, nodes: v.nodes.map(n => n.target.join(' ')).slice(0, 3)}))"
    )


@pytest.fixture(scope="module")
def browser():
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield browser
        browser.close()


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport=PHONE)
    page = context.new_page()
    yield page
    context.close()


def test_choose_nepali_open_a_guide_listen_and_the_highlight_moves(page: Page, sample_server):
    page.goto(sample_server.url + "/")
    page.click("a.language[lang=ne]")
    page.wait_for_url("**/ne/")
    page.click("a[href='/ne/guide/recruiters']")
    page.wait_for_url("**/ne/guide/recruiters")
    listen = page.locator("button.listen.big")
    expect(listen).to_be_visible()
    expect(page.locator("audio.native").first).to_be_hidden()
    page.locator("#sec-warning-signs button.listen").click()
    first = page.locator("[data-s].reading").first
    expect(first).to_be_visible(timeout=10_000)
    seen = {first.get_attribute("data-s")}
    page.wait_for_function(
        "n => { const r = document.querySelector('[data-s].reading');"
        " return r && r.dataset.s !== n; }",
        arg=next(iter(seen)),
        timeout=15_000,
    )
    now = page.locator("[data-s].reading").first.get_attribute("data-s")
    assert int(now) > int(next(iter(seen)))
    section = page.locator("#sec-warning-signs")
    assert section.locator(f'[data-s="{now}"]').count() > 0  # reading inside the section chosen
    assert page.evaluate("window.scrollY") > 0  # scrolled to follow the voice
    page.locator("#sec-warning-signs button.listen").click()  # Stop
    expect(page.locator("[data-s].reading")).to_have_count(0)


def test_arabic_lays_out_right_to_left(page: Page, sample_server):
    page.goto(sample_server.url + "/ar/guide/documents")
    assert page.evaluate("getComputedStyle(document.body).direction") == "rtl"
    icon = page.locator(".guide-head img").bounding_box()
    title = page.locator(".guide-head h1").bounding_box()
    assert icon["x"] > title["x"]  # the picture sits on the right, where reading starts


def test_idle_touchscreen_forgets_the_visitor(browser, sample_device, keypair):
    server = Server(sample_device, Path(f"{keypair[0]}.pub"), KIOSK_IDLE_SECONDS="3")
    try:
        context = browser.new_context(viewport=SCREEN)
        page = context.new_page()
        page.goto(server.url + "/screen/")
        start = page.evaluate("history.length")
        page.click("a.language[lang=es]")
        page.wait_for_url("**/screen/es/")
        page.click("a[href='/screen/es/guide/money']")
        page.wait_for_url("**/screen/es/guide/money")
        page.locator("button.listen.big").click()
        expect(page.locator("[data-s].reading").first).to_be_visible(timeout=10_000)
        page.wait_for_url(server.url + "/screen/", timeout=15_000)
        assert page.evaluate("history.length") == start  # nothing to go back to
        expect(page.locator("[data-s].reading")).to_have_count(0)
        assert page.evaluate("document.querySelectorAll('audio').length") == 0
        context.close()
    finally:
        server.stop()


def test_pages_read_fine_without_javascript(browser, sample_server):
    context = browser.new_context(viewport=PHONE, java_script_enabled=False)
    page = context.new_page()
    page.goto(sample_server.url + "/")
    page.click("a.language[lang=ro]")
    page.wait_for_url("**/ro/")
    page.click("a[href='/ro/guide/contracts']")
    expect(page.locator("h1")).to_contain_text("Contract")
    expect(page.locator("audio.native").first).to_be_visible()
    expect(page.locator("button.listen").first).to_be_hidden()
    page.goto(sample_server.url + "/ro/")
    page.fill("#q", "pasaport")
    page.click("form.search button")  # a plain GET form
    page.wait_for_url("**/ro/search?q=pasaport")
    expect(page.locator(".hits mark").first).to_be_visible()
    context.close()


PAGE_TYPES = [
    ("languages", "/"),
    ("home", "/{lang}/"),
    ("guide", "/{lang}/guide/documents"),
    ("search hits", "/{lang}/search?q={word}"),
    ("search miss", "/{lang}/search?q=zzqx"),
    ("help", "/{lang}/help"),
    ("not found", "/{lang}/guide/none"),
    ("portal", "/portal"),
    ("screen home", "/screen/{lang}/"),
    ("screen guide", "/screen/{lang}/guide/rights"),
]
SEARCH_WORD = {"en": "passport", "ne": "राहदानी", "es": "pasaporte", "ar": "جواز", "ro": "pașaport"}


@pytest.mark.parametrize("lang", LANGS)
def test_axe_finds_no_accessibility_violations(browser, sample_server, lang):
    context = browser.new_context(viewport=PHONE, bypass_csp=True)
    page = context.new_page()
    problems = {}
    for name, path in PAGE_TYPES:
        page.set_viewport_size(SCREEN if path.startswith("/screen") else PHONE)
        page.goto(sample_server.url + path.format(lang=lang, word=SEARCH_WORD[lang]))
        result = axe_violations(page)
        if result:
            problems[name] = result
    context.close()
    assert not problems, json.dumps(problems, ensure_ascii=False, indent=1)


def test_touch_targets_are_at_least_48px(browser, sample_server):
    context = browser.new_context(viewport=PHONE)
    page = context.new_page()
    for path in ("/", "/en/", "/en/guide/documents", "/en/help"):
        page.goto(sample_server.url + path)
        small = page.evaluate(
            """() => [...document.querySelectorAll(
                 'a.btn, button, a.language, .tile a, select, input, .toc a, .hits a')]
                 .filter(e => e.offsetParent !== null).map(e => {
                   const r = e.getBoundingClientRect();
                   return [e.textContent.trim().slice(0, 30), r.width, r.height]; })
                 .filter(([, w, h]) => w < 48 || h < 48)"""
        )
        assert not small, (path, small)
    context.close()


def test_no_request_leaves_the_device(browser, sample_server):
    context = browser.new_context(viewport=SCREEN)
    page = context.new_page()
    outside = []
    page.on(
        "request", lambda r: None if r.url.startswith(sample_server.url) else outside.append(r.url)
    )
    for path in ("/screen/", "/screen/ne/", "/screen/ar/guide/health", "/en/help"):
        page.goto(sample_server.url + path)
        page.wait_for_load_state("networkidle")
    context.close()
    assert outside == []


@pytest.fixture
def librarian_server(tmp_path, sample_release, keypair):
    """A kiosk with the sample release and the librarian's password set."""
    from kiosk.device.admin import Auth
    from kiosk.device.install import ReleaseStore

    data = tmp_path / "device"
    ReleaseStore(data).install(sample_release, [keypair[1]])
    Auth(data).set_password("correct horse battery")
    server = Server(data, Path(f"{keypair[0]}.pub"))
    yield server
    server.stop()


def test_librarian_signs_in_on_the_screen_and_posts_a_nepali_notice(browser, librarian_server):
    server = librarian_server
    context = browser.new_context(viewport=SCREEN)
    page = context.new_page()
    page.goto(server.url + "/screen/ne/")
    page.mouse.move(10, 10)  # the hidden way in: hold the top-left corner
    page.mouse.down()
    page.wait_for_url("**/admin/", timeout=6000)
    page.mouse.up()
    page.fill("#password", "correct horse battery")
    page.click("form.admin-form button")
    page.wait_for_url("**/admin/")
    expect(page.locator("h1#h-usage")).to_be_visible()
    notice = "सूचना: शुक्रबार दिउँसो ३ बजे विदेशमा काम गरेका मानिसहरूसँग भेटघाट हुनेछ।"
    page.fill("#n-text", notice)
    page.select_option("#n-lang", "ne")
    page.locator("form.admin-form", has=page.locator("#n-text")).locator(
        "button[type=submit]"
    ).click()
    page.wait_for_url("**/admin/dashboard?m=notice_added")
    page.goto(server.url + "/screen/ne/")
    expect(page.locator(".notice-text")).to_have_text(notice)
    listen = page.locator(".notice button.listen")
    expect(listen).to_be_visible()
    src = page.locator(".notice audio").get_attribute("src")
    response = page.request.get(server.url + src)
    assert response.status == 200 and response.headers["content-type"] == "audio/mpeg"
    listen.click()
    page.wait_for_function("() => document.querySelector('.notice button.playing') !== null")
    context.close()


def test_a_notice_in_the_librarians_own_voice_plays_and_goes_with_the_notice(
    browser, librarian_server, tmp_path
):
    """Recorded on the librarian's page on the screen (Chromium's fake microphone plays
    espeak-ng's other voice, standing in for the librarian), kept on the device only."""
    from kiosk import audio
    from tests.conftest import reading_wav

    mic = reading_wav(tmp_path / "mic.wav", "The library is closed on Friday afternoon.", pad_s=0.5)
    server = librarian_server
    with_mic = browser.browser_type.launch(
        executable_path=CHROMIUM,
        args=[*ARGS, "--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream",
              f"--use-file-for-fake-audio-capture={mic}"],
    )  # fmt: skip
    try:
        page = with_mic.new_context(viewport=SCREEN).new_page()
        page.goto(server.url + "/admin/")
        page.fill("#password", "correct horse battery")
        page.click("form.admin-form button")
        page.wait_for_url("**/admin/")
        page.fill("#n-text", "The library is closed on Friday afternoon.")
        page.select_option("#n-lang", "en")
        page.click("#n-record")
        page.wait_for_selector("#n-record.on")
        page.wait_for_timeout(3500)
        page.click("#n-record")
        expect(page.locator("#n-recorded")).to_contain_text("Recorded")
        page.locator("form.admin-form", has=page.locator("#n-text")).locator(
            "button[type=submit]"
        ).click()
        page.wait_for_url("**/admin/dashboard?m=notice_added")
        notices = server.data_dir / "notices"
        [meta] = list(notices.glob("*.json"))
        assert json.loads(meta.read_text())["voice"] == "person"
        page.goto(server.url + "/screen/en/")
        src = page.locator(".notice audio").get_attribute("src")
        response = page.request.get(server.url + src)
        assert response.status == 200
        heard = audio.decode(response.body())
        assert abs(audio.measure(heard) - audio.TARGET_LUFS) <= 1.0
        assert 1.0 < len(heard) / 2 / 22050 < 4.0  # the sentence, not the looped silence
        page.locator(".notice button.listen").click()
        page.wait_for_function("() => document.querySelector('.notice button.playing') !== null")
        page.goto(server.url + "/admin/")
        with page.expect_navigation():
            page.locator(".notice-list form button").click()
        page.goto(server.url + "/screen/en/")
        expect(page.locator(".notice")).to_have_count(0)
        assert page.request.get(server.url + src).status == 404
        assert list(notices.glob("*.mp3")) == [] and list(notices.glob("*.json")) == []
    finally:
        with_mic.close()


@pytest.mark.parametrize("lang", ["en", "ne", "es"])
def test_axe_finds_no_violations_on_the_librarians_pages(browser, librarian_server, lang):
    server = librarian_server
    context = browser.new_context(viewport=SCREEN, bypass_csp=True)
    page = context.new_page()
    page.goto(server.url + "/admin/")
    with page.expect_navigation():
        page.click(f"form.admin-langs button[value={lang}]")
    problems = {}
    for name in ("sign in", "dashboard"):
        if name == "dashboard":
            page.fill("#password", "correct horse battery")
            with page.expect_navigation():
                page.click("form.admin-form button")
        assert page.locator(f'html[lang="{lang}"]').count() == 1
        found = axe_violations(page)
        if found:
            problems[name] = found
    context.close()
    assert not problems, json.dumps(problems, ensure_ascii=False, indent=1)


def test_physical_buttons_change_the_open_page_without_a_reload(browser, sample_server, tmp_path):
    """gpiozero's MockFactory presses real Button objects; their calls reach the real page."""
    import time

    from gpiozero import Device
    from gpiozero.pins.mock import MockFactory

    from kiosk.config import load_settings
    from kiosk.device.controls import Controls

    Device.pin_factory = MockFactory()
    calls: list[str] = []
    controls = Controls(load_settings(environ={}, data_dir=str(tmp_path)), calls.append)
    context = browser.new_context(viewport=SCREEN)
    page = context.new_page()

    def press(name: str) -> None:
        button = controls.buttons[name]
        button.pin.drive_low()
        time.sleep(0.06)
        button.pin.drive_high()
        while calls:  # what the display window's evaluate_js would run, in the page
            page.evaluate(calls.pop(0))

    try:
        page.goto(sample_server.url + "/screen/")
        press("next")
        press("next")
        expect(page.locator("a.language.chosen")).to_have_attribute("lang", "ne")
        with page.expect_navigation():
            press("listen")
        assert page.url.endswith("/screen/ne/")
        press("next")
        expect(page.locator(".tile > a.chosen")).to_have_attribute(
            "href", "/screen/ne/guide/deciding"
        )
        with page.expect_navigation():
            press("listen")
        assert page.url.endswith("/screen/ne/guide/deciding")
        press("listen")  # Listen on a guide reads it aloud, highlighting as it goes
        expect(page.locator("[data-s].reading").first).to_be_visible(timeout=10_000)
        press("listen")  # and the same button stops it
        expect(page.locator("[data-s].reading")).to_have_count(0)
        with page.expect_navigation():
            press("next")
        assert page.url.endswith("/screen/ne/guide/documents")
        with page.expect_navigation():
            press("home")
        assert page.url.endswith("/screen/ne/")
        with page.expect_navigation():
            press("language")
        assert page.url.endswith("/screen/")
    finally:
        context.close()
        controls.close()
        Device.pin_factory.close()
        Device.pin_factory = None


def test_attract_screen_after_a_quiet_while_and_motion_wakes_it(browser, sample_device, keypair):
    server = Server(sample_device, Path(f"{keypair[0]}.pub"), KIOSK_IDLE_SECONDS="2")
    try:
        context = browser.new_context(viewport=SCREEN)
        page = context.new_page()
        page.goto(server.url + "/screen/")
        page.wait_for_url(server.url + "/screen/attract", timeout=10_000)
        expect(page.locator(".attract .slide").first).to_be_visible()
        expect(page.locator(".attract .slide:not([hidden]) svg")).to_be_visible()  # the Wi-Fi QR
        with page.expect_navigation():
            page.evaluate("window.kiosk.wake()")  # what the motion sensor sends
        assert page.url == server.url + "/screen/"
        context.close()
    finally:
        server.stop()


def test_the_idle_reset_signs_the_librarian_out(browser, sample_release, keypair, tmp_path):
    """The librarian walks away from the dashboard: the reset must end the session too."""
    from kiosk.device.admin import Auth
    from kiosk.device.install import ReleaseStore

    data = tmp_path / "device"
    ReleaseStore(data).install(sample_release, [keypair[1]])
    Auth(data).set_password("correct horse battery")
    # Long enough that a slow sign-in on a busy machine finishes before the reset.
    server = Server(data, Path(f"{keypair[0]}.pub"), KIOSK_IDLE_SECONDS="8")
    try:
        context = browser.new_context(viewport=SCREEN)
        page = context.new_page()
        page.goto(server.url + "/admin/")
        page.fill("#password", "correct horse battery")
        page.click("form.admin-form button")
        expect(page.locator("h1#h-usage")).to_be_visible()
        page.wait_for_url(server.url + "/screen/", timeout=30_000)  # the idle reset
        # Straight after the reset, well before the server's own idle limit (8 s + 8 s).
        after = page.request.get(server.url + "/admin/dashboard", max_redirects=0)
        print(f"/admin/dashboard just after the idle reset: {after.status}")
        assert after.status == 303 and after.headers["location"].endswith("m=expired")
        context.close()
    finally:
        server.stop()


def test_one_long_word_in_a_notice_never_widens_the_page(browser, librarian_server):
    """A 1,000-character word made the page 15,050 px wide; it must wrap inside the screen."""
    server = librarian_server
    context = browser.new_context(viewport=SCREEN)
    page = context.new_page()
    page.goto(server.url + "/admin/")
    page.fill("#password", "correct horse battery")
    with page.expect_navigation():
        page.click("form.admin-form button")
    page.fill("#n-text", "ल" * 500 + "x" * 500)
    page.select_option("#n-lang", "en")
    with page.expect_navigation():
        page.locator("form.admin-form", has=page.locator("#n-text")).locator(
            "button[type=submit]"
        ).click()
    widths = {}
    for name, path, viewport in (("dashboard", "/admin/dashboard", SCREEN),
                                 ("screen home", "/screen/en/", SCREEN),
                                 ("phone home", "/en/", PHONE)):  # fmt: skip
        page.set_viewport_size(viewport)
        page.goto(server.url + path)
        widths[name] = page.evaluate("document.documentElement.scrollWidth")
        expect(page.locator(".notice-text, .notice-list p").first).to_be_visible()
    context.close()
    print("page widths with a 1,000-character word:", widths)
    assert widths == {"dashboard": 800, "screen home": 800, "phone home": 360}
