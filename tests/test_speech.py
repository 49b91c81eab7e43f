"""Real espeak-ng and lame: each sentence gets its own stretch of audible sound."""

from __future__ import annotations

import array
import itertools
import math
import shutil
import subprocess
import wave
from pathlib import Path

import pytest

from kiosk.errors import ToolMissing
from kiosk.speech import SAMPLE_RATE, Segment, Speaker, pcm_to_wav


def decode(mp3: Path, tmp: Path) -> tuple[int, array.array]:
    """Decode an MP3 with lame into (sample rate, 16-bit mono samples)."""
    wav = tmp / (mp3.stem + ".wav")
    subprocess.run(["lame", "--quiet", "--decode", str(mp3), str(wav)], check=True)
    with wave.open(str(wav)) as w:
        assert w.getnchannels() == 1
        return w.getframerate(), array.array("h", w.readframes(w.getnframes()))


def rms(audio: tuple[int, array.array], start_ms: int, end_ms: int) -> float:
    rate, samples = audio
    part = samples[start_ms * rate // 1000 : end_ms * rate // 1000]
    return math.sqrt(sum(s * s for s in part) / max(1, len(part)))


def assert_sentences_have_their_own_sound(mp3: Path, spans, tmp: Path) -> None:
    samples = decode(mp3, tmp)
    duration_ms = len(samples[1]) * 1000 // samples[0]
    previous_end = -1
    for n, (start, end) in enumerate(spans):
        assert start > previous_end or n == 0, f"sentence {n} overlaps the one before"
        assert end - start >= 200, f"sentence {n} is only {end - start} ms"
        assert end <= duration_ms + 60
        assert rms(samples, start, end) > 300, f"sentence {n} is silent"
        previous_end = end
    for n, ((_, end), (start, _)) in enumerate(itertools.pairwise(spans)):
        middle = (end + start) // 2
        quiet = rms(samples, middle - 40, middle + 40)
        assert quiet < 150, f"no pause between sentences {n} and {n + 1} ({quiet:.0f})"


def test_each_sentence_gets_its_own_span_nepali_and_arabic(speaker, tmp_path):
    nepali = (
        "आफ्नो राहदानीको दुई प्रतिलिपि बनाउनुहोस्।",
        "एउटा प्रतिलिपि परिवारसँग छोड्नुहोस्।",
        "के तपाईंसँग लिखित सम्झौता छ?",
    )
    arabic = ("اصنع نسختين من جواز سفرك.", "اترك نسخة مع عائلتك.", "هل لديك عقد مكتوب؟")
    for voice, sentences in (("ne", nepali), ("ar", arabic)):
        out = tmp_path / f"{voice}.mp3"
        track = speaker.render([Segment(sentences[:1]), Segment(sentences[1:])], voice, out)
        assert len(track.spans) == 3
        assert_sentences_have_their_own_sound(out, track.spans, tmp_path)


def test_unchanged_text_is_not_spoken_again(tmp_path):
    speaker = Speaker(tmp_path / "cache")
    first = speaker.render([Segment(("Keep your passport.",))], "en", tmp_path / "a.mp3")
    speaker.espeak = "/bin/false"  # any new synthesis would now fail
    speaker.lame = "/bin/false"
    again = speaker.render([Segment(("Keep your passport.",))], "en", tmp_path / "b.mp3")
    assert again == first
    assert (tmp_path / "a.mp3").read_bytes() == (tmp_path / "b.mp3").read_bytes()
    with pytest.raises(Exception, match="espeak-ng could not speak"):
        speaker.render([Segment(("New words.",))], "en", tmp_path / "c.mp3")


def test_changed_speech_settings_do_not_reuse_audio(tmp_path):
    slow = Speaker(tmp_path / "cache", rate=100)
    fast = Speaker(tmp_path / "cache", rate=250)
    a = slow.render([Segment(("The same words, said slowly.",))], "en", tmp_path / "a.mp3")
    b = fast.render([Segment(("The same words, said slowly.",))], "en", tmp_path / "b.mp3")
    assert a.duration_ms > b.duration_ms * 1.5


def test_human_recording_takes_the_place_of_synthetic_speech(speaker, tmp_path):
    tone = array.array("h", (int(8000 * math.sin(i / 8)) for i in range(SAMPLE_RATE * 3)))
    recording = tmp_path / "intro.wav"
    pcm_to_wav(tone.tobytes(), recording)
    track = speaker.render(
        [Segment(("Short one.", "A much longer second sentence."), recording)],
        None,
        tmp_path / "out.mp3",
    )
    assert track.duration_ms == 3000
    (a0, a1), (b0, b1) = track.spans
    assert a0 == 0 and b1 == 3000 and a1 == b0
    assert (b1 - b0) > 2 * (a1 - a0)  # shared by length: the longer sentence gets more time


def test_missing_espeak_is_a_clear_error(monkeypatch, tmp_path):
    monkeypatch.setattr(shutil, "which", lambda tool: None)
    with pytest.raises(ToolMissing, match="apt-get install espeak-ng"):
        Speaker(tmp_path)


def test_mp3_stays_under_180_kb_per_minute(speaker, tmp_path):
    sentences = tuple(
        f"This is sentence number {n} of a longer talk about safe work." for n in range(12)
    )
    out = tmp_path / "long.mp3"
    track = speaker.render([Segment(sentences)], "en", out)
    per_minute = out.stat().st_size / (track.duration_ms / 60000)
    assert per_minute <= 180_000, per_minute
