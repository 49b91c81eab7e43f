"""Headquarters' app in Debian's Chromium: a real ``kiosk hq serve`` on an example fleet.

Staff sign in through the form, filter the fleet, open a kiosk, meet a page their role does
not allow, and sign out; axe-core finds no violation on any page.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
import urllib.request
from pathlib import Path

import pytest
from playwright.sync_api import expect

from kiosk.hq.accounts import Accounts
from tests.conftest import KIOSK, free_port
from tests.hq_fleet import demo_fleet
from tests.integration.test_browser import axe_violations, browser  # noqa: F401 - a fixture
from tests.test_hq_releases import NEW_TITLE, resign, retitle

PASSWORD = "a long enough password"
DESK = {"width": 1280, "height": 800}


@pytest.fixture(scope="module")
def hq_server(tmp_path_factory, fixture_release, keypair):
    root = tmp_path_factory.mktemp("hq") / "root"
    accounts = Accounts(root)
    accounts.add("vera", "viewer", PASSWORD)
    accounts.add("ada", "admin", PASSWORD)
    demo_fleet(root, days=20)
    pilot = root / "releases" / "pilot"  # real signed releases: 100 published, 101 a candidate
    pilot.mkdir(parents=True)
    shutil.copytree(fixture_release, pilot / "100")
    shutil.copytree(fixture_release, pilot / "101")
    resign(pilot / "101", 101, keypair[0], retitle)
    (pilot / "LATEST").write_text("100\n")
    port = free_port()
    content = Path(__file__).resolve().parent.parent.parent / "content"
    proc = subprocess.Popen([*KIOSK, "hq", "serve", "--root", str(root), "--port", str(port),
                             "--content", str(content), "--pubkey", f"{keypair[0]}.pub"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 20
    while True:
        try:
            with urllib.request.urlopen(url + "/", timeout=2):  # noqa: S310 - http only
                break
        except OSError:
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(proc.stderr.read().decode()) from None
            time.sleep(0.1)
    yield url
    proc.terminate()
    proc.wait(10)
    proc.stderr.close()


def sign_in(page, url: str, name: str) -> None:
    page.goto(url + "/")
    page.fill("#user", name)
    page.fill("#password", PASSWORD)
    page.click("form.form button")
    page.wait_for_url("**/fleet")


def axe_violations_let_in(page) -> list[dict]:
    """axe on a page whose Content-Security-Policy would refuse its script: read the page
    as served, then run axe on the same HTML in a page of its own."""
    html = page.content()
    other = page.context.browser.new_context(bypass_csp=True).new_page()
    try:
        other.set_content(html)
        return axe_violations(other)
    finally:
        other.context.close()


def screenshot(page, name: str) -> None:
    """With KIOSK_SCREENSHOTS=docs/screenshots, keep what the test sees for the docs."""
    folder = os.environ.get("KIOSK_SCREENSHOTS")
    if folder:
        page.screenshot(path=str(Path(folder) / f"{name}.png"), full_page=True)


def kiosks_shown(page) -> list[str]:
    return page.locator("table.fleet tbody th a").all_inner_texts()


def test_a_viewer_signs_in_filters_the_fleet_opens_a_kiosk_and_signs_out(browser, hq_server):  # noqa: F811
    context = browser.new_context(viewport=DESK)
    page = context.new_page()
    sign_in(page, hq_server, "vera")
    expect(page.locator("h1")).to_have_text("Fleet")
    everyone = kiosks_shown(page)
    assert len(everyone) == 8
    # Reddest first: the full, the silent and the behind kiosks lead, each saying why.
    assert set(everyone[:3]) == {"pokhara-2", "dhangadhi-1", "oaxaca-1"}
    expect(page.locator("tr", has_text="dhangadhi-1")).to_contain_text("silent for 5 days")
    page.select_option("#f-country", "MD")
    page.click("form.filters button")
    assert sorted(kiosks_shown(page)) == ["balti-1", "cahul-1"]
    expect(page.locator("tr", has_text="cahul-1")).to_contain_text("hot (")
    page.click("text=balti-1")
    expect(page.locator("h1")).to_have_text("balti-1")
    chart = page.locator("svg.chart").first
    expect(chart).to_be_visible()
    assert chart.get_attribute("aria-label").startswith("Storage used: from ")
    page.click("text=Every heartbeat")
    expect(page.locator("details td", has_text="USB stick").first).to_be_visible()
    page.click("text=Reach")
    page.select_option("#r-country", "MX")
    page.click("form.filters button")
    expect(page.locator("#h-by_kiosk ~ div table tbody th")).to_have_text(["oaxaca-1", "puebla-1"])
    views = page.locator("#h-by_step ~ svg.bars").get_attribute("aria-label")
    assert views.startswith("Guide views by journey step, guide views: First steps at origin ")
    page.goto(hq_server + "/audit")
    expect(page.locator("h1")).to_have_text("Not allowed")
    assert not axe_violations_let_in(page), "the refused page"
    page.goto(hq_server + "/fleet")
    page.click("text=Sign out")
    page.wait_for_url("**/?m=signed_out")
    page.goto(hq_server + "/fleet")
    expect(page.locator("h1")).to_have_text("Sign in")
    context.close()


def test_axe_finds_no_violations_on_headquarters_pages(browser, hq_server):  # noqa: F811
    # The pages' Content-Security-Policy forbids any script but their own; axe is let in.
    context = browser.new_context(viewport=DESK, bypass_csp=True)
    page = context.new_page()
    page.goto(hq_server + "/")
    found = {"sign-in": axe_violations(page)}
    sign_in(page, hq_server, "ada")
    for name, path in (("fleet", "/fleet"), ("filtered", "/fleet?country=NP&colour=red"),
                       ("kiosk", "/kiosk/pokhara-2"), ("audit", "/audit"), ("reach", "/reach"),
                       ("reach-filtered", "/reach?country=MD&from=2026-01-01"),
                       ("content", "/content"), ("needs", "/needs"), ("releases", "/releases"),
                       ("publish", "/releases/pilot/101/publish"),
                       ("withdraw", "/releases/pilot/withdraw")):  # fmt: skip
        page.goto(hq_server + path)
        found[name] = axe_violations(page)
    assert found == {name: [] for name in found}
    context.close()


def test_a_publisher_looks_at_a_candidate_then_publishes_it(browser, hq_server):  # noqa: F811
    context = browser.new_context(viewport=DESK)
    page = context.new_page()
    sign_in(page, hq_server, "ada")
    page.click("text=Releases")
    screenshot(page, "hq-releases")
    row = page.locator("#h-pilot ~ div tr", has_text="candidate")
    row.locator("text=Phone view").click()
    page.click("a[href$='/en/']")
    expect(page.locator("body")).to_contain_text(NEW_TITLE)
    screenshot(page, "hq-preview-phone")
    page.goto(hq_server + "/releases")
    page.locator("#h-pilot ~ div tr", has_text="candidate").locator("text=Publish…").click()
    expect(page.locator("h1")).to_have_text("Publish release 101 on channel pilot?")
    page.click("text=Publish it")
    expect(page.locator("p[role=status]")).to_contain_text("Published: pilot 101")
    context.close()
