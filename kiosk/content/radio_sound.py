"""The radio pack's sound: each track brought to broadcast loudness (EBU R128) by ffmpeg.

    normalise(ffmpeg, source, dest, tags, work) -> Level
    measure(ffmpeg, path) -> (LUFS, dBTP)

Each track goes to TARGET_I (-23 LUFS) with true peaks at most MAX_TP (-1 dBTP): two loudnorm
passes (measure, then one gain), an MP3 encoding, and a measurement of the MP3 itself by
ffmpeg's ebur128 meter, as a station's meter would take it.
"""

from __future__ import annotations

import json
import math
import re
import subprocess
from dataclasses import dataclass
from pathlib import Path

from kiosk.errors import KioskError
from kiosk.formats.manifest import shown

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


@dataclass(frozen=True)
class Level:
    """A track's level as measured in the MP3 that was written."""

    loudness: float  # LUFS, integrated
    peak: float  # dBTP
    dynamic: bool  # loudnorm could not keep one gain and evened the peaks out


def normalise(ffmpeg: str, source: Path, dest: Path, tags: list[str], work: Path) -> Level:
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
    return Level(loudness, peak, dynamic)


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
