"""Words for search: where each word starts and ends, and the key it is looked up by.

The same rules run when the release is built (indexing the guides) and when a visitor
searches, so a query and the text meet on equal terms. A word is a run of letters, marks and
digits: Devanagari vowel signs, virama and anusvara belong to the word (SQLite's unicode61
tokenizer breaks the word at each of them), as do Arabic marks and the zero-width joiners
that Urdu and Nepali typing uses.

A word's first key is its stem, by Snowball's stemmer for the language where there is one
(राहदानीको and राहदानी, contracts and contract, الجواز and جواز share a key), then folded;
its second, when different, the word itself folded. Folding takes away:

- case, and Latin accents (credito finds crédito, pasaport finds pașaport);
- Arabic vowel marks and tatweel; the letters Urdu and Arabic keyboards type differently
  (ي ى ی ئ ے, ك ک, ه ة ہ ھ ۀ, أ إ آ ٱ; Urdu's ٹ ڈ ڑ ں as ت د ر ن);
- Devanagari nukta; chandrabindu, and a nasal consonant with virama before a consonant, as
  anusvara (एजेन्ट and एजेंट); long and short i and u, which people spell either way (हरू and
  हरु);
- digits of any script as 0-9.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from collections.abc import Callable

import snowballstemmer

# Snowball's stemmer for each language tag we may serve; others are only folded.
STEMMERS = {
    "en": "english",
    "es": "spanish",
    "ro": "romanian",
    "ar": "arabic",
    "ne": "nepali",
    "hi": "hindi",
    "mai": "hindi",  # Maithili's suffixes are close to Hindi's; no Maithili stemmer exists
    "fr": "french",
    "pt": "portuguese",
    "ru": "russian",
    "id": "indonesian",
    "ta": "tamil",
}

_JOINERS = "\u200c\u200d"
_ARABIC_MARKS = re.compile("[\u0610-\u061a\u064b-\u065f\u0670\u06d6-\u06ed\u0640]")
_LETTERS = str.maketrans(
    {
        # Arabic and Urdu letters that keyboards and writers interchange; Urdu's retroflex
        # letters and noon ghunna, which an Arabic or Persian keyboard does not have
        "ى": "ي", "ی": "ي", "ئ": "ي", "ے": "ي", "ۓ": "ي", "ې": "ي",
        "ک": "ك", "ڪ": "ك",
        "ة": "ه", "ہ": "ه", "ھ": "ه", "ۀ": "ه", "ە": "ه", "ۃ": "ه",
        "أ": "ا", "إ": "ا", "آ": "ا", "ٱ": "ا", "ؤ": "و",
        "ٹ": "ت", "ڈ": "د", "ڑ": "ر", "ں": "ن",
        # Devanagari: nasal marks and vowel length, written either way
        "ँ": "ं", "ी": "ि", "ू": "ु", "ई": "इ", "ऊ": "उ",
        "\u093c": None,  # nukta (क़ is क after NFD)
        "\u200c": None, "\u200d": None,
    }
)  # fmt: skip
# A nasal consonant with virama before a consonant is written as anusvara just as often:
# एजेन्ट and एजेंट, हिन्दी and हिंदी.
_NASAL = re.compile("[ङञणनम]\u094d(?=[क-ह])")
MIN_PREFIX_LETTERS = 4  # a key shorter than this matches whole keys only


def spans(text: str) -> list[tuple[int, int]]:
    """(start, end) of every word in the text, in order."""
    found: list[tuple[int, int]] = []
    start = None
    for n, ch in enumerate(text):
        inside = ch in _JOINERS or unicodedata.category(ch)[0] in "LMN"
        if inside and start is None:
            start = n
        elif not inside and start is not None:
            found.append((start, n))
            start = None
    if start is not None:
        found.append((start, len(text)))
    return found


def fold(word: str) -> str:
    """The folded form of a word (or stem): see the module's list."""
    text = _ARABIC_MARKS.sub("", unicodedata.normalize("NFD", word))
    out = []
    for ch in text:
        if unicodedata.combining(ch) and out and _is_latin(out[-1]):
            continue  # a Latin accent
        if ch.isdigit():
            ch = str(unicodedata.digit(ch, ch))
        out.append(ch)
    folded = unicodedata.normalize("NFC", "".join(out)).casefold().translate(_LETTERS)
    return _NASAL.sub("ं", folded)


@functools.lru_cache(maxsize=64)
def _stemmer(lang: str) -> Callable[[str], str] | None:
    name = STEMMERS.get(lang.split("-")[0])
    return snowballstemmer.stemmer(name).stemWord if name else None


_ARTICLE = re.compile("^(?:[وفبك]?ال|لل)(?=..)")


@functools.lru_cache(maxsize=65536)
def key(word: str, lang: str) -> tuple[str, ...]:
    """The keys a word is indexed and searched by in a language: its stem, folded, then the
    word itself folded when that differs (a stemmer is wrong now and then: وثائق loses its
    first letter as if it were "and"). Arabic keys lose the article and a final ه or ة.
    """
    stem = _stemmer(lang)
    lowered = _ARABIC_MARKS.sub("", _NASAL.sub("ं", unicodedata.normalize("NFC", word).lower()))
    found = []
    if lang.startswith("ar"):
        lowered = lowered.replace("ى", "ي")  # as the stemmer reads it either way
    if stem is not None:
        stemmed = stem(lowered)
        # Arabic's stemmer keeps a conjunction before the article (والجواز); take both off.
        if lang.startswith("ar") and stemmed[:1] in "وفبلك" and stemmed[1:3] == "ال":
            stemmed = stem(stemmed[1:]) if len(stemmed) > 4 else stemmed
        found.append(fold(stemmed or lowered))
    surface = fold(lowered)
    if lang.startswith("ar"):
        surface = _ARTICLE.sub("", surface)
        found = [k[:-1] if k.endswith("ه") and len(k) > 3 else k for k in found]
    if surface not in found:
        found.append(surface)
    return tuple(found)


def keys(text: str, lang: str) -> list[tuple[str, ...]]:
    """The keys of every word in the text, in order."""
    return [key(text[a:b], lang) for a, b in spans(text)]


def letters(k: str) -> int:
    """How many letters a key has, not counting vowel signs and other marks."""
    return sum(1 for ch in k if unicodedata.category(ch)[0] in "LN")


def _is_latin(ch: str) -> bool:
    return ch.isascii() or "LATIN" in unicodedata.name(ch, "")
