"""The radio pack's words: each language's script.txt and the pack's README.txt, in English.

The script holds the words each track speaks, in order, for a presenter to read or follow;
the README says what the pack is, how loud its tracks are and how they were made, and warns
that the guides' sample contacts are never to be read on air.
"""

from __future__ import annotations

import datetime as dt
import re
import textwrap
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path

from kiosk.content.radio_sound import MAX_TP, TARGET_I, Level


@dataclass
class Track:
    """One guide in one language, as the pack holds it."""

    lang: str
    number: int  # the guide's place in the catalog, from 1
    text: dict  # the guide's catalog text in this language
    name: str | None  # "<lang>/NN-<guide>.mp3", or None when there is no recording
    level: Level | None = None  # measured in the MP3 that was written


class _PlainText(HTMLParser):
    """A section's HTML as lines of plain text: one per paragraph, one per list item."""

    BLOCKS = frozenset({"p", "li", "ul", "ol", "blockquote", "h3", "h4", "hr", "br"})

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.lines: list[str] = []
        self.words: list[str] = []
        self.bullet = ""
        self.depth = 0

    def handle_starttag(self, tag: str, attrs) -> None:
        if tag in self.BLOCKS:
            self.end_line()
        if tag in ("ul", "ol"):
            self.depth += 1
        elif tag == "li":
            self.bullet = "  " * max(self.depth - 1, 0) + "- "

    def handle_endtag(self, tag: str) -> None:
        if tag in self.BLOCKS:
            self.end_line()
        if tag in ("ul", "ol"):
            self.depth -= 1

    def handle_data(self, data: str) -> None:
        self.words.append(data)

    def end_line(self) -> None:
        text = " ".join("".join(self.words).split())
        if text:  # an item's bullet waits for its words (<li><p>...</p></li>)
            self.lines.append(self.bullet + text)
            self.bullet = ""
        self.words = []


def plain_lines(html: str) -> list[str]:
    """The words of a section's HTML as plain lines, list items each on their own line."""
    parser = _PlainText()
    parser.feed(html)
    parser.close()
    parser.end_line()
    return parser.lines


def _clock(ms: int) -> str:
    seconds = round(ms / 1000)
    return f"{seconds // 60}:{seconds % 60:02d}"


def script(lang: dict, tracks: list[Track], version: int) -> str:
    """The words of a language's tracks, in order, for a presenter to read or follow."""
    spoken = [t for t in tracks if t.name]
    sound = (
        f"{len(spoken)} tracks at {TARGET_I:g} LUFS, true peak at most {MAX_TP:g} dBTP (EBU R128)."
        if spoken
        else "Text only: there are no recordings in this language, so read it on air."
    )
    lines = [
        f"First Mile radio script: {lang['name']} ({lang['tag']}), release {version}",
        f"{len(tracks)} guides. {sound}",
        "Below are the words each track speaks, in order. Lines in [brackets] are not spoken."
        if spoken
        else "Below are the guides' words, in order. Lines in [brackets] are not part of them.",
    ]
    for track in tracks:
        where = (
            f"{Path(track.name).name}, {_clock(track.text['duration_ms'])}"
            if track.name
            else "no recording"
        )
        lines += ["", "", f"[{track.number:02d} of {len(tracks):02d}: {where}]", ""]
        lines += [track.text["title"], track.text["summary"]]
        for section in track.text["sections"]:
            lines += ["", section["heading"], *plain_lines(section["html"])]
    return "\n".join(lines) + "\n"


def readme(catalog: dict, tracks: list[Track], version: int, key_id: str) -> str:
    """What the pack is, in English, for the people at the radio station."""
    reference = catalog["reference"]
    guides = catalog["guides"]
    languages = catalog["languages"]
    title = f"First Mile radio pack, release {version}"
    out = [title, "=" * len(title), ""]

    def para(text: str) -> None:
        # A figure stays on one line with its unit: "-1 dBTP", never "-1" and "dBTP".
        glued = re.sub(r"(\d) (?=LUFS|LU\b|dBTP|kHz|kbit/s)", "\\1\u00a0", text)
        out.extend([textwrap.fill(glued, 78).replace("\u00a0", " "), ""])

    para(
        "The First Mile safer-migration guides, made ready for community radio: each guide as "
        "an audio track in each language, and a script (script.txt) with the words the tracks "
        "speak, for a presenter to read from or to follow what goes to air."
    )
    out += [f"{len(languages)} languages, {len(guides)} guides in each:", ""]
    for lang in languages:
        mine = [t for t in tracks if t.lang == lang["tag"]]
        spoken = [t for t in mine if t.name]
        if not spoken:
            what = "text only (script.txt, no recordings)"
        else:
            minutes = sum(t.text["duration_ms"] for t in spoken) / 60000
            what = f"{len(spoken)} tracks, {minutes:.1f} minutes, and script.txt"
            if len(spoken) < len(mine):
                what += f"; {len(mine) - len(spoken)} guide(s) text only"
        if lang.get("dir") == "rtl":
            what += "; written right to left"
        out.append(f"  {lang['tag']}/  {lang['name']}: {what}")
    out += ["", "The guides, in the order of the tracks (NN in each file name):", ""]
    out += [f"  {n:02d}  {g['text'][reference]['title']}" for n, g in enumerate(guides, 1)]
    out += ["", "", "Loudness", "--------", ""]
    levels = [t.level for t in tracks if t.level]
    para(
        f"Every track is at {TARGET_I:g} LUFS integrated loudness with true peaks at most "
        f"{MAX_TP:g} dBTP, as EBU R128 asks, so it can go to air beside other programmes "
        "without turning it up or down. MP3, 44.1 kHz, 128 kbit/s constant bit rate, the same "
        "voice on both channels (measured as stereo, as it is heard)."
    )
    if levels:
        low, high = min(v.loudness for v in levels), max(v.loudness for v in levels)
        span = f"{low:.1f}" if f"{low:.1f}" == f"{high:.1f}" else f"{low:.1f} to {high:.1f}"
        para(
            f"Measured in the MP3 files with ffmpeg's ebur128 meter: {span} LUFS, the highest "
            f"true peak {max(v.peak for v in levels):.1f} dBTP."
        )
    out += ["", "How it was made", "---------------", ""]
    para(
        f"Made on {dt.datetime.now(dt.UTC):%Y-%m-%d} with 'kiosk release radio-pack' from "
        f"release {version}, after checking its signature (key {key_id}), its expiry and every "
        "file. The voices are espeak-ng's text to speech, or a person's recording where a "
        "guide has one. Each track was measured with ffmpeg's loudnorm filter, then turned up "
        "or down by one fixed gain in a second pass, so the voice keeps its own rise and fall, "
        "then encoded as MP3 with LAME and measured again; where encoding had moved its "
        "level, it was encoded once more with the small gain that puts it back on target."
    )
    evened = [str(t.name) for t in tracks if t.level and t.level.dynamic]
    if evened:
        para(
            "These tracks had peaks too high for one gain, so loudnorm evened them out gently "
            f"to stay under the true-peak limit: {', '.join(evened)}."
        )
    out += ["", "A warning about contacts", "------------------------", ""]
    para(
        "Any contact marked as an example in the guides is a sample, not a real number or "
        "organisation: never read it on air as a number to call. Check every number with "
        "headquarters before you give it to listeners."
    )
    examples = [c for c in catalog.get("contacts", []) if c.get("example")]
    if examples:
        out += ["The examples in this release:", ""]
        for contact in examples:
            names = contact.get("organisation") or {}
            name = names.get(reference) or next(iter(names.values()), "") if names else ""
            out.append(f"  {name}: {contact.get('phone') or 'no number'} (a sample)")
        out.append("")
    return "\n".join(out)
