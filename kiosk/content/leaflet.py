"""Printable leaflets: every guide in every language, as A4 and A5 PDFs, built into the release
(so they are signed like every other file) for librarians to hand to visitors with no phone.

Printed by Debian's Chromium (driven by Playwright): its PDFs carry the text as it was
written, so copying, searching and screen readers get the right words. WeasyPrint drew the
same pages well but wrote Devanagari back out wrong: pdftotext read "यो मा र्गद र्गन" for
"यो मार्गदर्शन" and "प्र त लि पि" for "प्रतिलिपि". Each leaflet has the guide's sections, the
help lines that speak its language, and a QR code to the same guide, with its audio, on the
kiosk's Wi-Fi. About 35 ms a leaflet once the browser runs.

Leaflets are kept in the build's cache (next to the speech), named by a hash of the page they
are printed from: a rebuild whose guide, words, help lines and QR code are unchanged takes the
same PDF without starting the browser. The footer's "edition" is the start of that hash, so a
leaflet on paper can be matched to the one on the kiosk, and it changes only when the
leaflet's content does.
"""

from __future__ import annotations

import base64
import hashlib
import re
from pathlib import Path

import segno
from jinja2 import Environment, PackageLoader, select_autoescape
from markupsafe import Markup

from kiosk.device.library import contact_in, contact_order
from kiosk.errors import KioskError
from kiosk.files import write_atomic

PAPERS = ("a4", "a5")


CHROMIUM = "/usr/bin/chromium"


def launch_chromium(playwright):
    """Debian's Chromium, for printing pages to PDF (leaflets, headquarters' reports)."""
    if not Path(CHROMIUM).exists():
        raise KioskError("PDFs are printed by Chromium: apt-get install chromium")
    return playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])


def _qr_data_uri(data: str) -> str:
    return segno.make_qr(data, error="m").svg_data_uri(dark="#14213d", border=2, scale=4)


_DATE = re.compile(rb"/(CreationDate|ModDate) \(D:\d{14}")


def _undated(pdf: bytes) -> bytes:
    """The same leaflet from the same content is the same bytes (a build is reproducible):
    the print time becomes a fixed one of the same length, so no offset in the file moves."""
    return _DATE.sub(lambda m: b"/" + m[1] + b" (D:20000101000000", pdf)


def _printable(html: str) -> Markup:
    """A section's HTML without its links (a link on paper goes nowhere) or sentence marks."""
    html = re.sub(r"</?a\b[^>]*>", "", html)
    html = re.sub(r"</?span\b[^>]*>", "", html)
    return Markup(html)  # noqa: S704 - the release's own sanitised HTML, only tags removed


def help_lines(contacts: list[dict], lang: str, reference: str) -> list[dict]:
    """The contacts someone answers in ``lang``, in their order on the help page (samples
    last, and marked as samples on the paper too)."""
    lines = [contact_in(c, lang, reference) for c in contacts if lang in c["languages"]]
    return sorted(lines, key=contact_order)


CACHE_FORMAT = "leaflet 1"  # change it when the printing changes in a way the page does not show
EDITION = "@@edition@@"


class Leaflets:
    """Draws guides' leaflets into a release folder being built; use it as a context manager
    (one browser for all of them, started only when a leaflet is not in the cache)."""

    def __init__(
        self, root: Path, *, portal_url: str, wifi_name: str, cache: Path | None = None
    ) -> None:
        self.root = root
        self.portal_url = portal_url.rstrip("/")
        self.wifi_name = wifi_name
        self.cache = cache
        self.printed = 0  # leaflets printed by the browser (the rest came from the cache)
        self._page = None
        env = Environment(
            loader=PackageLoader("kiosk.content", "."), autoescape=select_autoescape(["html"])
        )
        self.template = env.get_template("leaflet.html")

    def __enter__(self) -> Leaflets:
        return self

    def _browser_page(self):
        if self._page is not None:
            return self._page
        try:
            from playwright.sync_api import sync_playwright
        except ImportError:  # headquarters' machines have it; kiosks never build releases
            raise KioskError(
                "Leaflets are printed with Playwright, which is missing here: "
                "pip install 'first-mile-kiosk[hq]'"
            ) from None
        self._playwright = sync_playwright().start()
        try:
            self._browser = launch_chromium(self._playwright)
        except BaseException:
            self._playwright.stop()
            raise
        self._page = self._browser.new_page()
        return self._page

    def __exit__(self, *exc) -> None:
        if self._page is not None:
            self._browser.close()
            self._playwright.stop()

    def _pdf(self, html: str) -> bytes:
        """The leaflet printed from ``html`` (with its edition filled in), from the cache if
        it was printed before."""
        key = hashlib.sha256(f"{CACHE_FORMAT}\n{html}".encode()).hexdigest()
        cached = self.cache / f"{key}.pdf" if self.cache else None
        if cached is not None and cached.is_file():
            return cached.read_bytes()
        page = self._browser_page()
        page.set_content(html.replace(EDITION, key[:8]))  # every picture is inline
        pdf = _undated(page.pdf(prefer_css_page_size=True, print_background=True))
        self.printed += 1
        if cached is not None:
            cached.parent.mkdir(parents=True, exist_ok=True)
            write_atomic(cached, pdf)
        return pdf

    def draw(self, guide: dict, lang: dict, words: dict, contacts: list[dict]) -> dict[str, str]:
        """Write leaflets/<guide>/<lang>-a4.pdf and -a5.pdf; return {paper: release path}."""
        text = guide["text"][lang["tag"]]
        url = f"{self.portal_url}/{lang['tag']}/guide/{guide['id']}"
        icon = base64.b64encode((self.root / guide["icon"]).read_bytes()).decode()
        written = {}
        for paper in PAPERS:
            html = self.template.render(
                paper=paper,
                lang=lang,
                text=text,
                sections=[{**s, "body": _printable(s["html"])} for s in text["sections"]],
                words=words,
                contacts=contacts,
                icon=f"data:image/svg+xml;base64,{icon}",
                qr=_qr_data_uri(url),
                url=url,
                wifi_name=self.wifi_name,
                edition=EDITION,
            )
            rel = f"leaflets/{guide['id']}/{lang['tag']}-{paper}.pdf"
            target = self.root / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(self._pdf(html))
            written[paper] = rel
        return written
