"""What human takes cost and how they sound mixed with espeak-ng.

Run: .venv/bin/python benchmarks/voices_bench.py   (also part of ./dev bench)

One guide's track (the sample "Deciding to go" in English) made twice by the build's own
steps, with a cold speech cache each time, in one run: every sentence by espeak-ng, then
every other sentence from a take made through the studio (espeak-ng's en-gb-x-rp+f2 voice
standing in for a person). Prints the time to make each track, the loudness of each sentence
(their spread, in LU), and the MP3's bytes per minute. Asserts nothing.
"""

from __future__ import annotations

import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import wave
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from kiosk import audio  # noqa: E402
from kiosk.content.build import render_guide, segments_of, takes_of  # noqa: E402
from kiosk.content.source import load_content  # noqa: E402
from kiosk.content.studio import create_studio  # noqa: E402
from kiosk.speech import SAMPLE_RATE, Speaker, wav_samples  # noqa: E402

GUIDE = "deciding"


def sample_copy(dst: Path) -> Path:
    """The sample content, without the stand-in takes it carries."""
    shutil.copytree(ROOT / "content", dst)
    shutil.rmtree(dst / "guides" / GUIDE / "recordings", ignore_errors=True)
    return dst


def make_track(content: Path, out: Path, cache: Path) -> float:
    """The guide's English track as the build makes it; the seconds it took."""
    loaded = load_content(content)
    guide = next(g for g in loaded.guides if g.id == GUIDE)
    _, said = render_guide(guide, "en")
    speaker = Speaker(cache)
    started = time.perf_counter()
    takes = takes_of(loaded, guide, "en", said)
    track = speaker.render(segments_of(said, {}, takes), "en", out / "track.mp3")
    seconds = time.perf_counter() - started
    (out / "track.json").write_text(json.dumps(
        {"duration_ms": track.duration_ms, "spans": track.spans}))  # fmt: skip
    return seconds


def record_every_other(content: Path, speaker: Speaker) -> tuple[int, float]:
    guide = next(g for g in load_content(content).guides if g.id == GUIDE)
    _, said = render_guide(guide, "en")
    client = create_studio(content, speaker).test_client()
    took, count = 0.0, 0
    for i, (_, text) in enumerate(said):
        if i % 2:
            continue
        spoken = subprocess.run(["espeak-ng", "-v", "en-gb-x-rp+f2", "-s", "135", "--stdout", text],
                                capture_output=True, check=True).stdout  # fmt: skip
        rate, _, pcm = wav_samples(spoken)
        with tempfile.NamedTemporaryFile(suffix=".wav") as f:
            with wave.open(f.name, "wb") as w:
                w.setnchannels(1)
                w.setsampwidth(2)
                w.setframerate(rate)
                w.writeframes(b"\0\0" * (rate // 2) + pcm + b"\0\0" * (rate // 2))
            started = time.perf_counter()
            client.post(f"/en/{GUIDE}/{i}", data=Path(f.name).read_bytes(),
                        environ_base={"REMOTE_ADDR": "127.0.0.1"},
                        headers={"Accept": "application/json"})  # fmt: skip
            took += time.perf_counter() - started
            count += 1
    return count, took


def track_figures(out: Path) -> tuple[list[float], int, int]:
    mp3 = out / "track.mp3"
    track = json.loads((out / "track.json").read_text())
    pcm = subprocess.run(["ffmpeg", "-hide_banner", "-loglevel", "error", "-i", str(mp3), "-ac",
                          "1", "-ar", str(SAMPLE_RATE), "-f", "s16le", "-"],
                         capture_output=True, check=True).stdout  # fmt: skip
    levels = []
    for start, end in track["spans"]:
        part = pcm[start * SAMPLE_RATE // 1000 * 2 : end * SAMPLE_RATE // 1000 * 2]
        if len(part) > SAMPLE_RATE:  # the meter needs 0.4 s; short headings are left out
            levels.append(audio.measure(part))
    return levels, mp3.stat().st_size, track["duration_ms"]


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        rows = []
        for label, takes in (("all espeak-ng", False), ("every other sentence a take", True)):
            content = sample_copy(tmp / f"content-{takes}")
            note = ""
            if takes:
                count, took = record_every_other(content, Speaker(tmp / "studio-cache"))
                note = f" ({count} takes prepared by the studio beforehand in {took:.1f} s)"
            out = tmp / f"out-{takes}"
            out.mkdir()
            seconds = make_track(content, out, tmp / f"cache-{takes}")
            levels, size, ms = track_figures(out)
            rows.append((label, seconds, levels, size, ms, note))
        for label, seconds, levels, size, ms, note in rows:
            spread = max(levels) - min(levels)
            print(f"{label}: track made in {seconds:.1f} s{note}; sentence loudness "
                  f"{statistics.mean(levels):.1f} LUFS mean, spread {spread:.1f} LU "
                  f"(sd {statistics.pstdev(levels):.1f}) over {len(levels)} sentences; "
                  f"{ms / 1000:.0f} s of audio, MP3 {size / (ms / 60000) / 1024:.0f} KiB "
                  "per minute")  # fmt: skip


if __name__ == "__main__":
    main()
