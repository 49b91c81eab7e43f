"""The recording studio and the tracks that mix people's takes with espeak-ng.

Takes here are espeak-ng's own voice (a stand-in for a person), fed to the studio as files
and, in the browser test, through Chromium's fake microphone.
"""

from __future__ import annotations

import array
import json
import math
import re
import shutil
import subprocess
import sys
import wave
from pathlib import Path

import pytest

from kiosk import audio
from kiosk.content import recordings
from kiosk.content.build import build_release, render_guide
from kiosk.content.source import load_content
from kiosk.content.studio import create_studio
from kiosk.speech import SAMPLE_RATE
from tests.conftest import copy_content, free_port, reading_wav, wait_until_listening
from tests.test_speech import assert_sentences_have_their_own_sound, decode

LOCAL = {"REMOTE_ADDR": "127.0.0.1"}
GUIDE = "passport"


def voice_wav(path: Path, text: str, voice: str = "en-us+f3", pad_s: float = 1.0) -> Path:
    """A 'person' reading, a little slower than the kiosk's own voice."""
    return reading_wav(path, text, voice, pad_s, speed=140)


def audio_wav(data: bytes):
    from kiosk.speech import wav_samples

    return wav_samples(data)


def flac_pcm(path: Path) -> bytes:
    return subprocess.run(["ffmpeg", "-hide_banner", "-loglevel", "error", "-i", str(path),
                           "-ac", "1", "-ar", str(SAMPLE_RATE), "-f", "s16le", "-"],
                          capture_output=True, check=True).stdout  # fmt: skip


@pytest.fixture
def studio(tmp_path, speaker):
    root = copy_content(tmp_path / "content")
    return root, create_studio(root, speaker).test_client()


def spoken(root: Path, lang: str = "en"):
    guide = next(g for g in load_content(root).guides if g.id == GUIDE)
    _, said = render_guide(guide, lang)
    return recordings.sentences(root / "guides" / GUIDE, lang, said)


def send(client, i: int, data: bytes, lang: str = "en", **kw):
    return client.post(f"/{lang}/{GUIDE}/{i}", data=data, environ_base=LOCAL,
                       headers={"Accept": "application/json", "Content-Type": "audio/wav"},
                       **kw)  # fmt: skip


def test_a_take_is_trimmed_levelled_and_kept_beside_its_sentence(studio, tmp_path):
    root, client = studio
    sentence = spoken(root)[2]
    wav = voice_wav(tmp_path / "take.wav", sentence.text)
    answer = send(client, 2, wav.read_bytes())
    assert answer.status_code == 200, answer.get_json()
    figures = answer.get_json()
    kept = root / "guides" / GUIDE / "recordings" / "en" / f"{sentence.hash}.flac"
    assert kept.is_file() and kept.read_bytes()[:4] == b"fLaC"
    assert (
        kept.with_suffix(".txt").read_text()
        == f"{sentence.section} {sentence.n}\n{sentence.text}\n"
    )
    pcm = flac_pcm(kept)
    seconds = len(pcm) / 2 / SAMPLE_RATE
    alone = voice_wav(tmp_path / "alone.wav", sentence.text, pad_s=0)
    with wave.open(str(alone)) as w:
        speech = len(audio.trim(w.readframes(w.getnframes()))) / 2 / w.getframerate()
    # The second of silence before and after is gone; at most 0.1 s of it is kept each side.
    assert speech - 0.02 <= seconds <= speech + 0.22
    assert abs(audio.measure(pcm) - audio.TARGET_LUFS) <= 1.0
    assert abs(figures["seconds"] - seconds) < 0.05 and figures["warnings"] == []
    assert spoken(root)[2].recording == kept


@pytest.mark.parametrize(
    ("make", "words", "code"),
    [
        (lambda tmp: b"", "empty", 400),
        (lambda tmp: b"this is not audio at all" * 100, "not a recording", 400),
        (lambda tmp: b"\0" * 44 + b"RIFF", "not a recording", 400),
        (lambda tmp: _tone(tmp, seconds=65), "over 60 seconds", 400),
        (lambda tmp: _tone(tmp, seconds=2, amplitude=0), "silent", 400),
    ],
    ids=["empty", "text", "garbage", "too long", "silence"],
)
def test_bad_takes_get_a_clear_message_and_change_nothing(studio, tmp_path, make, words, code):
    root, client = studio
    answer = send(client, 0, make(tmp_path))
    assert answer.status_code == code
    assert words in answer.get_json()["problem"]
    assert not (root / "guides" / GUIDE / "recordings").exists()


def test_a_take_for_a_sentence_that_does_not_exist_changes_nothing(studio, tmp_path):
    root, client = studio
    wav = voice_wav(tmp_path / "t.wav", "Hello.").read_bytes()
    assert send(client, 999, wav).status_code == 404
    assert client.post(f"/xx/{GUIDE}/0", data=wav, environ_base=LOCAL).status_code == 404
    assert client.post("/en/nope/0", data=wav, environ_base=LOCAL).status_code == 404
    assert not (root / "guides" / GUIDE / "recordings").exists()


def test_the_studio_answers_this_computer_only(studio, tmp_path):
    root, client = studio
    assert client.get("/", environ_base={"REMOTE_ADDR": "10.42.0.9"}).status_code == 403
    # A name on the internet that points here (DNS rebinding) is refused too.
    assert client.get("/", environ_base=LOCAL, headers={"Host": "evil.example"}).status_code == 403
    wav = voice_wav(tmp_path / "t.wav", spoken(root)[0].text).read_bytes()
    cross = client.post(f"/en/{GUIDE}/0", data=wav, environ_base=LOCAL,
                        headers={"Origin": "http://evil.example"})  # fmt: skip
    assert cross.status_code == 403
    assert not (root / "guides" / GUIDE / "recordings").exists()
    assert client.get("/", environ_base=LOCAL).status_code == 200


def test_progress_shows_recorded_and_changed_sentences(studio, tmp_path):
    root, client = studio
    first = spoken(root)[1]
    send(client, 1, voice_wav(tmp_path / "a.wav", first.text).read_bytes())
    page = client.get("/", environ_base=LOCAL).get_data(as_text=True)
    total = len(spoken(root))
    assert f"1 of {total} recorded" in page
    en = root / "guides" / GUIDE / "en.md"
    en.write_text(en.read_text().replace(first.text.rstrip("."), first.text.rstrip(".") + " now"))
    again = spoken(root)
    assert again[1].stale and again[1].recording is None
    page = client.get("/", environ_base=LOCAL).get_data(as_text=True)
    assert f"0 of {total} recorded" in page and "1 changed since recorded" in page
    one = client.get(f"/en/{GUIDE}?i=1", environ_base=LOCAL).get_data(as_text=True)
    assert "The text changed since this sentence was recorded" in one


def test_a_track_mixes_takes_with_espeak_at_one_loudness_and_exact_timings(
    studio, tmp_path, keypair, speaker
):
    root, client = studio
    said = spoken(root)
    chosen = [1, 3]
    for i in chosen:
        answer = send(client, i, voice_wav(tmp_path / f"{i}.wav", said[i].text).read_bytes())
        assert answer.status_code == 200
    out = tmp_path / "release"
    build_release(root, out, keypair[0], speaker, version=11)
    catalog = json.loads((out / "catalog.json").read_text())
    text = next(g for g in catalog["guides"] if g["id"] == GUIDE)["text"]["en"]
    timings = json.loads((out / text["timings"]).read_text())["sentences"]
    spans = [(s["start"], s["end"]) for s in timings]
    assert [s["text"] for s in timings] == [s.text for s in said]
    assert_sentences_have_their_own_sound(out / text["audio"], spans, tmp_path)
    rate, decoded = decode(out / text["audio"], tmp_path)
    for i in chosen:
        take = array.array("h", flac_pcm(spoken(root)[i].recording))
        start, end = spans[i]
        assert abs((end - start) - len(take) * 1000 // SAMPLE_RATE) <= 20
        assert abs(_lag_ms(decoded, rate, take, start)) <= 20, f"sentence {i} is not where said"
    # One loudness: each take within 2 LU of the synthetic sentences around it.
    synthetic = _cut(decoded, rate, [spans[i] for i in range(len(spans)) if i not in chosen])
    human = _cut(decoded, rate, [spans[i] for i in chosen])
    assert abs(audio.measure(human) - audio.measure(synthetic)) <= 2.0


def test_a_take_of_changed_text_is_never_played(studio, tmp_path, keypair, speaker):
    root, client = studio
    said = spoken(root)
    i = next(s.index for s in said if " two " in s.text)
    send(client, i, voice_wav(tmp_path / "a.wav", said[i].text).read_bytes())
    en = root / "guides" / GUIDE / "en.md"
    en.write_text(en.read_text().replace(said[i].text, said[i].text.replace("two", "three")))
    out = tmp_path / "release"
    result = build_release(root, out, keypair[0], speaker, version=12)
    assert any("reads text that has changed" in str(w) for w in result.warnings)
    catalog = json.loads((out / "catalog.json").read_text())
    text = next(g for g in catalog["guides"] if g["id"] == GUIDE)["text"]["en"]
    sentence = json.loads((out / text["timings"]).read_text())["sentences"][i]
    assert "three" in sentence["text"]
    espeak_ms = len(speaker.pcm(sentence["text"], "en")) * 1000 // 2 // SAMPLE_RATE
    assert abs((sentence["end"] - sentence["start"]) - espeak_ms) <= 1  # espeak-ng's, exactly


def test_record_and_re_record_in_chromium_with_its_fake_microphone(tmp_path, speaker):
    from playwright.sync_api import sync_playwright

    root = copy_content(tmp_path / "content")
    said = spoken(root)
    mic = voice_wav(tmp_path / "mic.wav", said[0].text, pad_s=0.3)
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "kiosk.cli", "studio", str(root), "--port", str(port),
         "--no-browser"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
    )  # fmt: skip
    try:
        wait_until_listening(port, proc, lambda: proc.stdout.read().decode(), timeout=20)
        with sync_playwright() as p:
            browser = p.chromium.launch(
                executable_path=shutil.which("chromium") or "/usr/bin/chromium",
                args=["--no-sandbox", "--use-fake-ui-for-media-stream",
                      "--use-fake-device-for-media-stream",
                      f"--use-file-for-fake-audio-capture={mic}"],
            )  # fmt: skip
            page = browser.new_page()
            base = f"http://127.0.0.1:{port}"
            for i in (0, 1, 2, 1):  # three sentences, the second one twice
                page.goto(f"{base}/en/{GUIDE}?i={i}")
                page.keyboard.press("Space")
                page.wait_for_selector("#record.on")
                page.wait_for_timeout(2500)
                with page.expect_navigation():
                    page.keyboard.press("Space")
                page.wait_for_selector("audio#take")
                assert "Saved" in page.inner_text("#status")
            browser.close()
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        proc.stdout.close()
    now = spoken(root)
    assert [s.recording is not None for s in now[:4]] == [True, True, True, False]
    files = sorted((root / "guides" / GUIDE / "recordings" / "en").glob("*.flac"))
    assert len(files) == 3  # the second take of sentence 1 replaced the first
    for sentence in now[:3]:
        pcm = flac_pcm(sentence.recording)
        assert 0.5 < len(pcm) / 2 / SAMPLE_RATE < 3.5
        assert abs(audio.measure(pcm) - audio.TARGET_LUFS) <= 1.0


def _tone(tmp: Path, seconds: float, amplitude: int = 8000) -> bytes:
    path = tmp / f"tone-{seconds}-{amplitude}.wav"
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(SAMPLE_RATE)
        n = int(seconds * SAMPLE_RATE)
        w.writeframes(
            array.array("h", (int(amplitude * math.sin(k / 10)) for k in range(n))).tobytes()
        )
    return path.read_bytes()


def _envelope(samples, rate: int, start_ms: int, frames: int) -> list[float]:
    step = rate // 200  # 5 ms
    first = start_ms * rate // 1000
    out = []
    for f in range(frames):
        part = samples[first + f * step : first + (f + 1) * step]
        out.append(math.sqrt(sum(s * s for s in part) / max(1, len(part))))
    return out


def _lag_ms(decoded, rate: int, take, start_ms: int) -> int:
    """Where the take's sound best lines up with the track near ``start_ms`` (5 ms steps)."""
    frames = min(300, len(take) * 200 // SAMPLE_RATE)
    want = _envelope(take, SAMPLE_RATE, 0, frames)
    best, best_lag = -1.0, 0
    for lag in range(-20, 21):  # ±100 ms
        got = _envelope(decoded, rate, start_ms + lag * 5, frames)
        score = sum(a * b for a, b in zip(want, got, strict=True)) / (
            math.sqrt(sum(a * a for a in want) * sum(b * b for b in got)) or 1
        )
        if score > best:
            best, best_lag = score, lag
    return best_lag * 5


def _cut(samples, rate: int, spans) -> bytes:
    out = array.array("h")
    for start, end in spans:
        out.extend(samples[start * rate // 1000 : end * rate // 1000])
    return out.tobytes() if rate == SAMPLE_RATE else _resample(out, rate)


def _resample(samples, rate: int) -> bytes:
    return subprocess.run(["ffmpeg", "-hide_banner", "-loglevel", "error", "-f", "s16le",
                           "-ar", str(rate), "-ac", "1", "-i", "-", "-ar", str(SAMPLE_RATE),
                           "-f", "s16le", "-"], input=samples.tobytes(), capture_output=True,
                          check=True).stdout  # fmt: skip


@pytest.mark.parametrize("voice", ["en", "ne", "ar"])
def test_loudness_is_measured_as_ffmpegs_r128_meter_measures_it(tmp_path, voice):
    """audio.measure is BS.1770-4 in Python (the kiosk has no ffmpeg); it must agree."""
    text = {"en": "Make two copies of your passport.", "ne": "आफ्नो राहदानीको दुई प्रतिलिपि बनाउनुहोस्।",
            "ar": "اصنع نسختين من جواز سفرك."}[voice]  # fmt: skip
    raw = subprocess.run(["espeak-ng", "-v", voice, "--stdout", text], capture_output=True,
                         check=True).stdout  # fmt: skip
    _, _, pcm = audio_wav(raw)
    for db in (0, -9):
        quieter = audio.gain(pcm, db)
        meter_cmd = [
            "ffmpeg",
            "-hide_banner",
            "-nostats",
            "-f",
            "s16le",
            "-ar",
            str(SAMPLE_RATE),
            "-ac",
            "1",
            "-i",
            "-",
            "-af",
            "ebur128",
            "-f",
            "null",
            "-",
        ]
        out = subprocess.run(meter_cmd, input=quieter, capture_output=True, check=True)
        summary = out.stderr.decode()[out.stderr.decode().rfind("Summary:") :]
        meter = float(summary.split("I:")[1].split("LUFS")[0])
        assert abs(audio.measure(quieter) - meter) <= 0.2


def test_interface_words_are_recorded_the_same_way_and_a_changed_word_is_not_played(
    studio, tmp_path
):
    root, client = studio
    page = client.get(f"/ne/{recordings.WORDS}", environ_base=LOCAL).get_data(as_text=True)
    assert recordings.ui_words(root, "ne", {}) == []  # nothing listed for an empty table
    assert 'lang="ne"' in page
    listed = re.findall(r'<p class="sentence" id="sentence">([^<]+)</p>', page)
    assert listed  # one word at a time, in Nepali
    index = client.get("/", environ_base=LOCAL).get_data(as_text=True)
    assert "Interface words" in index
    loaded = load_content(root)
    keys = sorted(k for k, v in loaded.ui["ne"].items()
                  if not k.startswith("admin.") and "{" not in v)  # fmt: skip
    i = keys.index("help")
    wav = voice_wav(tmp_path / "help.wav", loaded.ui["ne"]["help"], voice="ne")
    answer = client.post(f"/ne/{recordings.WORDS}/{i}", data=wav.read_bytes(), environ_base=LOCAL,
                         headers={"Accept": "application/json"})  # fmt: skip
    assert answer.status_code == 200, answer.get_json()
    kept = root / "ui" / "audio" / "ne" / "help.flac"
    assert (
        kept.is_file() and kept.with_suffix(".txt").read_text().strip() == loaded.ui["ne"]["help"]
    )
    assert load_content(root).ui_recordings[("ne", "help")] == kept
    ui = root / "ui" / "ne.toml"
    ui.write_text(ui.read_text().replace(loaded.ui["ne"]["help"], "मद्दत"))
    again = load_content(root)
    assert ("ne", "help") not in again.ui_recordings
    assert any("help has changed since it was recorded" in str(w) for w in again.warnings)
