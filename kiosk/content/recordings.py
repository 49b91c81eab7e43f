"""Recordings of single sentences, kept beside the text they read.

``guides/<guide>/recordings/<lang>/<hash>.flac`` is a person reading one sentence, and
``<hash>.txt`` the sentence it reads (so a review in git shows both). The hash is of the
sentence's text, so a recording is current exactly while that sentence is on the page: when
the text changes, the sentence has no recording until it is read again (the build uses
espeak-ng for it and says so), and words that differ from the screen are never played.
"""

from __future__ import annotations

import hashlib
import unicodedata
from dataclasses import dataclass
from pathlib import Path

from kiosk.files import write_atomic

FOLDER = "recordings"
SUFFIX = ".flac"


def sentence_hash(text: str) -> str:
    """The name of a sentence's recording: its words, however the line was spaced."""
    words = " ".join(unicodedata.normalize("NFC", text).split())
    return hashlib.sha256(words.encode("utf-8")).hexdigest()[:16]


def folder(guide_dir: Path, lang: str) -> Path:
    return guide_dir / FOLDER / lang


@dataclass(frozen=True)
class Sentence:
    index: int  # its place in the guide's track
    section: str  # "intro" for the title and summary
    n: int  # its place in the section, from 0
    text: str
    hash: str
    recording: Path | None  # current recording, if any
    stale: bool  # a recording of an earlier text of this sentence exists, and none of this


def found(guide_dir: Path, lang: str) -> dict[str, Path]:
    """The recordings of a guide in a language, by sentence hash."""
    where = folder(guide_dir, lang)
    if not where.is_dir():
        return {}
    return {p.stem: p for p in sorted(where.glob(f"*{SUFFIX}")) if len(p.stem) == 16}


def _recorded_for(guide_dir: Path, lang: str) -> dict[tuple[str, int], str]:
    """(section, n-th sentence of it) each recording was made for, from its .txt."""
    made: dict[tuple[str, int], str] = {}
    for digest, path in found(guide_dir, lang).items():
        try:
            head = path.with_suffix(".txt").read_text(encoding="utf-8").split("\n", 1)[0]
            section, _, n = head.partition(" ")
            made[(section, int(n))] = digest
        except (OSError, ValueError):
            continue
    return made


def sentences(guide_dir: Path, lang: str, spoken: list[tuple[str, str]]) -> list[Sentence]:
    """Every sentence of a guide's track, (section, text) in order, with its recording."""
    takes = found(guide_dir, lang)
    made = _recorded_for(guide_dir, lang)
    out, counts = [], {}
    for index, (section, text) in enumerate(spoken):
        n = counts[section] = counts.get(section, -1) + 1
        digest = sentence_hash(text)
        current = takes.get(digest)
        earlier = made.get((section, n))
        stale = current is None and earlier is not None and earlier != digest
        out.append(Sentence(index, section, n, text, digest, current, stale))
    return out


def unused(guide_dir: Path, lang: str, spoken: list[tuple[str, str]]) -> list[Path]:
    """Recordings of text no longer in the guide."""
    wanted = {sentence_hash(text) for _, text in spoken}
    return [p for d, p in found(guide_dir, lang).items() if d not in wanted]


def save(
    guide_dir: Path, lang: str, sentence: Sentence, flac: bytes, spoken: list[tuple[str, str]]
) -> Path:
    """Keep a take of a sentence, and the words it reads beside it. It replaces an earlier
    take of the same text, and a take of an earlier text of this sentence (git keeps it)."""
    where = folder(guide_dir, lang)
    where.mkdir(parents=True, exist_ok=True)
    made = _recorded_for(guide_dir, lang)
    for old in unused(guide_dir, lang, spoken):
        if made.get((sentence.section, sentence.n)) == old.stem:
            remove(old)
    path = where / f"{sentence.hash}{SUFFIX}"
    write_atomic(path, flac)
    write_atomic(path.with_suffix(".txt"),
                 f"{sentence.section} {sentence.n}\n{sentence.text}\n".encode())  # fmt: skip
    return path


def remove(path: Path) -> None:
    path.unlink(missing_ok=True)
    path.with_suffix(".txt").unlink(missing_ok=True)


def words_of(path: Path, limit: int = 60) -> str:
    """The first words of the sentence a recording reads (from its .txt)."""
    try:
        text = path.with_suffix(".txt").read_text(encoding="utf-8").split("\n", 1)[1].strip()
    except (OSError, IndexError):
        return "?"
    return text if len(text) <= limit else text[: limit - 1] + "…"


WORDS = "_words"  # the studio's name for a language's interface words


def ui_words(content_root: Path, lang: str, words: dict[str, str]) -> list[Sentence]:
    """A language's interface words as the studio lists them: each one a 'sentence' whose
    recording is ui/audio/<lang>/<key>.flac (or a .wav or .mp3 made another way)."""
    where = content_root / "ui" / "audio" / lang
    out = []
    for index, key in enumerate(sorted(words)):
        text = words[key]
        recording, stale = None, False
        for suffix in (SUFFIX, ".wav", ".mp3"):
            path = where / f"{key}{suffix}"
            if path.is_file():
                said = path.with_suffix(".txt")
                current = not said.is_file() or said.read_text(encoding="utf-8").strip() == text
                recording, stale = (path, False) if current else (None, True)
                break
        out.append(Sentence(index, key, 0, text, sentence_hash(text), recording, stale))
    return out


def save_word(content_root: Path, lang: str, word: Sentence, flac: bytes) -> Path:
    """Keep the recording of one interface word, and the words it reads."""
    where = content_root / "ui" / "audio" / lang
    where.mkdir(parents=True, exist_ok=True)
    for suffix in (".wav", ".mp3"):
        (where / f"{word.section}{suffix}").unlink(missing_ok=True)  # one recording per word
    path = where / f"{word.section}{SUFFIX}"
    write_atomic(path, flac)
    write_atomic(path.with_suffix(".txt"), f"{word.text}\n".encode())
    return path
