"""Shared fixtures: keys, the small fixture content, and releases built once per run."""

from __future__ import annotations

import datetime as dt
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from kiosk.content.build import build_release
from kiosk.formats.manifest import PublicKey, generate_key, load_private_key, write_manifest
from kiosk.speech import Speaker

ROOT = Path(__file__).resolve().parent.parent
FIXTURE_CONTENT = ROOT / "tests" / "fixtures" / "content"
SAMPLE_CONTENT = ROOT / "content"
KIOSK = [sys.executable, "-m", "kiosk.cli"]


def run_kiosk(*args: str, env: dict | None = None, **kw) -> subprocess.CompletedProcess:
    """Run the real ``kiosk`` command line in a subprocess."""
    full_env = {**os.environ, **(env or {})}
    return subprocess.run(
        [*KIOSK, *args], capture_output=True, text=True, env=full_env, check=False, **kw
    )


@pytest.fixture(scope="session")
def keypair(tmp_path_factory) -> tuple[Path, PublicKey]:
    path = tmp_path_factory.mktemp("keys") / "signing-key"
    return path, generate_key(path)


@pytest.fixture(scope="session")
def other_keypair(tmp_path_factory) -> tuple[Path, PublicKey]:
    path = tmp_path_factory.mktemp("other-keys") / "signing-key"
    return path, generate_key(path)


@pytest.fixture(scope="session")
def speech_cache(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("speech-cache")


@pytest.fixture(scope="session")
def speaker(speech_cache) -> Speaker:
    return Speaker(speech_cache)


@pytest.fixture(scope="session")
def fixture_release(tmp_path_factory, keypair, speaker) -> Path:
    """The small fixture content built into a signed release, once per run."""
    out = tmp_path_factory.mktemp("fixture-release") / "release"
    build_release(FIXTURE_CONTENT, out, keypair[0], speaker, version=100)
    return out


@pytest.fixture(scope="session")
def sample_release(tmp_path_factory, keypair) -> Path:
    """The full sample content in every language, built once per run with a cold cache."""
    out = tmp_path_factory.mktemp("sample-release") / "release"
    cache = tmp_path_factory.mktemp("sample-speech-cache")
    build_release(SAMPLE_CONTENT, out, keypair[0], Speaker(cache), version=1000)
    return out


def make_release(
    root: Path,
    key_path: Path,
    version: int,
    files: dict[str, bytes] | None = None,
    expires: dt.datetime | None = None,
) -> Path:
    """A small signed release with the given files (no audio), for install tests."""
    root.mkdir(parents=True, exist_ok=True)
    files = files if files is not None else {"catalog.json": b"{}\n", "audio/a.mp3": b"x" * 100}
    for rel, data in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_bytes(data)
    now = dt.datetime.now(dt.UTC)
    write_manifest(
        root, version, now, expires or now + dt.timedelta(days=30), load_private_key(key_path)
    )
    return root


def copy_content(dst: Path) -> Path:
    """A writable copy of the fixture content, for tests that break it on purpose."""
    shutil.copytree(FIXTURE_CONTENT, dst)
    return dst


def partial_content(dst: Path) -> Path:
    """The fixture content with Urdu added part-way (tests/fixtures/partial/README.md)."""
    copy_content(dst)
    overlay = ROOT / "tests" / "fixtures" / "partial"
    shutil.copytree(overlay / "guides", dst / "guides", dirs_exist_ok=True)
    shutil.copytree(overlay / "ui", dst / "ui", dirs_exist_ok=True)
    languages = dst / "languages.toml"
    languages.write_text(languages.read_text() + "\n" + (overlay / "language.toml").read_text())
    return dst


@pytest.fixture(scope="session")
def device_dir(tmp_path_factory, fixture_release, keypair) -> Path:
    """A device data folder with the fixture release installed (shared: do not modify)."""
    from kiosk.device.install import ReleaseStore

    data = tmp_path_factory.mktemp("device")
    ReleaseStore(data).install(fixture_release, [keypair[1]])
    return data


def device_settings(data_dir: Path, key_pub: Path, **extra):
    from kiosk.config import load_settings

    return load_settings(environ={}, data_dir=str(data_dir), trusted_keys=[str(key_pub)], **extra)


@pytest.fixture
def usage(tmp_path):
    from kiosk.device.usage import Usage

    usage = Usage(tmp_path / "usage.db", start=False)
    yield usage
    usage.close()


@pytest.fixture
def app(device_dir, keypair, usage):
    from kiosk.device.web import create_app

    return create_app(device_settings(device_dir, Path(f"{keypair[0]}.pub")), usage=usage)


@pytest.fixture
def client(app):
    return app.test_client()


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until_listening(port: int, proc: subprocess.Popen, failure, timeout: float = 10) -> None:
    """Wait until something accepts on 127.0.0.1:``port``; raise ``failure()``'s text if the
    process ends first or nothing listens within ``timeout`` seconds."""
    import socket
    import time

    deadline = time.monotonic() + timeout
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            if time.monotonic() > deadline or proc.poll() is not None:
                raise RuntimeError(failure()) from None
            time.sleep(0.05)


class Server:
    """A real ``kiosk serve`` (waitress) in a subprocess."""

    def __init__(self, data_dir: Path, key_pub: Path, *args: str, **env: str) -> None:
        import time
        import urllib.request

        self.data_dir = data_dir
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        full_env = {
            **os.environ,
            "KIOSK_DATA_DIR": str(data_dir),
            "KIOSK_TRUSTED_KEYS": str(key_pub),
            **env,
        }
        self.proc = subprocess.Popen(
            [*KIOSK, "serve", "--port", str(self.port), *args],
            env=full_env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + 20
        while True:
            try:
                with urllib.request.urlopen(self.url + "/", timeout=2):  # noqa: S310 - http only
                    break
            except OSError:
                if time.monotonic() > deadline or self.proc.poll() is not None:
                    self.stop()
                    raise RuntimeError(f"kiosk serve did not start: {self.output}") from None
                time.sleep(0.1)

    def stop(self) -> None:
        if hasattr(self, "output"):
            return
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.output = self.proc.stdout.read().decode(errors="replace") if self.proc.stdout else ""
        if self.proc.stdout:
            self.proc.stdout.close()


@pytest.fixture(scope="session")
def sample_device(tmp_path_factory, sample_release, keypair) -> Path:
    from kiosk.device.install import ReleaseStore

    data = tmp_path_factory.mktemp("sample-device")
    ReleaseStore(data).install(sample_release, [keypair[1]])
    return data


@pytest.fixture(scope="session")
def sample_server(sample_device, keypair):
    server = Server(sample_device, Path(f"{keypair[0]}.pub"))
    yield server
    server.stop()


def qr_codes(html: str) -> list[str]:
    """What a phone's camera reads from each QR code drawn inline in ``html``: its path drawn
    into a bitmap here, then decoded by zbar (zbar-tools), as a scanner app would."""
    import re

    found = []
    for svg in re.findall(r"<svg[^>]*class=\"segno\".*?</svg>", html, re.S):
        box = int(re.search(r'viewBox="0 0 (\d+) \d+"', svg)[1])
        scale = int(re.search(r'transform="scale\((\d+)\)"', svg)[1])
        size = box // scale
        grid = [[0] * size for _ in range(size)]
        x = y = 0.0
        for op, a, b in re.findall(r"([Mmh])(-?[\d.]+)(?: (-?[\d.]+))?", re.search(
                r' d="([^"]+)"', svg)[1]):  # fmt: skip
            if op == "M":
                x, y = float(a), float(b)
            elif op == "m":
                x, y = x + float(a), y + float(b)
            else:  # h: a run of dark modules on this row
                for col in range(int(x), int(x + float(a))):
                    grid[int(y)][col] = 1
                x += float(a)
        pad, zoom = 4, 6  # a wide quiet zone round it, as on a screen
        grid = (
            [[0] * (size + 2 * pad)] * pad
            + [[0] * pad + row + [0] * pad for row in grid]
            + [[0] * (size + 2 * pad)] * pad
        )
        rows = ["".join(str(v) * zoom for v in row) for row in grid for _ in range(zoom)]
        side = (size + 2 * pad) * zoom
        pbm = f"P1\n{side} {side}\n" + "\n".join(rows) + "\n"
        out = subprocess.run(["zbarimg", "--raw", "-q", "pbm:-"], input=pbm.encode(),
                             capture_output=True, check=True)  # fmt: skip
        found.append(out.stdout.decode().strip())
    return found


def reading_wav(
    path: Path, text: str, voice: str = "en-us+f3", pad_s: float = 1.0, speed: int | None = None
) -> Path:
    """A 'person' reading ``text`` (espeak-ng's other voice stands in), with ``pad_s`` seconds
    of silence before and after, as a WAV file at ``path``: what a microphone would send."""
    import wave

    from kiosk.speech import wav_samples

    rate_args = ["-s", str(speed)] if speed else []
    spoken = subprocess.run(["espeak-ng", "-v", voice, *rate_args, "--stdout", text],
                            capture_output=True, check=True).stdout  # fmt: skip
    rate, _, pcm = wav_samples(spoken)
    quiet = b"\0\0" * int(rate * pad_s)
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(quiet + pcm + quiet)
    return path
