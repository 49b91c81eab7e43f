import itertools

from kiosk.text import fold_for_search, sentence_spans, split_sentences, strip_arabic_marks


def test_sentences_end_at_each_scripts_terminator():
    text = "Keep copies. Is it safe? Yes! राहदानी राख्नुहोस्। फोटो खिच्नुहोस्। هل أنت بخير؟ نعم."
    assert split_sentences(text) == [
        "Keep copies.",
        "Is it safe?",
        "Yes!",
        "राहदानी राख्नुहोस्।",
        "फोटो खिच्नुहोस्।",
        "هل أنت بخير؟",
        "نعم.",
    ]


def test_abbreviations_and_initials_do_not_end_a_sentence():
    assert split_sentences("Bring papers, e.g. a passport. Ask Mr. Rai.") == [
        "Bring papers, e.g. a passport.",
        "Ask Mr. Rai.",
    ]


def test_spans_cover_every_character_once():
    text = "One.  Two? Three"
    spans = sentence_spans(text)
    assert spans[0][0] == 0 and spans[-1][1] == len(text)
    assert all(a[1] == b[0] for a, b in itertools.pairwise(spans))


def test_text_without_letters_has_no_sentence():
    assert split_sentences(" ... ") == []


def test_folding_ignores_case_latin_accents_and_arabic_marks_but_keeps_devanagari():
    assert fold_for_search("PAȘAPORT Încă") == "pasaport inca"
    assert fold_for_search("جَوَازُ") == "جواز"
    assert fold_for_search("पासपोर्ट") == "पासपोर्ट"
    assert strip_arabic_marks("السَّفَر") == "السفر"


def test_the_writers_guide_names_every_sentence_end_the_kiosk_knows():
    """content/README.md tells translators where a sentence ends: it must list them all."""
    from pathlib import Path

    from kiosk.text import _TERMINATORS

    readme = (Path(__file__).parent.parent / "content" / "README.md").read_text(encoding="utf-8")
    paragraph = readme.split("Write short sentences that end with")[1].split("\n\n")[0]
    assert [ch for ch in _TERMINATORS if f"`{ch}`" not in paragraph] == []
    assert "`۔` (the Urdu full stop)" in paragraph


def test_urdu_sentences_end_at_the_urdu_full_stop():
    from kiosk.text import split_sentences

    assert split_sentences("پاسپورٹ آپ کا ہے۔ کاپی رکھیں۔ کیا آپ کو مدد چاہیے؟ جی ہاں۔") == [
        "پاسپورٹ آپ کا ہے۔", "کاپی رکھیں۔", "کیا آپ کو مدد چاہیے؟", "جی ہاں۔",
    ]  # fmt: skip
