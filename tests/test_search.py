"""Search keeps words whole in every script we serve, and finds what visitors type.

The tables run on the sample guides, indexed by the same code a release build uses.
"""

from __future__ import annotations

import sqlite3
import tomllib
import unicodedata
from pathlib import Path

import pytest
import sqlite_utils

from kiosk import words
from kiosk.content.build import index_passages, render_guide
from kiosk.content.source import load_content
from kiosk.formats.search import build_index, search

ROOT = Path(__file__).resolve().parent.parent
QUERIES = ROOT / "benchmarks" / "search_queries"

# query → a passage that must be among the first five hits
FINDS = {
    "ne": [
        ("राहदानी", "documents#passport-yours"),  # stem: the text says राहदानीको, राहदानी
        ("राहदानीको", "documents#embassy"),  # the suffixed form finds the word
        ("एजेंट", "recruiters#licensed"),  # anusvara typed, एजेन्ट written
        ("संकेत", "recruiters#warning-signs"),  # सङ्केत in the text
        ("पानी", "on-the-way#carry"),
        ("पिन", "money#bank-account"),
        ("काम", "health#at-work"),
    ],
    "ar": [
        ("جواز", "documents#passport-yours"),
        ("جَوَازِ", "documents#passport-yours"),  # vowel marks typed
        ("والجواز", "documents#passport-yours"),  # "and the" joined to the word
        ("اجر", "coming-home#last-pay"),  # no hamza: أجرك in the text
        ("العوده", "coming-home#travel"),  # ه typed for ة
    ],
    "es": [
        ("pasaportes", "documents#passport-yours"),
        ("PASAPORTE", "documents#which-papers"),
        ("recibos", "contracts#fees"),
    ],
    "ro": [
        ("pasaport", "documents#passport-yours"),  # no comma below: pașaport
        ("actele", "documents#official-offices"),
    ],
    "en": [
        ("passports", "documents#passport-yours"),
        ("contracts", "contracts#written-contract"),
        ("sending", "money#intro"),  # a word of the title and summary only
    ],
}
# query → nothing at all; traps share most of their letters with words in the text
FINDS_NOTHING = {
    "ne": ["खानी", "मेला", "सिम", "दल", "नक्सा"],
    "ar": ["طقس"],
    "es": ["pasatiempos"],
    "ro": ["pasiune", "contabil"],
    "en": ["passion", "contraption"],
}


@pytest.fixture(scope="module")
def index(tmp_path_factory) -> Path:
    content = load_content(ROOT / "content")
    rows = []
    for guide in content.guides:
        for lang in guide.texts:
            rows += index_passages(guide.id, lang, *render_guide(guide, lang))
    path = tmp_path_factory.mktemp("search") / "search.db"
    build_index(path, rows)
    return path


def found(index: Path, query: str, lang: str, limit: int = 20) -> list[str]:
    return [f"{h['guide']}#{h['section']}" for h in search(index, query, lang, limit)]


@pytest.mark.parametrize(
    ("lang", "query", "wanted"), [(lang, q, w) for lang, cases in FINDS.items() for q, w in cases]
)
def test_a_query_finds_the_passage_that_answers_it(index, lang, query, wanted):
    assert wanted in found(index, query, lang)[:5]


@pytest.mark.parametrize(
    ("lang", "query"), [(lang, q) for lang, qs in FINDS_NOTHING.items() for q in qs]
)
def test_a_word_the_guides_do_not_use_finds_nothing(index, lang, query):
    assert found(index, query, lang) == []


def test_water_does_not_find_pin_or_page(index):
    """पानी once found पिन (PIN) and पाना (page): unicode61 kept only their first letters."""
    hits = search(index, "पानी", "ne")
    assert hits
    for hit in hits:
        marked = [part.split("\x03")[0] for part in hit["snippet"].split("\x02")[1:]]
        assert marked and all(m.startswith("पानी") for m in marked), hit["snippet"]
    assert "money#bank-account" not in found(index, "पानी", "ne")  # where पिन is


def test_a_long_typed_start_marks_every_word_it_begins(index):
    """A word of four letters or more finds, and marks, the longer words it begins: a phone
    keyboard's half-typed "passp" marks passport and passports."""
    marked = [
        [part.split("\x03")[0] for part in hit["snippet"].split("\x02")[1:]]
        for hit in search(index, "passp", "en")
    ]
    assert sum(1 for found in marked if found) >= 3  # a title's passage may show no match
    assert all(m.lower().startswith("passp") for found in marked for m in found), marked


def test_a_short_word_matches_whole_words_only(index):
    """काम must not match the start of two words, nor दो every word beginning with द."""
    for hit in search(index, "काम", "ne"):
        marked = [part.split("\x03")[0] for part in hit["snippet"].split("\x02")[1:]]
        assert all(words.key(m, "ne")[0].startswith("काम") for m in marked), hit["snippet"]
    tiny = Path(str(index) + "-hi")
    build_index(
        tiny,
        [
            {"guide": "g", "lang": "hi", "section": "a", "heading": "कॉपी", "body": "दो कॉपी रखें।"},
            {"guide": "g", "lang": "hi", "section": "b", "heading": "दिन", "body": "दस दिन रुकें।"},
            {"guide": "g", "lang": "hi", "section": "c", "heading": "दुकान", "body": "दुकान से लें।"},
        ],
    )
    assert found(tiny, "दो", "hi") == ["g#a"]


@pytest.mark.parametrize("lang", sorted(FINDS))
def test_highlights_cover_whole_words(index, lang):
    """Every labelled query: a mark never starts or ends inside a word (<mark>दिन</mark>्छ)."""
    queries = tomllib.loads((QUERIES / f"{lang}.toml").read_text(encoding="utf-8"))["query"]
    marks = 0
    for query in queries:
        for hit in search(index, query["q"], lang):
            text = hit["snippet"]
            for n, ch in enumerate(text):
                if ch == "\x02" and n > 0:
                    assert not _in_word(text[n - 1]), text
                if ch == "\x03" and n + 1 < len(text):
                    assert not _in_word(text[n + 1]), text
                marks += ch == "\x02"
    assert marks > len(queries)


def _in_word(ch: str) -> bool:
    return unicodedata.category(ch)[0] in "LMN" or ch in "\u200c\u200d"


def test_urdu_typed_with_arabic_letters_finds_urdu():
    """ي for ی, ك for ک and ه for ہ or ھ: what a phone without an Urdu keyboard types."""
    path = Path(__file__).parent / "fixtures" / "partial" / "guides" / "wages" / "ur.md"
    text = path.read_text(encoding="utf-8")
    assert "تنخواہ" in text and "کاپی" in text
    for urdu, typed in (("تنخواہ", "تنخواه"), ("کاپی", "كاپي"), ("مالک", "مالك"), ("یہ", "يه")):
        assert words.key(urdu, "ur") == words.key(typed, "ur")
    assert words.key("گھر", "ur") == words.key("گهر", "ur")


@pytest.mark.parametrize(
    ("a", "b", "lang"),
    [
        ("एजेन्ट", "एजेंट", "ne"),  # nasal consonant with virama, or anusvara
        ("हरू", "हरु", "ne"),  # long or short u
        ("पाँच", "पांच", "ne"),  # chandrabindu or anusvara
        ("क़ानून", "कानून", "hi"),  # nukta
        ("crédito", "credito", "es"),
        ("pașaport", "pasaport", "ro"),
        ("ţară", "țară", "ro"),  # cedilla or comma below
        ("إجازة", "اجازه", "ar"),
        ("مستشفى", "مستشفي", "ar"),
        ("٢٠٢٦", "2026", "ar"),
        ("२०२६", "2026", "ne"),
    ],
)
def test_spellings_people_use_interchangeably_are_one_word(a, b, lang):
    assert words.key(a, lang) == words.key(b, lang)


@pytest.mark.parametrize(
    ("a", "b", "lang"),
    [("पानी", "पिन", "ne"), ("पानी", "पाना", "ne"), ("काम", "कम", "ne"), ("दो", "दस", "hi")],
)
def test_different_words_stay_different(a, b, lang):
    assert not set(words.key(a, lang)) & set(words.key(b, lang))


def test_words_are_cut_whole_in_every_script():
    text = "एजेंटले राहदानी लियो। الجواز، والعمل؛ pașaport—Crédito پاسپورٹ کی کاپی۔"
    assert [text[a:b] for a, b in words.spans(text)] == [
        "एजेंटले", "राहदानी", "लियो", "الجواز", "والعمل", "pașaport", "Crédito",
        "پاسپورٹ", "کی", "کاپی",
    ]  # fmt: skip


def test_hostile_queries_are_harmless(index):
    for query in ['"', "*", "NEAR(", "a OR b AND", "passport' --", "\0", "x" * 10_000, "(((", "^"]:
        assert isinstance(search(index, query, "en"), list)
    assert search(index, "passport", "ne") == []  # only the visitor's language


def test_an_index_from_an_older_release_is_still_searched(tmp_path):
    """A kiosk updated before its guides keeps searching the release it has."""
    db = sqlite_utils.Database(tmp_path / "search.db")
    db["passages"].insert_all(
        [{"id": 1, "guide": "documents", "lang": "en", "section": "copies",
          "heading": "Make copies", "body": "Copy your passport and keep the copy safe."}],
        pk="id",
    )  # fmt: skip
    db["passages"].enable_fts(["heading", "body"], tokenize="unicode61 remove_diacritics 2")
    db.close()
    assert sqlite3.connect(tmp_path / "search.db").execute("PRAGMA user_version").fetchone() == (0,)
    hits = search(tmp_path / "search.db", "passport", "en")
    assert [h["section"] for h in hits] == ["copies"] and "\x02passport\x03" in hits[0]["snippet"]


def _snippets(path: Path) -> dict[tuple[str, str], list[str]]:
    return {
        (lang, q): [h["snippet"] for h in search(path, q, lang)]
        for lang, cases in FINDS.items()
        for q, _ in cases
    }


def test_the_kiosk_stems_no_passage_word_the_build_keyed(index, tmp_path):
    """Stemming a language's passages on the device cost ~80 ms of CPU at its first search
    (half a second of a Pi's time, every phone waiting). The build writes every word's keys;
    the device only looks them up, and keys nothing but the words a visitor typed. An index
    built before the table still gives the very same snippets, keying words itself."""
    words.key.cache_clear()
    with_table = _snippets(index)
    typed = {(q, lang) for lang, cases in FINDS.items() for q, _ in cases}
    assert words.key.cache_info().currsize <= 2 * len(typed)  # each query, and its parts
    assert sum(len(s) for s in with_table.values()) > 40

    older = tmp_path / "older.db"
    older.write_bytes(index.read_bytes())
    with sqlite3.connect(older) as db:
        db.execute("DROP TABLE word_keys")
    words.key.cache_clear()
    assert _snippets(older) == with_table
    assert words.key.cache_info().currsize > 1000  # the device keyed every passage's words


def test_the_build_lists_the_words_a_need_may_name(fixture_release, tmp_path):
    """A failed search keeps a capitalised word only if the release uses it. Working out the
    release's words took 240 ms at a kiosk's first search; the build lists them instead, and
    a release built before that still gets the same words, worked out on the device."""
    import json
    import shutil

    from kiosk.device.library import Release
    from kiosk.formats.search import catalog_words, known_words

    catalog = json.loads((fixture_release / "catalog.json").read_text(encoding="utf-8"))
    listed = known_words(fixture_release / "search.db")
    assert listed == catalog_words(catalog)
    assert {"passport", "nepal"} <= listed and len(listed) > 300

    older = tmp_path / "release"
    shutil.copytree(fixture_release, older)
    with sqlite3.connect(older / "search.db") as db:
        db.execute("DROP TABLE known_words")
    assert known_words(older / "search.db") is None
    assert Release(older, 100).known_words == listed == Release(fixture_release, 100).known_words


def test_a_thread_keeps_the_live_index_open_and_lets_an_old_one_go(index, tmp_path):
    """Opening the index for each search was most of what its query cost, so each server
    thread keeps its connection; a search in a new release's index closes the old one, whose
    folder is deleted when a release is replaced: nothing may hold it on the disk."""
    import os

    def held() -> list[str]:
        fds = Path("/proc/self/fd")
        return [os.readlink(fds / fd) for fd in os.listdir(fds) if (fds / fd).is_symlink()]

    newer = tmp_path / "newer.db"
    newer.write_bytes(index.read_bytes())
    assert search(index, "passport", "en")
    assert held().count(str(index)) == 1
    for _ in range(3):
        assert search(newer, "passport", "en") == search(newer, "passport", "en")
    assert held().count(str(newer)) == 1
    assert str(index) not in held()


def test_the_load_bench_types_words_the_guides_hold(fixture_release):
    """benchmarks/load_bench.py searches any word of the guides. It once kept only what re's
    \\w matches, which drops every Devanagari vowel sign (पासपोर्ट became पसपरट): its Nepali
    searches matched nothing, cost nothing, and made the figures look better than a Nepali
    village would find them. Every word it types must be a word of that language's guides."""
    import json

    from benchmarks.load_bench import guide_words
    from kiosk.formats.search import guide_texts

    catalog = json.loads((fixture_release / "catalog.json").read_text())
    for lang in ("en", "ne", "ar"):
        written = {
            text[a:b].lower() for text in guide_texts(catalog, lang) for a, b in words.spans(text)
        }
        typed = guide_words(catalog, lang)
        assert len(typed) > 10, lang
        assert not set(typed) - written, (lang, sorted(set(typed) - written)[:5])
