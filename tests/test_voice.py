"""Live speech through one pyttsx3 worker (real espeak-ng): requests never overlap or mix."""

from __future__ import annotations

import threading
import time
import wave

import pytest

from kiosk.device.voice import LiveVoice


@pytest.fixture
def voice():
    live = LiveVoice()
    yield live
    live.close()


def seconds(path) -> float:
    with wave.open(str(path)) as w:
        return w.getnframes() / w.getframerate()


def test_requests_from_many_threads_each_get_their_own_complete_audio(voice, tmp_path):
    texts = {
        "short": ("नमस्ते।", "ne"),
        "long": ("مرحبا بكم في المكتبة. هنا معلومات عن الهجرة الآمنة. المس الشاشة للبدء.", "ar"),
        "middle": ("Bine ați venit. Atingeți ecranul.", "ro"),
    }
    threads = [
        threading.Thread(target=voice.save, args=(text, lang, tmp_path / f"{name}.wav"))
        for name, (text, lang) in texts.items()
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    lengths = {name: seconds(tmp_path / f"{name}.wav") for name in texts}
    # Each file holds its own text: the lengths follow the texts, not the order of requests.
    assert lengths["short"] < lengths["middle"] < lengths["long"]
    assert lengths["short"] > 0.3


def test_stop_drops_what_is_waiting(voice, tmp_path):
    first = voice.save("Hello.", "en", tmp_path / "first.wav")
    assert first.exists()
    paths = [tmp_path / f"dropped-{n}.wav" for n in range(5)]
    threads = [
        threading.Thread(target=voice.save, args=("A long text that nobody will hear. " * 5,
                                                  "en", path))
        for path in paths
    ]  # fmt: skip
    for t in threads:
        t.start()
    time.sleep(0.2)  # all five asked for; the worker is on the first at most
    voice.stop()
    for t in threads:
        t.join(timeout=120)
    # Each one dropped is never written (the worker may have finished one and begun the
    # next in those 0.2 s); without stop() all five would be.
    assert sum(p.exists() for p in paths) <= 2
