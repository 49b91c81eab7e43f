"""A person's recording of one sentence, made ready to be mixed with synthetic speech.

A take from a browser (WebM/Opus, Ogg, WAV, MP3: whatever ffmpeg reads) becomes 16-bit mono
PCM at the tracks' rate, loses its leading and trailing silence, and is brought to one
loudness (TARGET_LUFS, measured by ffmpeg's EBU R128 meter), then is kept as FLAC: lossless,
about a third of WAV's size, and reviewable in git like the text beside it.
"""

from __future__ import annotations

import array
import math
import re
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from kiosk.errors import KioskError
from kiosk.speech import SAMPLE_RATE, require_tool

TARGET_LUFS = -19.0  # speech on small speakers
MAX_PEAK_DBFS = -1.0  # a gain never pushes a sample above this
QUIET_LUFS = -40.0  # a take below this, before the gain, is too quiet to use well
MAX_SECONDS = 60  # one sentence; anything longer is not a sentence
MAX_BYTES = 20 * 1024 * 1024
FRAME = SAMPLE_RATE // 100  # 10 ms
PAD_FRAMES = 10  # 100 ms of the silence kept at each end
FFMPEG_SECONDS = 120


@dataclass
class Take:
    flac: bytes
    seconds: float
    lufs: float  # after the gain
    warnings: list[str] = field(default_factory=list)


def _ffmpeg(args: list[str], data: bytes | None = None) -> subprocess.CompletedProcess:
    ffmpeg = require_tool("ffmpeg", "ffmpeg")
    try:
        return subprocess.run(
            [ffmpeg, "-hide_banner", "-nostdin" if data is None else "-nostats", *args],
            input=data, capture_output=True, check=False, timeout=FFMPEG_SECONDS,
        )  # fmt: skip
    except subprocess.TimeoutExpired:
        raise KioskError("ffmpeg took too long on a recording.") from None


def decode(data: bytes) -> bytes:
    """Any audio ffmpeg reads, as 16-bit mono PCM at SAMPLE_RATE; a clear error otherwise."""
    if not data:
        raise KioskError("The recording is empty.")
    if len(data) > MAX_BYTES:
        raise KioskError(f"The recording is over {MAX_BYTES // 2**20} MB: one sentence is less.")
    with tempfile.TemporaryDirectory() as tmp:
        source = Path(tmp) / "take"
        source.write_bytes(data)
        out = _ffmpeg(["-nostats", "-i", f"file:{source}", "-t", str(MAX_SECONDS + 1), "-vn",
                       "-ac", "1", "-ar", str(SAMPLE_RATE), "-f", "s16le", "-"])  # fmt: skip
    if out.returncode != 0 or not out.stdout:
        raise KioskError("That is not a recording: ffmpeg could not read it as audio.")
    pcm = out.stdout[: len(out.stdout) // 2 * 2]
    if len(pcm) > MAX_SECONDS * SAMPLE_RATE * 2:
        raise KioskError(f"The recording is over {MAX_SECONDS} seconds: one sentence is less.")
    return pcm


def measure(pcm: bytes) -> float:
    """Integrated loudness of mono PCM in LUFS (-70 for silence), by ffmpeg's ebur128."""
    out = _ffmpeg(["-f", "s16le", "-ar", str(SAMPLE_RATE), "-ac", "1", "-i", "-",
                   "-af", "ebur128", "-f", "null", "-"], pcm)  # fmt: skip
    text = out.stderr.decode("utf-8", "replace")
    found = re.search(r"\bI:\s+(-?[\d.]+|-inf) LUFS", text[text.rfind("Summary:") :])
    if out.returncode != 0 or not found:
        raise KioskError("ffmpeg could not measure the recording's loudness.")
    return -70.0 if found[1] == "-inf" else max(-70.0, float(found[1]))


def peak_dbfs(pcm: bytes) -> float:
    samples = array.array("h", pcm)
    top = max((abs(s) for s in samples), default=0)
    return 20 * math.log10(top / 32768) if top else -120.0


def clipped(pcm: bytes) -> bool:
    """Whether runs of samples sit at full scale: the microphone was overdriven."""
    samples = array.array("h", pcm)
    full = sum(1 for s in samples if s >= 32700 or s <= -32700)
    return full >= max(3, len(samples) // 20000)


def trim(pcm: bytes) -> bytes:
    """Leading and trailing silence taken off, keeping 100 ms at each end."""
    samples = array.array("h", pcm)
    frames = [samples[i : i + FRAME] for i in range(0, len(samples), FRAME)]
    energy = [math.sqrt(sum(s * s for s in f) / len(f)) if len(f) else 0.0 for f in frames]
    if not energy or max(energy) < 30:  # about -60 dBFS: nothing but hiss
        raise KioskError("The recording is silent: check that the microphone is on.")
    threshold = max(60.0, max(energy) / 100)  # 40 dB below the loudest 10 ms, and above hiss
    loud = [n for n, e in enumerate(energy) if e >= threshold]
    first, last = max(0, loud[0] - PAD_FRAMES), min(len(frames), loud[-1] + 1 + PAD_FRAMES)
    return samples[first * FRAME : last * FRAME].tobytes()


def gain(pcm: bytes, db: float) -> bytes:
    factor = 10 ** (db / 20)
    samples = array.array("h", pcm)
    return array.array("h", (max(-32768, min(32767, round(s * factor))) for s in samples)).tobytes()


def to_flac(pcm: bytes) -> bytes:
    out = _ffmpeg(["-f", "s16le", "-ar", str(SAMPLE_RATE), "-ac", "1", "-i", "-",
                   "-map_metadata", "-1", "-fflags", "+bitexact", "-flags:a", "+bitexact",
                   "-c:a", "flac", "-compression_level", "8", "-f", "flac", "-"], pcm)  # fmt: skip
    if out.returncode != 0 or not out.stdout:
        raise KioskError("ffmpeg could not write the recording as FLAC.")
    return out.stdout


def prepare(data: bytes, expected_seconds: float | None = None) -> Take:
    """A take as it will be kept: trimmed, at TARGET_LUFS, FLAC; with what to tell the reader."""
    raw = decode(data)
    warnings = []
    if clipped(raw):
        warnings.append("Too loud: some of it is distorted. Record again a little further "
                        "from the microphone.")  # fmt: skip
    pcm = trim(raw)
    before = measure(pcm)
    if before < QUIET_LUFS:
        warnings.append("Very quiet: move closer to the microphone, or speak up, and record "
                        "again.")  # fmt: skip
    db = min(TARGET_LUFS - before, MAX_PEAK_DBFS - peak_dbfs(pcm))
    pcm = gain(pcm, db)
    seconds = len(pcm) / 2 / SAMPLE_RATE
    if expected_seconds:
        said = f"{seconds:.1f} s for about {expected_seconds:.0f} s"
        if seconds < expected_seconds * 0.4:
            warnings.append(f"Much shorter than the sentence ({said}): was part of it left out?")
        elif seconds > expected_seconds * 2.5 + 1:
            warnings.append(f"Much longer than the sentence ({said}): is something else in it?")
    return Take(to_flac(pcm), seconds, measure(pcm), warnings)
