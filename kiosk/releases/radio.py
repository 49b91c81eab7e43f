"""A radio pack: a release's guides made ready for community radio, one folder per language.

Many people first hear about migration on community radio, not on a screen. A pack holds::

    OUT/README.txt              what the pack is, in English: languages, loudness, a warning
    OUT/<lang>/NN-<guide>.mp3   each guide's track at -23 LUFS, true peak at most -1 dBTP
    OUT/<lang>/script.txt       the words those tracks speak, in their order, plain UTF-8

NN is the guide's place in the catalog (01, 02, ...). A guide with no recording in a language
gets no track there; a language with none at all (no voice) gets its script only. The release
is verified first, and only the copies of its files that were checked are read, so nothing
from a changed release reaches the pack. The pack is written beside OUT and renamed into
place whole, so a failure leaves no half pack.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import os
import re
import shutil
import subprocess
import textwrap
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path

from kiosk.errors import KioskError, ReleaseNotFound, ReleaseRejected, require_tool
from kiosk.hq.root import CHANNEL_NAME
from kiosk.releases.build import CATALOG_FORMAT
from kiosk.releases.manifest import PublicKey, check_file, shown, verify_release

TARGET_I = -23.0  # EBU R128 programme loudness, LUFS
MAX_TP = -1.0  # EBU R128's ceiling for true peaks, dBTP
# loudnorm aims half a dB lower: MP3 encoding lifts peaks by a few tenths of a dB.
AIM_TP = -1.5
# loudnorm's own default. A track whose loudness range is wider gets its own range as the
# target, so one gain (linear mode) keeps the voice's rise and fall instead of compressing it.
LRA = 7.0
UPMIX = "aformat=channel_layouts=stereo"
# 44.1 kHz MP3 is what every playout system and player takes. Constant bit rate because
# older playout software shows wrong lengths for variable-rate MP3; 128 kbit/s is well above
# what a voice needs, so a station's own re-encoding adds nothing audible. Two identical
# channels rather than mono: loudness adds up over channels (ITU BS.1770), so a mono file
# measured at -23 LUFS goes to air 3 LU louder when stereo playout sends it to both sides;
# joint stereo codes the identical sides as one, so the second channel costs no quality.
ENCODE = ["-ar", "44100", "-c:a", "libmp3lame", "-b:a", "128k", "-joint_stereo", "1"]
# LAME's output measures about 0.4 LU under its input at 128 kbit/s (LAME 3.100, a pure tone
# as much as speech). The first encoding makes up for it, so most tracks are encoded once.
CODEC_LOSS = 0.4
TOLERANCE = 0.5  # LU either side of the target that EBU R128 permits in general
FFMPEG_SECONDS = 600
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9-]{0,62}\Z")


class PackRefused(KioskError, ValueError):
    """The radio pack was not made; nothing was written."""


@dataclass
class RadioPack:
    out: Path
    version: int
    languages: int
    guides: int
    tracks: int
    audio_ms: int
    bytes: int
    seconds: float
    text_only: list[str] = field(default_factory=list)  # languages with no track at all


@dataclass(frozen=True)
class _Level:
    loudness: float  # LUFS, integrated
    peak: float  # dBTP
    dynamic: bool  # loudnorm could not keep one gain and evened the peaks out


@dataclass
class _Track:
    lang: str
    number: int  # the guide's place in the catalog, from 1
    text: dict  # the guide's catalog text in this language
    name: str | None  # "<lang>/NN-<guide>.mp3", or None when there is no recording
    level: _Level | None = None  # measured in the MP3 that was written


def find_release(version: str, root: Path | None, channel: str = "stable") -> Path:
    """The release folder VERSION names: a folder, or a number published under ``root``."""
    if not (version.isascii() and version.isdigit()):
        return Path(version)
    if root is None:
        raise PackRefused(
            f"{version} looks like a release number: say where headquarters keeps its releases "
            f"with --root, or give the release's folder as a path (./{version})."
        )
    if not CHANNEL_NAME.fullmatch(channel):
        raise PackRefused("A channel name uses a-z, 0-9 and '-'.")
    folder = root / "releases" / channel / version
    if not folder.is_dir():
        latest = root / "releases" / channel / "LATEST"
        newest = latest.read_text(errors="replace").strip() if latest.is_file() else "none"
        raise ReleaseNotFound(
            f"There is no release {version} on channel {channel} at {root} "
            f"(the latest published there is {shown(newest, 20)})."
        )
    return folder


def radio_pack(
    release_dir: str | os.PathLike[str],
    out: str | os.PathLike[str],
    keys: list[PublicKey],
    progress: Callable[[str], None] | None = None,
) -> RadioPack:
    """Verify the release at ``release_dir`` and write its radio pack to the new folder ``out``."""
    started = time.monotonic()
    say = progress or (lambda _msg: None)
    release_dir, out = Path(release_dir), Path(out)
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise PackRefused(f"{out} already exists and is not an empty folder; choose a new one.")
    manifest = verify_release(release_dir, keys)
    listed = {entry["path"]: entry for entry in manifest.files}
    work = out.parent / f".{out.name}.radio-{os.getpid()}"

    def checked(rel: str) -> Path:
        # The copy made while checking, never the release's file again: a file swapped
        # after verify_release cannot reach the pack.
        if rel not in listed:
            raise ReleaseRejected(
                f"The release's catalog names {shown(rel)}, which it does not list."
            )
        check_file(release_dir, listed[rel], copy_to=work / "source" / rel)
        return work / "source" / rel

    try:
        shutil.rmtree(work, ignore_errors=True)
        work.mkdir(parents=True)
        catalog = _catalog(checked("catalog.json"))
        tracks = tracks_of(catalog)
        spoken = [t for t in tracks if t.name]
        ffmpeg = require_tool("ffmpeg", "ffmpeg") if spoken else ""
        pack = work / "pack"
        for n, track in enumerate(spoken, 1):
            say(f"[{n}/{len(spoken)}] {track.name}")
            track.level = _normalise(
                ffmpeg,
                checked(track.text["audio"]),
                pack / str(track.name),
                _tags(catalog, track, manifest.version),
                work,
            )
        for lang in catalog["languages"]:
            mine = [t for t in tracks if t.lang == lang["tag"]]
            (pack / lang["tag"]).mkdir(parents=True, exist_ok=True)
            (pack / lang["tag"] / "script.txt").write_text(
                _script(lang, mine, manifest.version), encoding="utf-8"
            )
        readme = _readme(catalog, tracks, manifest.version, manifest.key_id)
        (pack / "README.txt").write_text(readme, encoding="utf-8")
        if out.exists():
            out.rmdir()
        os.replace(pack, out)
    except KioskError:
        raise
    except OSError as exc:
        raise KioskError(
            f"The radio pack could not be written to {out}: {exc.strerror or exc}."
        ) from None
    finally:
        shutil.rmtree(work, ignore_errors=True)

    files = [p for p in out.rglob("*") if p.is_file()]
    return RadioPack(
        out=out,
        version=manifest.version,
        languages=len(catalog["languages"]),
        guides=len(catalog["guides"]),
        tracks=len(spoken),
        audio_ms=sum(t.text["duration_ms"] for t in spoken),
        bytes=sum(p.stat().st_size for p in files),
        seconds=time.monotonic() - started,
        text_only=[
            lang["tag"]
            for lang in catalog["languages"]
            if not any(t.name for t in tracks if t.lang == lang["tag"])
        ],
    )


# ---------------------------------------------------------------- reading the release


def _catalog(path: Path) -> dict:
    try:
        catalog = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, ValueError):
        raise ReleaseRejected("The release's catalog.json is not readable.") from None
    if not isinstance(catalog, dict) or catalog.get("format") not in (1, CATALOG_FORMAT):
        raise ReleaseRejected(
            "The release's catalog is in a format this kiosk does not know. Update the kiosk "
            "software first."
        )
    return catalog


def _file_name(value: object, what: str) -> str:
    # Signed, but still checked before it becomes part of a path, as the manifest's names are.
    if not isinstance(value, str) or not _NAME.match(value):
        raise ReleaseRejected(f"The release's catalog has a {what} that cannot name a file: "
                              f"{shown(value, 40)}.")  # fmt: skip
    return value


def tracks_of(catalog: dict) -> list[_Track]:
    """Every guide in each language it is in, in catalog order, named as the pack names its
    files."""
    guides = catalog["guides"]
    width = max(2, len(str(len(guides))))  # 01 .. 99, then 001: names still sort in order
    tracks = []
    for lang in catalog["languages"]:
        tag = _file_name(lang["tag"], "language tag")
        for number, guide in enumerate(guides, 1):
            if tag not in guide["text"]:
                continue  # not translated yet; numbers stay the guide's in every language
            text = guide["text"][tag]
            stem = f"{number:0{width}d}-{_file_name(guide['id'], 'guide id')}"
            name = f"{tag}/{stem}.mp3" if text.get("audio") else None
            tracks.append(_Track(tag, number, text, name))
    return tracks


# ---------------------------------------------------------------- sound


def _normalise(ffmpeg: str, source: Path, dest: Path, tags: list[str], work: Path) -> _Level:
    """Bring one track to TARGET_I with two loudnorm passes, encode it, and measure the result.

    The first pass measures; the second applies one gain from those figures (linear mode),
    unless that gain would push the peaks over AIM_TP, when loudnorm evens them out instead
    (dynamic mode). The MP3 is then measured as a station's meter would, and encoded again
    with the small gain that puts it on target if encoding moved its level.
    """
    what = f"{dest.parent.name}/{dest.name}"
    # Release audio is always MP3 (kiosk.speech writes it); naming the format keeps ffmpeg's
    # other readers away from the file. "file:" keeps a ':' in a folder name from looking
    # like a protocol.
    read = ["-f", "mp3", "-i", f"file:{source}"]
    target = f"loudnorm=I={TARGET_I}:TP={AIM_TP}"
    first = _ffmpeg(ffmpeg, [*read, "-af", f"{UPMIX},{target}:LRA={LRA}:print_format=json",
                             "-f", "null", "-"], what)  # fmt: skip
    measured = _loudnorm_figures(first, what)
    names = ("input_i", "input_lra", "input_tp", "input_thresh", "target_offset")
    try:
        i, lra, tp, thresh, offset = (float(measured[name]) for name in names)
    except (KeyError, TypeError, ValueError):
        raise KioskError(f"ffmpeg's loudnorm did not measure {what}.") from None
    if not all(math.isfinite(v) for v in (i, lra, tp, thresh, offset)):
        raise KioskError(f"The track {what} is silent, so it cannot be brought to level.")
    apply = (
        f"{UPMIX},{target}:LRA={min(max(LRA, lra), 50):.2f}:measured_I={i:.2f}"
        f":measured_LRA={lra:.2f}:measured_TP={tp:.2f}:measured_thresh={thresh:.2f}"
        f":offset={offset:.2f}:linear=true:print_format=json"
    )
    level = work / "level.wav"  # 32-bit float: the correction below loses nothing
    second = _ffmpeg(ffmpeg, [*read, "-af", apply, "-ar", "44100", "-c:a", "pcm_f32le", "-y",
                              f"file:{level}"], what)  # fmt: skip
    dynamic = _loudnorm_figures(second, what).get("normalization_type") != "linear"

    dest.parent.mkdir(parents=True, exist_ok=True)
    gain = CODEC_LOSS
    for _ in range(3):
        _ffmpeg(ffmpeg, ["-f", "wav", "-i", f"file:{level}", "-af", f"volume={gain:.2f}dB",
                         "-map_metadata", "-1", *tags, "-id3v2_version", "3", *ENCODE, "-y",
                         f"file:{dest}"], what)  # fmt: skip
        loudness, peak = measure(ffmpeg, dest)
        if not math.isfinite(loudness) or abs(loudness - TARGET_I) <= 0.1:
            break
        # Never past the peak ceiling: a track that can only reach it quieter stays quieter.
        gain += min(TARGET_I - loudness, MAX_TP - 0.2 - peak)
    if abs(loudness - TARGET_I) > TOLERANCE or peak > MAX_TP:
        raise KioskError(
            f"The track {what} came out at {loudness:.1f} LUFS with peaks at {peak:.1f} dBTP, "
            f"not {TARGET_I:g} LUFS with peaks at most {MAX_TP:g} dBTP; nothing was written."
        )
    return _Level(loudness, peak, dynamic)


def measure(ffmpeg: str, path: Path) -> tuple[float, float]:
    """Integrated loudness (LUFS) and true peak (dBTP) of an audio file, by ffmpeg's ebur128."""
    out = _ffmpeg(ffmpeg, ["-i", f"file:{path}", "-af", "ebur128=peak=true:framelog=verbose",
                           "-f", "null", "-"], path.name)  # fmt: skip
    summary = out[out.rfind("Summary:") :]
    found = re.search(r"\bI:\s+(\S+) LUFS", summary), re.search(r"Peak:\s+(\S+) dBFS", summary)
    if not all(found):
        raise KioskError(f"ffmpeg's ebur128 did not measure {path.name}.")
    return float(found[0][1]), float(found[1][1])


def _ffmpeg(ffmpeg: str, args: list[str], what: str) -> str:
    """Run ffmpeg and return what it wrote to stderr (where loudnorm and ebur128 report)."""
    try:
        result = subprocess.run(
            [ffmpeg, "-hide_banner", "-nostdin", "-nostats", *args],
            capture_output=True, text=True, errors="replace", check=False,
            timeout=FFMPEG_SECONDS,
        )  # fmt: skip
    except subprocess.TimeoutExpired:
        raise KioskError(f"ffmpeg took over {FFMPEG_SECONDS // 60} minutes on {what}.") from None
    if result.returncode != 0:
        last = (result.stderr.strip().splitlines() or [f"exit status {result.returncode}"])[-1]
        raise KioskError(f"ffmpeg could not make the track {what}: {shown(last, 200)}")
    return result.stderr


def _loudnorm_figures(stderr: str, what: str) -> dict:
    start, end = stderr.rfind("{"), stderr.rfind("}")
    try:
        figures = json.loads(stderr[start : end + 1]) if 0 <= start < end else None
    except ValueError:
        figures = None
    if not isinstance(figures, dict):
        raise KioskError(f"ffmpeg's loudnorm printed no figures for {what}.")
    return figures


def _tags(catalog: dict, track: _Track, version: int) -> list[str]:
    """ID3 tags a playout system shows: the guide's title, the language, the release."""
    name = next(lang["name"] for lang in catalog["languages"] if lang["tag"] == track.lang)
    return [
        "-metadata", f"title={track.number:02d} {track.text['title']}",
        "-metadata", f"album=First Mile guides, {name}, release {version}",
        "-metadata", "artist=First Mile",
        "-metadata", f"track={track.number}/{len(catalog['guides'])}",
    ]  # fmt: skip


# ---------------------------------------------------------------- words


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


def _script(lang: dict, tracks: list[_Track], version: int) -> str:
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


def _readme(catalog: dict, tracks: list[_Track], version: int, key_id: str) -> str:
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
