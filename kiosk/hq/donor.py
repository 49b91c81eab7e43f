"""The donor report: one printable PDF of reach for a chosen period and country.

Its first page is the summary a donor reads: kiosks active, visits, guide views, the guides
read most, reach by journey step and resilience dimension, and languages. The pages after it
hold every table of the reach page. Every figure is the reach page's own (kiosk.hq.totals),
so small counts are left out exactly as on screen. Chromium prints it (as it prints leaflets).
"""

from __future__ import annotations

from kiosk.errors import KioskError


def pdf_of(html: str) -> bytes:
    """The page printed on A4 by Debian's Chromium."""
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        raise KioskError(
            "The PDF report is printed with Playwright, which is missing here: "
            "pip install 'first-mile-kiosk[hq]'"
        ) from None
    from kiosk.content.leaflet import launch_chromium

    with sync_playwright() as playwright:
        browser = launch_chromium(playwright)
        try:
            page = browser.new_page()
            page.set_content(html, wait_until="load")
            return page.pdf(format="A4", print_background=True,
                            margin={"top": "14mm", "bottom": "14mm", "left": "14mm",
                                    "right": "14mm"})  # fmt: skip
        finally:
            browser.close()
