"""Screenshots of what visitors see, at phone size and on the 800x480 touchscreen.

Run: .venv/bin/python benchmarks/screenshots.py BASE_URL OUT_DIR [partial|studio]
(BASE_URL is a running `kiosk serve`, for example http://127.0.0.1:8080). With `partial`,
BASE_URL serves the fixture with Urdu added part-way (tests/fixtures/partial/README.md), and
only the pages of a language that has some guides are taken. With `studio`, BASE_URL is a
running `kiosk studio content/`. With `hq`, BASE_URL is a running `kiosk hq serve --content
content` on the example fleet (python -m tests.hq_fleet ROOT), signed in as its demo account.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

from playwright.sync_api import sync_playwright

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run",
        "--autoplay-policy=no-user-gesture-required"]  # fmt: skip

SHOTS = [
    ("phone", {"width": 360, "height": 740}, "phone-languages", "/"),
    ("phone", {"width": 360, "height": 740}, "phone-home-ne", "/ne/"),
    ("phone", {"width": 360, "height": 740}, "phone-guide-ar", "/ar/guide/documents"),
    ("phone", {"width": 360, "height": 740}, "phone-help-es", "/es/help?country=MX"),
    ("phone", {"width": 360, "height": 740}, "phone-portal", "/portal"),
    ("screen", {"width": 800, "height": 480}, "screen-languages", "/screen/"),
    ("screen", {"width": 800, "height": 480}, "screen-home-ro", "/screen/ro/"),
    ("screen", {"width": 800, "height": 480}, "screen-guide-ne", "/screen/ne/guide/recruiters"),
    ("screen", {"width": 800, "height": 480}, "screen-attract", "/screen/attract"),
    (
        "screen",
        {"width": 800, "height": 480},
        "screen-help-ne",
        "/screen/ne/help?country=NP#contacts",
    ),
    ("phone", {"width": 360, "height": 740}, "phone-help-ne", "/ne/help"),
]
# A language translated part-way: tests/fixtures/partial on top of tests/fixtures/content.
PARTIAL_SHOTS = [
    ("phone", {"width": 360, "height": 740}, "phone-home-ur-partial", "/ur/"),
    ("phone", {"width": 360, "height": 740}, "phone-not-translated-ur", "/ur/guide/help-abroad"),
    ("phone", {"width": 360, "height": 740}, "phone-guide-ur-fallback", "/ur/guide/passport"),
    ("screen", {"width": 800, "height": 480}, "screen-home-ne-also-in", "/screen/ne/#elsewhere-h"),
]
STUDIO_SHOTS = [
    ("studio", {"width": 1024, "height": 700}, "studio-progress", "/"),
    ("studio", {"width": 1024, "height": 700}, "studio-sentence-ne", "/ne/documents?i=4"),
]
HQ_SHOTS = [
    ("desk", {"width": 1280, "height": 800}, "hq-fleet", "/fleet"),
    ("desk", {"width": 1280, "height": 800}, "hq-kiosk", "/kiosk/pokhara-2"),
    ("phone", {"width": 360, "height": 740}, "hq-fleet-phone", "/fleet?country=NP"),
    ("desk", {"width": 1280, "height": 800}, "hq-reach", "/reach"),
    ("desk", {"width": 1280, "height": 800}, "hq-content", "/content"),
    ("desk", {"width": 1280, "height": 800}, "hq-needs", "/needs"),
]
# Shots of a moment: the page, what is done on it, and the file.
MOMENTS = [
    ({"width": 360, "height": 740}, "/ne/guide/recruiters", "phone-listening-ne",
     "button.listen.big", "scrollTo(0, 2400)"),
    ({"width": 800, "height": 480}, "/screen/es/guide/documents", "screen-thanks-es",
     ".answer-no", ""),
]  # fmt: skip


def main(base: str, out: Path, only: str = "") -> None:
    out.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        if only == "hq":
            hq_shots(browser, base, out)
            browser.close()
            return
        shots = {"partial": PARTIAL_SHOTS, "studio": STUDIO_SHOTS}.get(only, SHOTS)
        for _channel, viewport, name, path in shots:
            page = browser.new_page(viewport=viewport, device_scale_factor=1)
            page.goto(base.rstrip("/") + path)
            page.screenshot(path=str(out / f"{name}.png"))
            page.close()
        if only:
            browser.close()
            return
        for viewport, path, name, tap, then in MOMENTS:
            page = browser.new_page(viewport=viewport, device_scale_factor=1)
            page.goto(base.rstrip("/") + path)
            page.click(tap)
            page.wait_for_timeout(2500)  # the voice reading on, or the answer's page shown
            if then:
                page.evaluate(then)
                page.wait_for_timeout(500)
            page.screenshot(path=str(out / f"{name}.png"))
            page.close()
        sheets = browser.new_page()
        for lang, paper in (("en", "a4"), ("ne", "a5"), ("ar", "a4")):
            leaflet_picture(sheets.request, base, lang, paper, out)
        sheets.close()
        password = os.environ.get("ADMIN_PASSWORD")
        if password:  # the librarian's page, on the kiosk's own screen
            page = browser.new_page(viewport={"width": 800, "height": 480})
            page.goto(base.rstrip("/") + "/admin/")
            page.screenshot(path=str(out / "screen-admin-sign-in.png"))
            page.fill("#password", password)
            with page.expect_navigation():
                page.click("form.admin-form button")
            page.set_viewport_size({"width": 800, "height": 1600})
            page.screenshot(path=str(out / "screen-admin-dashboard.png"))
            page.set_viewport_size({"width": 800, "height": 480})
            page.goto(base.rstrip("/") + "/admin/leaflets")
            page.screenshot(path=str(out / "screen-admin-leaflets.png"))
            page.close()
        browser.close()


def hq_shots(browser, base: str, out: Path) -> None:
    """Headquarters' pages, signed in as the example root's demo account."""
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    page = context.new_page()
    page.goto(base.rstrip("/") + "/")
    page.screenshot(path=str(out / "hq-sign-in.png"))
    page.fill("#user", "demo")
    page.fill("#password", "demo password, not for real use")
    with page.expect_navigation():
        page.click("form.form button")
    for _kind, viewport, name, path in HQ_SHOTS:
        page.set_viewport_size(viewport)
        page.goto(base.rstrip("/") + path)
        page.screenshot(path=str(out / f"{name}.png"), full_page=name in ("hq-kiosk", "hq-reach"))
    context.close()


def leaflet_picture(request, base: str, lang: str, paper: str, out: Path) -> None:
    """The first page of a guide's printed leaflet, as the phone page links it."""
    page = request.get(f"{base.rstrip('/')}/{lang}/guide/documents").text()
    a4 = re.search(r'href="(/media/[^"]+-a4\.pdf)"', page)[1]
    pdf = request.get(base.rstrip("/") + a4.replace("-a4.pdf", f"-{paper}.pdf")).body()
    with tempfile.TemporaryDirectory() as tmp:
        (Path(tmp) / "leaflet.pdf").write_bytes(pdf)
        subprocess.run(["pdftoppm", "-r", "60", "-png", "-singlefile", "-f", "1", "-l", "1",
                        f"{tmp}/leaflet.pdf", str(out / f"leaflet-{lang}-{paper}")],
                       check=True)  # fmt: skip


if __name__ == "__main__":
    main(sys.argv[1], Path(sys.argv[2]), only=sys.argv[3] if len(sys.argv) > 3 else "")
