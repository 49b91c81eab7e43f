"""Text rules shared by the release build and the device: sentences and search folding."""

from __future__ import annotations

import re
import unicodedata

# A sentence ends at one of these, optionally followed by closing quotes or brackets, then space.
_TERMINATORS = ".!?…।॥؟۔"
_BOUNDARY = re.compile(rf"[{_TERMINATORS}]+[\"'”’»)\]]*(?=\s)")
# Words after which a full stop does not end a sentence.
_ABBREVIATIONS = {
    "e.g",
    "i.e",
    "etc",
    "mr",
    "mrs",
    "ms",
    "dr",
    "st",
    "no",
    "nr",
    "p.ej",
    "sr",
    "sra",
}

# Arabic short vowels and other marks that readers usually leave out, and the tatweel.
_ARABIC_MARKS = re.compile("[\u0610-\u061a\u064b-\u065f\u0670\u06d6-\u06ed\u0640]")


def sentence_spans(text: str) -> list[tuple[int, int]]:
    """Split text into sentences as (start, end) offsets that together cover all of it.

    Whitespace after a sentence belongs to that sentence, so every character (and so every
    piece of rendered text) falls in exactly one span. Text with no letters yields no span.
    """
    spans: list[tuple[int, int]] = []
    start = 0
    for match in _BOUNDARY.finditer(text):
        word = text[start : match.start()].rsplit(None, 1)
        last = word[-1].lower() if word else ""
        if match.group().startswith(".") and (last in _ABBREVIATIONS or len(last) == 1):
            continue
        end = match.end()
        while end < len(text) and text[end].isspace():
            end += 1
        spans.append((start, end))
        start = end
    if start < len(text):
        spans.append((start, len(text)))
    merged: list[tuple[int, int]] = []
    for span in spans:
        if not any(ch.isalnum() for ch in text[span[0] : span[1]]) and merged:
            merged[-1] = (merged[-1][0], span[1])
        else:
            merged.append(span)
    return [s for s in merged if any(ch.isalnum() for ch in text[s[0] : s[1]])]


def split_sentences(text: str) -> list[str]:
    """Return the sentences of a piece of plain text, stripped."""
    return [text[a:b].strip() for a, b in sentence_spans(text)]


def strip_arabic_marks(text: str) -> str:
    """Remove Arabic vowel marks and tatweel, which writers use inconsistently."""
    return _ARABIC_MARKS.sub("", unicodedata.normalize("NFC", text))


def fold_for_search(text: str) -> str:
    """Normalise text so search ignores case, Latin accents and Arabic vowel marks.

    Devanagari vowel signs are letters of the word, not accents, and are kept.
    """
    text = unicodedata.normalize("NFC", text)
    text = _ARABIC_MARKS.sub("", text)
    out = []
    for ch in unicodedata.normalize("NFD", text):
        if unicodedata.combining(ch) and out and _is_latin(out[-1]):
            continue
        out.append(ch)
    return unicodedata.normalize("NFC", "".join(out)).casefold()


def _is_latin(ch: str) -> bool:
    return ch.isascii() or "LATIN" in unicodedata.name(ch, "")


_CONTACT_LIKE = re.compile(r"[@/\\:]|www\.|\.(com|org|net|np|mx|md)\b", re.IGNORECASE)
MAX_TERM_WORDS = 3


def unmet_term(query: str, known_words: set[str]) -> str | None:
    """What a failed search was about, with anything that could name or reach a person removed.

    Digits, phone numbers, e-mail and web addresses go. So do capitalised words (names of
    people, in scripts that have capitals) unless the release itself uses that word, as it
    does for countries. Scripts without capitals rely on the k threshold alone. Returns None
    when nothing safe is left.
    """
    raws = query.split()[:12]
    words = []
    for n, raw in enumerate(raws):
        if _CONTACT_LIKE.search(raw) or any(ch.isdigit() for ch in raw):
            continue
        word = "".join(ch for ch in raw if unicodedata.category(ch)[0] in "LM")
        if len(word) < 2:
            continue
        folded = fold_for_search(word)
        if word[0].isupper() and folded not in known_words:
            # A capital only because it starts the search (phones capitalise it) is kept,
            # unless the next word is capitalised too, as in a person's full name.
            following = raws[n + 1] if n + 1 < len(raws) else ""
            if n > 0 or (following[:1].isupper()) or word.isupper():
                continue
        words.append(folded)
    if not words:
        return None
    return " ".join(words[:MAX_TERM_WORDS])[:60]
