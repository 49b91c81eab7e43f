"""Leaflets on paper: read back out of the PDFs with poppler (pdftotext, pdffonts, pdftoppm)
and zbar, as a printer and a phone's camera would see them."""

from __future__ import annotations

import json
import re
import subprocess
import unicodedata
from pathlib import Path

import pytest

from kiosk.formats.manifest import verify_release

BIDI_MARKS = re.compile("[\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def pdf_text(path: Path) -> str:
    out = subprocess.run(["pdftotext", "-enc", "UTF-8", str(path), "-"], capture_output=True,
                         text=True, check=True).stdout  # fmt: skip
    return BIDI_MARKS.sub("", unicodedata.normalize("NFC", out))


ARABIC_VOWELS = re.compile("[\u064b-\u065f\u0670]")


def words(text: str) -> list[str]:
    """Words without punctuation or Arabic short vowels (pdftotext may place those apart)."""
    text = ARABIC_VOWELS.sub("", text)
    return "".join(" " if unicodedata.category(ch).startswith("P") else ch for ch in text).split()


def in_order(needles: list[str], haystack: str) -> bool:
    at = 0
    for needle in needles:
        at = haystack.find(needle, at)
        if at < 0:
            return False
        at += len(needle)
    return True


def catalog(release: Path) -> dict:
    return json.loads((release / "catalog.json").read_text(encoding="utf-8"))


def test_every_guide_in_every_language_has_both_papers_and_they_are_signed(
    fixture_release, keypair
):
    manifest = verify_release(fixture_release, [keypair[1]])
    listed = {f["path"] for f in manifest.files}
    data = catalog(fixture_release)
    for guide in data["guides"]:
        for lang in data["languages"]:
            leaflets = guide["text"][lang["tag"]]["leaflets"]
            assert set(leaflets) == {"a4", "a5"}
            for paper, rel in leaflets.items():
                assert rel in listed, rel
                head = (fixture_release / rel).read_bytes()[:5]
                assert head == b"%PDF-", rel
                info = ["pdfinfo", str(fixture_release / rel)]
                size = subprocess.run(info, capture_output=True, text=True, check=True).stdout
                assert f"pts ({paper.upper()})" in size, (rel, size)


@pytest.mark.parametrize("lang", ["en", "ne", "ar", "ro"])
def test_a_leaflet_says_the_guide_in_order_with_its_help_lines(fixture_release, lang):
    guide = next(g for g in catalog(fixture_release)["guides"] if g["id"] == "passport")
    text = guide["text"][lang]
    # Compared letter by letter: pdftotext may set an Arabic short vowel, and so a space,
    # apart from its letter ("إذا ُأ خذ" for "إذا أُخذ") though the page shows it in place.
    printed = "".join(words(pdf_text(fixture_release / text["leaflets"]["a4"])))
    expected = [text["title"]] + [s["heading"] for s in text["sections"]]
    expected = ["".join(words(e)) for e in expected]
    assert in_order(expected, printed), (expected, printed[:600])


def test_devanagari_conjuncts_come_out_of_the_pdf_as_they_went_in(fixture_release):
    guide = next(g for g in catalog(fixture_release)["guides"] if g["id"] == "passport")
    text = guide["text"]["ne"]
    printed = pdf_text(fixture_release / text["leaflets"]["a5"])
    body = re.sub(r"<[^>]+>", " ", " ".join(s["html"] for s in text["sections"]))
    conjuncts = [w for w in words(body) if "\u094d" in w]  # words with a virama: conjuncts
    assert len(conjuncts) >= 3
    for word in conjuncts:
        assert word in printed, word
    assert "नेपाल प्रहरी" in printed  # the help line someone answers in Nepali


def test_arabic_comes_out_joined_and_in_reading_order(fixture_release):
    guide = next(g for g in catalog(fixture_release)["guides"] if g["id"] == "passport")
    text = guide["text"]["ar"]
    printed = " ".join(words(pdf_text(fixture_release / text["leaflets"]["a4"])))
    title = words(text["title"])
    assert " ".join(title) in printed  # its words in reading order, not reversed
    assert " ".join(reversed(title)) not in printed or len(title) == 1


@pytest.mark.parametrize(
    ("lang", "font"), [("ne", "NotoSansDevanagari"), ("ar", "NotoNaskhArabic")]
)
def test_each_script_is_drawn_with_a_font_that_has_it(fixture_release, lang, font):
    """No tofu: the script's own font is embedded (a missing glyph would be a box)."""
    guide = catalog(fixture_release)["guides"][0]
    pdf = fixture_release / guide["text"][lang]["leaflets"]["a4"]
    fonts = subprocess.run(
        ["pdffonts", str(pdf)], capture_output=True, text=True, check=True
    ).stdout
    assert font in fonts, fonts
    assert all(" yes yes " in line for line in fonts.splitlines()[2:]), fonts  # embedded


def test_the_leaflets_code_opens_the_guide_on_the_kiosks_wifi(fixture_release, tmp_path):
    guide = next(g for g in catalog(fixture_release)["guides"] if g["id"] == "passport")
    pdf = fixture_release / guide["text"]["ne"]["leaflets"]["a5"]
    subprocess.run(["pdftoppm", "-r", "150", "-png", "-f", "1", "-l", "1", str(pdf),
                    str(tmp_path / "page")], check=True)  # fmt: skip
    page = next(tmp_path.glob("page*.png"))
    read = subprocess.run(["zbarimg", "--raw", "-q", str(page)], capture_output=True, text=True,
                          check=True).stdout.split()  # fmt: skip
    assert read == ["http://10.42.0.1/ne/guide/passport"]


def test_phones_get_a_link_to_print_or_keep_the_guide(client, fixture_release):
    body = client.get("/ne/guide/passport", environ_base={"REMOTE_ADDR": "10.42.0.9"}).get_data(
        as_text=True
    )
    link = re.search(r'<a class="btn" href="(/media/[^"]+\.pdf)"[^>]*>([^<]+)</a>', body)
    assert link and link[2] == "प्रिन्ट गर्नुहोस् वा PDF मा राख्नुहोस्"
    pdf = client.get(link[1], environ_base={"REMOTE_ADDR": "10.42.0.9"})
    assert pdf.status_code == 200 and pdf.mimetype == "application/pdf"
    assert pdf.get_data()[:5] == b"%PDF-"
    pdf.close()


def test_a_rebuild_reprints_only_the_leaflets_whose_content_changed(tmp_path, keypair, speaker):
    from kiosk.content.build import build_release
    from tests.conftest import copy_content

    content = copy_content(tmp_path / "content")
    said: list[str] = []
    first = build_release(content, tmp_path / "a", keypair[0], speaker, version=300,
                          progress=said.append).out  # fmt: skip
    en = content / "guides" / "passport" / "en.md"
    en.write_text(en.read_text().replace("Make two copies", "Make three copies"))
    said.clear()
    second = build_release(content, tmp_path / "b", keypair[0], speaker, version=301,
                           progress=said.append).out  # fmt: skip
    assert "leaflets: 16 PDFs (2 printed, 14 from the cache)" in " ".join(said), said
    changed = {"leaflets/passport/en-a4.pdf", "leaflets/passport/en-a5.pdf"}
    for pdf in (first / "leaflets").rglob("*.pdf"):
        rel = str(pdf.relative_to(first))
        assert (pdf.read_bytes() == (second / rel).read_bytes()) == (rel not in changed), rel
    old, new = (re.search(r"· ([0-9a-f]{8}) ·", pdf_text(r / "leaflets/passport/en-a4.pdf"))
                for r in (first, second))  # fmt: skip
    assert old and new and old.group(1) != new.group(1)  # the edition on paper tells them apart
