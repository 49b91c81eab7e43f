"""A person's recording of one sentence, made ready to be mixed with synthetic speech.

A take from a browser (WebM/Opus, Ogg, WAV, MP3: whatever ffmpeg reads) becomes 16-bit mono
PCM at the tracks' rate, loses its leading and trailing silence, and is brought to one
loudness (TARGET_LUFS, measured by ffmpeg's EBU R128 meter), then is kept as FLAC: lossless,
about a third of WAV's size, and reviewable in git like the text beside it.
"""

from __future__ import annotations

import array
import math
import shutil
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from kiosk.errors import KioskError, require_tool

SAMPLE_RATE = 22050  # the kiosk's tracks: mono 16-bit PCM at this rate, then MP3
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
    """Audio as 16-bit mono PCM at SAMPLE_RATE; a clear error when it is not audio.

    ffmpeg reads what browsers record (WebM/Opus, MP4); without it (the kiosk itself),
    sox reads WAV, FLAC, Ogg Vorbis and MP3, and the librarian's page sends WAV."""
    if not data:
        raise KioskError("The recording is empty.")
    if len(data) > MAX_BYTES:
        raise KioskError(f"The recording is over {MAX_BYTES // 2**20} MB: one sentence is less.")
    with tempfile.TemporaryDirectory() as tmp:
        source = Path(tmp) / "take"
        source.write_bytes(data)
        if shutil.which("ffmpeg"):
            out = _ffmpeg(["-nostats", "-i", f"file:{source}", "-t", str(MAX_SECONDS + 1), "-vn",
                           "-ac", "1", "-ar", str(SAMPLE_RATE), "-f", "s16le", "-"])  # fmt: skip
        else:
            sox = require_tool("sox", "sox")
            out = subprocess.run(
                [sox, "-q", str(source), "-t", "raw", "-r", str(SAMPLE_RATE), "-e", "signed",
                 "-b", "16", "-c", "1", "-L", "-", "trim", "0", str(MAX_SECONDS + 1)],
                capture_output=True, check=False, timeout=FFMPEG_SECONDS,
            )  # fmt: skip
    if out.returncode != 0 or not out.stdout:
        raise KioskError("That is not a recording: it could not be read as audio.")
    pcm = out.stdout[: len(out.stdout) // 2 * 2]
    if len(pcm) > MAX_SECONDS * SAMPLE_RATE * 2:
        raise KioskError(f"The recording is over {MAX_SECONDS} seconds: one sentence is less.")
    return pcm


def measure(pcm: bytes, rate: int = SAMPLE_RATE) -> float:
    """Integrated loudness of mono 16-bit PCM in LUFS (ITU-R BS.1770-4, as EBU R128 meters
    it; -70 for silence). In Python, so the kiosk itself needs no ffmpeg for a notice."""
    samples = array.array("h", pcm)
    x = [s / 32768 for s in samples]
    for b, a in _k_weighting(rate):
        x = _biquad(x, b, a)
    block, step = int(0.4 * rate), int(0.1 * rate)
    powers = [
        sum(v * v for v in x[i : i + block]) / block for i in range(0, len(x) - block + 1, step)
    ]
    if not powers:  # shorter than one 400 ms block: one block of what there is
        powers = [sum(v * v for v in x) / max(1, len(x))]

    def lufs(p: float) -> float:
        return -0.691 + 10 * math.log10(p) if p > 0 else -120.0

    gated = [p for p in powers if lufs(p) > -70]
    if not gated:
        return -70.0
    relative = lufs(sum(gated) / len(gated)) - 10
    gated = [p for p in gated if lufs(p) > relative]
    return max(-70.0, lufs(sum(gated) / len(gated)))


def _k_weighting(rate: int) -> list[tuple[tuple[float, float, float], tuple[float, float]]]:
    """The two K-weighting biquads of BS.1770 for any sample rate (a high shelf of about
    +4 dB above 1.7 kHz, then a high pass at 38 Hz), as (b0, b1, b2), (a1, a2)."""
    filters = []
    # High shelf: f0 1681.97 Hz, gain 3.99984 dB, Q 0.70717.
    k = math.tan(math.pi * 1681.974450955533 / rate)
    vh, vb, q = 10 ** (3.999843853973347 / 20), 10 ** (3.999843853973347 / 40), 0.7071752369554196
    a0 = 1 + k / q + k * k
    filters.append(
        (
            ((vh + vb * k / q + k * k) / a0, 2 * (k * k - vh) / a0, (vh - vb * k / q + k * k) / a0),
            (2 * (k * k - 1) / a0, (1 - k / q + k * k) / a0),
        )
    )
    # High pass: f0 38.14 Hz, Q 0.50033.
    k = math.tan(math.pi * 38.13547087602444 / rate)
    q = 0.5003270373238773
    a0 = 1 + k / q + k * k
    filters.append(((1.0, -2.0, 1.0), (2 * (k * k - 1) / a0, (1 - k / q + k * k) / a0)))
    return filters


def _biquad(x: list[float], b: tuple[float, float, float], a: tuple[float, float]) -> list[float]:
    b0, b1, b2 = b
    a1, a2 = a
    out = [0.0] * len(x)
    x1 = x2 = y1 = y2 = 0.0
    for n, v in enumerate(x):
        y = b0 * v + b1 * x1 + b2 * x2 - a1 * y1 - a2 * y2
        out[n] = y
        x2, x1, y2, y1 = x1, v, y1, y
    return out


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
    pcm, warnings = level(data, expected_seconds)
    return Take(to_flac(pcm), len(pcm) / 2 / SAMPLE_RATE, measure(pcm), warnings)


def level(data: bytes, expected_seconds: float | None = None) -> tuple[bytes, list[str]]:
    """A recording as PCM, trimmed and at TARGET_LUFS; with what to tell the reader."""
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
    return pcm, warnings
