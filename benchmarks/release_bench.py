"""Figures for releases: build time (cold and warm cache), audio rate, MP3 size, install/verify.

Run: ./dev bench   (or .venv/bin/python benchmarks/release_bench.py [--content DIR])
Prints one table; nothing here is asserted. Copy the figures into README.md.
"""

from __future__ import annotations

import argparse
import json
import platform
import re
import subprocess
import tempfile
import time
from pathlib import Path

from kiosk.content.build import build_release
from kiosk.device.install import ReleaseStore
from kiosk.formats.manifest import generate_key, verify_release
from kiosk.speech import Speaker

ROOT = Path(__file__).resolve().parent.parent


def lowpass_hz(speaker: Speaker, tmp: Path) -> str:
    """The top of the band lame keeps at our settings (telephone speech keeps 3,400 Hz)."""
    wav = tmp / "probe.raw"
    wav.write_bytes(b"\0\0" * 22050)
    out = subprocess.run(
        [speaker.lame, "-r", "-s", "22.05", "--bitwidth", "16", "--signed", "--little-endian",
         "-m", "m", "--abr", str(speaker.bitrate), "--verbose", str(wav), str(tmp / "p.mp3")],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    match = re.search(r"lowpass filter, transition band:\s*(\d+) Hz\s*-\s*(\d+) Hz", out.stderr)
    return f"{match.group(1)}-{match.group(2)} Hz" if match else "unknown"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--content", default=str(ROOT / "content"))
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        key = tmp / "key"
        public = generate_key(key)
        speaker = Speaker(tmp / "cache")

        t0 = time.perf_counter()
        cold = build_release(args.content, tmp / "cold", key, speaker, version=1)
        cold_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        said: list[str] = []
        build_release(args.content, tmp / "warm", key, speaker, version=2, progress=said.append)
        warm_s = time.perf_counter() - t0
        leaflets_line = next(line for line in said if line.startswith("leaflets:"))
        pdfs = sorted(p.stat().st_size for p in (tmp / "warm" / "leaflets").rglob("*.pdf"))

        guide_mp3 = list((tmp / "cold" / "audio" / "guides").rglob("*.mp3"))
        mp3_bytes = sum(p.stat().st_size for p in guide_mp3)
        guide_minutes = 0.0

        catalog = json.loads((tmp / "cold" / "catalog.json").read_text())
        for guide in catalog["guides"]:
            for text in guide["text"].values():
                guide_minutes += text["duration_ms"] / 60000

        t0 = time.perf_counter()
        verify_release(tmp / "cold", [public])
        verify_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        ReleaseStore(tmp / "data").install(tmp / "warm", [public])
        install_s = time.perf_counter() - t0

        rows = [
            ("machine", f"{platform.machine()}, {platform.python_version()}"),
            ("content", f"{cold.guides} guides x {cold.languages} languages"),
            ("audio rendered", f"{cold.audio_ms / 60000:.1f} min in {cold.tracks} tracks"),
            ("build, cold speech cache", f"{cold_s:.1f} s"),
            ("build, warm speech cache", f"{warm_s:.1f} s"),
            ("audio seconds rendered per second (cold)", f"{cold.audio_ms / 1000 / cold_s:.0f}"),
            ("MP3 bytes per minute of speech", f"{mp3_bytes / guide_minutes / 1000:.1f} KB"),
            ("MP3 speech band kept", lowpass_hz(speaker, tmp)),
            ("leaflets (warm build)", leaflets_line.removeprefix("leaflets: ")),
            (
                "leaflet size",
                f"{pdfs[0] / 1e3:.0f}-{pdfs[-1] / 1e3:.0f} KB, {sum(pdfs) / 1e6:.1f} MB in all",
            ),
            ("release size", f"{cold.bytes / 1e6:.1f} MB in {cold.files} files"),
            ("verify (signature + every sha256)", f"{verify_s:.2f} s"),
            ("install (verify, copy, fsync, switch)", f"{install_s:.2f} s"),
        ]
        width = max(len(name) for name, _ in rows)
        for name, value in rows:
            print(f"{name.ljust(width)}  {value}")


if __name__ == "__main__":
    main()
