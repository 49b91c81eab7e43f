"""Turn sentences into one MP3 track with a start and end time for every sentence.

Each sentence is spoken on its own by the espeak-ng program (one process per sentence, so
calls never share state: pyttsx3's engine is not thread-safe and its ``save_to_file`` can
return before the file exists). The raw samples are joined with short pauses, so each
sentence's place in the track is known to the sample, then encoded once with lame.

Both levels are cached by a hash of everything that shapes the sound (text, voice, speed,
pitch, bitrate and the tools' versions): a rebuild of unchanged text speaks nothing again.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import struct
import subprocess
import tempfile
import wave
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

from kiosk import audio
from kiosk.audio import SAMPLE_RATE
from kiosk.errors import KioskError, require_tool
from kiosk.files import write_atomic

SENTENCE_PAUSE_MS = 250
SEGMENT_PAUSE_MS = 700
CACHE_FORMAT = 1


@dataclass(frozen=True)
class Segment:
    """A run of sentences spoken in one go (a section), or a person's recording of them."""

    sentences: tuple[str, ...]
    recording: Path | None = None
    # A person's recording of single sentences, by place (None: spoken by espeak-ng)
    takes: tuple[Path | None, ...] = ()


@dataclass
class Track:
    """Where each sentence sits in an encoded track, in milliseconds."""

    spans: list[tuple[int, int]] = field(default_factory=list)
    duration_ms: int = 0

    def to_json(self) -> dict:
        return {"spans": self.spans, "duration_ms": self.duration_ms}

    @classmethod
    def from_json(cls, data: dict) -> Track:
        return cls([tuple(s) for s in data["spans"]], data["duration_ms"])


def _version(cmd: list[str]) -> str:
    out = subprocess.run(cmd, capture_output=True, text=True, check=False)
    return (out.stdout or out.stderr).splitlines()[0].strip() if (out.stdout or out.stderr) else ""


def _atomic_write(path: Path, data: bytes) -> None:
    # A cache: whole files matter, surviving a power cut does not (it is spoken again).
    write_atomic(path, data, durable=False)


def wav_samples(data: bytes) -> tuple[int, int, bytes]:
    """Return (sample rate, channels, 16-bit PCM) from WAV bytes, even with a streaming header."""
    if data[:4] != b"RIFF" or data[8:12] != b"WAVE":
        raise KioskError("espeak-ng did not produce WAV audio")
    pos, rate, channels = 12, 0, 0
    while pos + 8 <= len(data):
        kind, size = data[pos : pos + 4], struct.unpack("<I", data[pos + 4 : pos + 8])[0]
        if kind == b"fmt ":
            _, channels, rate = struct.unpack("<HHI", data[pos + 8 : pos + 16])
        elif kind == b"data":
            body = (
                data[pos + 8 : pos + 8 + size] if pos + 8 + size <= len(data) else data[pos + 8 :]
            )
            return rate, channels, body[: len(body) // 2 * 2]
        pos += 8 + size + (size & 1)
    raise KioskError("WAV audio has no data")


class Speaker:
    """Speaks text with espeak-ng and encodes tracks with lame, caching both."""

    def __init__(
        self,
        cache_dir: str | os.PathLike[str],
        rate: int = 150,
        pitch: int = 50,
        bitrate: int = 20,
    ) -> None:
        self.cache = Path(cache_dir)
        self.rate = rate
        self.pitch = pitch
        self.bitrate = bitrate
        self.espeak = require_tool("espeak-ng", "espeak-ng")
        self.lame = require_tool("lame", "lame")

    @cached_property
    def fingerprint(self) -> dict:
        """Everything besides the text that changes the sound."""
        return {
            "format": CACHE_FORMAT,
            "espeak": _version([self.espeak, "--version"]),
            "lame": _version([self.lame, "--version"]),
            "rate": self.rate,
            "pitch": self.pitch,
            "bitrate": self.bitrate,
        }

    def _key(self, *parts: object) -> str:
        blob = json.dumps([self.fingerprint, *parts], ensure_ascii=False, sort_keys=True)
        return hashlib.sha256(blob.encode()).hexdigest()

    def voice_exists(self, voice: str) -> bool:
        out = subprocess.run(
            [self.espeak, "-v", voice, "-q", "x"], capture_output=True, text=True, check=False
        )
        return out.returncode == 0 and "Voice does not exist" not in out.stderr

    def pcm(self, text: str, voice: str) -> bytes:
        """16-bit mono PCM at SAMPLE_RATE for one sentence."""
        path = self.cache / "pcm" / f"{self._key('pcm', voice, text)}.pcm"
        try:
            return path.read_bytes()
        except FileNotFoundError:
            pass
        out = subprocess.run(
            [self.espeak, "-v", voice, "-s", str(self.rate), "-p", str(self.pitch), "--stdout"],
            input=text.encode("utf-8"),
            capture_output=True,
            check=False,
            timeout=120,
        )
        if out.returncode != 0 or not out.stdout:
            why = out.stderr.decode("utf-8", "replace").strip()
            raise KioskError(f"espeak-ng could not speak with voice {voice!r}: {why}")
        rate, channels, samples = wav_samples(out.stdout)
        if rate != SAMPLE_RATE or channels != 1:
            raise KioskError(f"espeak-ng gave {rate} Hz, {channels} channels; expected mono")
        _atomic_write(path, samples)
        return samples

    def recording_pcm(self, path: Path) -> bytes:
        """A person's recording (.wav or .mp3) as 16-bit mono PCM at SAMPLE_RATE."""
        digest = hashlib.sha256(path.read_bytes()).hexdigest()
        cached = self.cache / "pcm" / f"{self._key('recording', digest)}.pcm"
        try:
            return cached.read_bytes()
        except FileNotFoundError:
            pass
        sox = require_tool("sox", "sox")
        with tempfile.TemporaryDirectory() as tmp:
            source = path
            if path.suffix == ".mp3":
                source = Path(tmp) / "decoded.wav"
                subprocess.run(
                    [self.lame, "--quiet", "--decode", str(path), str(source)], check=True
                )
            raw = Path(tmp) / "out.raw"
            result = subprocess.run(
                [sox, str(source), "-t", "raw", "-r", str(SAMPLE_RATE), "-e", "signed",
                 "-b", "16", "-c", "1", "-L", str(raw)],
                capture_output=True, check=False,
            )  # fmt: skip
            if result.returncode != 0:
                raise KioskError(f"cannot read the recording {path}: it is not valid audio")
            samples = raw.read_bytes()
        _atomic_write(cached, samples)
        return samples

    def render(self, segments: list[Segment], voice: str | None, out: Path) -> Track:
        """Speak (or take recordings of) all segments into one MP3 at ``out``."""
        recorded = [
            hashlib.sha256(s.recording.read_bytes()).hexdigest() if s.recording else None
            for s in segments
        ]
        takes = [
            [hashlib.sha256(t.read_bytes()).hexdigest() if t else None for t in s.takes]
            for s in segments
        ]
        if any(any(t) for t in takes):
            recorded.append(takes)  # a key unchanged for tracks without single-sentence takes
        key = self._key("track", voice, [list(s.sentences) for s in segments], recorded)
        cached_mp3 = self.cache / "tracks" / f"{key}.mp3"
        cached_json = cached_mp3.with_suffix(".json")
        out.parent.mkdir(parents=True, exist_ok=True)
        if cached_mp3.exists() and cached_json.exists():
            shutil.copyfile(cached_mp3, out)
            return Track.from_json(json.loads(cached_json.read_text()))

        pieces = self._pieces(segments, voice)
        pcm = bytearray()
        track = Track()

        def pause(ms: int) -> None:
            pcm.extend(b"\0\0" * (SAMPLE_RATE * ms // 1000))

        def now_ms() -> int:
            return len(pcm) // 2 * 1000 // SAMPLE_RATE

        for n, (segment, sounds) in enumerate(zip(segments, pieces, strict=True)):
            if n:
                pause(SEGMENT_PAUSE_MS)
            if segment.recording is not None:
                start = now_ms()
                pcm.extend(sounds[0])
                track.spans.extend(_estimate(segment.sentences, start, now_ms()))
                continue
            for m, sound in enumerate(sounds):
                if m:
                    pause(SENTENCE_PAUSE_MS)
                start = now_ms()
                pcm.extend(sound)
                track.spans.append((start, now_ms()))
        track.duration_ms = now_ms()
        self.encode(bytes(pcm), cached_mp3)
        _atomic_write(cached_json, json.dumps(track.to_json()).encode())
        shutil.copyfile(cached_mp3, out)
        return track

    def _pieces(self, segments: list[Segment], voice: str | None) -> list[list[bytes]]:
        """The sound of each sentence (or of a segment's one recording). Where a track mixes
        people's takes with espeak-ng, the takes are brought to the synthetic speech's
        loudness, so the voice does not jump from one sentence to the next."""
        pieces: list[list[bytes]] = []
        human: list[tuple[int, int]] = []
        for n, segment in enumerate(segments):
            if segment.recording is not None:
                pieces.append([self.recording_pcm(segment.recording)])
                continue
            sounds = []
            for m, sentence in enumerate(segment.sentences):
                take = segment.takes[m] if m < len(segment.takes) else None
                if take is not None:
                    sounds.append(self.recording_pcm(take))
                    human.append((n, m))
                elif voice is None:
                    raise KioskError("no voice and no recording for this text")
                else:
                    sounds.append(self.pcm(sentence, voice))
            pieces.append(sounds)
        synthetic = [s for n, p in enumerate(pieces) for m, s in enumerate(p)
                     if (n, m) not in human and segments[n].recording is None]  # fmt: skip
        if human and synthetic:
            people = b"".join(pieces[n][m] for n, m in human)
            db = audio.measure(b"".join(synthetic)) - audio.measure(people)
            db = min(db, audio.MAX_PEAK_DBFS - audio.peak_dbfs(people))
            for n, m in human:
                pieces[n][m] = audio.gain(pieces[n][m], db)
        return pieces

    def encode(self, pcm: bytes, out: Path) -> None:
        encode_mp3(pcm, out, self.bitrate)


def encode_mp3(pcm: bytes, out: Path, bitrate: int = 20) -> None:
    """Encode mono PCM at SAMPLE_RATE to MP3 (average bitrate; every phone and browser
    plays it), under a temporary name, then renamed into place."""
    lame = require_tool("lame", "lame")
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".tmp-{os.getpid()}-{out.name}")
    result = subprocess.run(
        [lame, "--quiet", "-r", "-s", "22.05", "--bitwidth", "16", "--signed",
         "--little-endian", "-m", "m", "--abr", str(bitrate), "-", str(tmp)],
        input=pcm, capture_output=True, check=False,
    )  # fmt: skip
    if result.returncode != 0:
        tmp.unlink(missing_ok=True)
        raise KioskError(f"lame could not encode audio: {result.stderr.decode(errors='replace')}")
    os.replace(tmp, out)


def _estimate(sentences: tuple[str, ...], start: int, end: int) -> list[tuple[int, int]]:
    """Share a recording's time between its sentences by their length in characters."""
    total = sum(len(s) for s in sentences) or 1
    spans, at = [], start
    for sentence in sentences:
        length = (end - start) * len(sentence) // total
        spans.append((at, at + length))
        at += length
    if spans:
        spans[-1] = (spans[-1][0], end)
    return spans


def pcm_to_wav(pcm: bytes, path: Path) -> None:
    """Write mono 16-bit PCM as a WAV file (used by tests and the benchmark)."""
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(SAMPLE_RATE)
        w.writeframes(pcm)
