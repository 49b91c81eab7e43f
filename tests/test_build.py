"""Building releases from content: what the device receives, and that it is reproducible."""

from __future__ import annotations

import json
import re

from kiosk.content.build import build_release
from kiosk.formats.manifest import MANIFEST, SIGNATURE, verify_release
from kiosk.formats.search import search
from kiosk.speech import Speaker
from tests.conftest import FIXTURE_CONTENT, run_kiosk
from tests.test_speech import assert_sentences_have_their_own_sound, decode


def catalog(release):
    return json.loads((release / "catalog.json").read_text())


def test_release_is_signed_and_verifies(fixture_release, keypair):
    manifest = verify_release(fixture_release, [keypair[1]])
    assert manifest.version == 100
    listed = {f["path"] for f in manifest.files}
    on_disk = {
        p.relative_to(fixture_release).as_posix()
        for p in fixture_release.rglob("*")
        if p.is_file() and p.name not in (MANIFEST, SIGNATURE)
    }
    assert listed == on_disk


def test_catalog_has_every_guide_language_and_word(fixture_release):
    data = catalog(fixture_release)
    assert [lang["tag"] for lang in data["languages"]] == ["en", "ne", "ar", "ro"]
    assert next(lang for lang in data["languages"] if lang["tag"] == "ar")["dir"] == "rtl"
    assert [g["id"] for g in data["guides"]] == ["passport", "help-abroad"]  # by order
    passport = data["guides"][0]
    assert passport["steps"] == ["origin", "transit"]
    ne = passport["text"]["ne"]
    assert ne["title"] == "तपाईंको राहदानी"
    assert [s["id"] for s in ne["sections"]] == ["copies", "taken"]
    assert 'href="help-abroad#sec-embassy"' in ne["sections"][1]["html"]
    assert data["ui"]["ne"]["choose_language"] == "आफ्नो भाषा छान्नुहोस्"
    assert data["contacts"][1]["example"] is True


def test_language_without_voice_is_text_only_and_says_so(fixture_release):
    data = catalog(fixture_release)
    ro = next(lang for lang in data["languages"] if lang["tag"] == "ro")
    assert ro["speech"] is False
    assert data["guides"][0]["text"]["ro"]["audio"] is None
    assert data["ui_audio"]["ro"] == {}
    assert not (fixture_release / "audio" / "guides" / "passport" / "ro.mp3").exists()


def test_interface_words_are_spoken_except_those_with_placeholders(fixture_release):
    spoken = catalog(fixture_release)["ui_audio"]["ne"]
    assert {"choose_language", "listen", "step.origin", "language_name"} <= set(spoken)
    assert "search_results" not in spoken  # "{query}" cannot be recorded in advance
    for path in spoken.values():
        assert (fixture_release / path).stat().st_size > 500


def test_timings_match_the_numbered_sentences_in_the_html(fixture_release, tmp_path):
    data = catalog(fixture_release)
    for guide in data["guides"]:
        for tag in ("en", "ne", "ar"):
            text = guide["text"][tag]
            timings = json.loads((fixture_release / text["timings"]).read_text())
            html = (
                text["title_html"]
                + text["summary_html"]
                + "".join(s["heading_html"] + s["html"] for s in text["sections"])
            )
            numbers = sorted({int(n) for n in re.findall(r'data-s="(\d+)"', html)})
            assert numbers == list(range(len(timings["sentences"])))
            assert timings["duration_ms"] == text["duration_ms"]
            assert_sentences_have_their_own_sound(
                fixture_release / text["audio"],
                [(s["start"], s["end"]) for s in timings["sentences"]],
                tmp_path,
            )


def test_search_ignores_case_and_diacritics_in_every_language(fixture_release):
    db = fixture_release / "search.db"
    assert search(db, "PASAPORTUL", "ro")[0]["guide"] == "passport"  # ș folded
    assert search(db, "ambasada", "ro")[0]["section"] == "embassy"
    assert search(db, "COPIES", "en")[0]["section"] == "copies"
    assert search(db, "جَوَازِ", "ar")[0]["guide"] == "passport"  # vowel marks ignored
    assert search(db, "राहदानी", "ne")[0]["guide"] == "passport"
    assert search(db, "दूतावास", "ne")[0]["section"] == "embassy"
    hit = search(db, "photo", "en")[0]
    assert "\x02photos\x03" in hit["snippet"]  # prefix match, marked for highlighting
    assert search(db, "passport", "ne") == []  # only the visitor's language


def test_hostile_search_queries_are_harmless(fixture_release):
    db = fixture_release / "search.db"
    for query in ['"', "*", "NEAR(", "a OR b AND", "passport' --", "\0", "x" * 10_000, "(((", "^"]:
        assert isinstance(search(db, query, "en"), list)


def test_build_is_deterministic_apart_from_created_and_signature(tmp_path, keypair, speaker):
    a = tmp_path / "a"
    b = tmp_path / "b"
    build_release(FIXTURE_CONTENT, a, keypair[0], speaker, version=7)
    build_release(FIXTURE_CONTENT, b, keypair[0], Speaker(tmp_path / "cold-cache"), version=7)
    files_a = sorted(p.relative_to(a) for p in a.rglob("*") if p.is_file())
    assert files_a == sorted(p.relative_to(b) for p in b.rglob("*") if p.is_file())
    for rel in files_a:
        if rel.name in (MANIFEST, SIGNATURE):
            continue
        assert (a / rel).read_bytes() == (b / rel).read_bytes(), rel
    ma, mb = (json.loads((x / MANIFEST).read_text()) for x in (a, b))
    ma.pop("created"), mb.pop("created"), ma.pop("expires"), mb.pop("expires")
    assert ma == mb


def test_cli_build_shows_progress_and_a_summary(tmp_path, keypair, speech_cache):
    out = tmp_path / "rel"
    result = run_kiosk(
        "release", "build", str(FIXTURE_CONTENT), str(out), "--key", str(keypair[0]),
        "--cache", str(speech_cache), "--version", "3",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert re.search(r"\[6/6\] .* s of audio \(total \d+ s\)", result.stderr)
    assert "search index: 24 passages" in result.stderr
    assert "Built release 3" in result.stdout and "2 guides in 4 languages" in result.stdout
    again = run_kiosk("release", "build", str(FIXTURE_CONTENT), str(out), "--key", str(keypair[0]))
    assert again.returncode == 1 and "already exists" in again.stderr


def test_sample_release_speaks_every_sentence_of_real_nepali_and_arabic_guides(
    sample_release, keypair, tmp_path
):
    verify_release(sample_release, [keypair[1]])
    data = catalog(sample_release)
    assert len(data["guides"]) >= 8
    for guide in data["guides"]:
        assert set(guide["text"]) == {"en", "ne", "es", "ar", "ro"}
        for tag, text in guide["text"].items():
            assert text["audio"], f"{guide['id']}/{tag} has no audio"
    for guide_id in ("recruiters", "documents"):
        guide = next(g for g in data["guides"] if g["id"] == guide_id)
        for tag in ("ne", "ar"):
            timings = json.loads((sample_release / guide["text"][tag]["timings"]).read_text())
            assert len(timings["sentences"]) > 20
            assert_sentences_have_their_own_sound(
                sample_release / guide["text"][tag]["audio"],
                [(s["start"], s["end"]) for s in timings["sentences"]],
                tmp_path,
            )


def test_human_recordings_replace_synthetic_speech(tmp_path, keypair, speaker):
    import array
    import math

    from kiosk.speech import SAMPLE_RATE, pcm_to_wav
    from tests.conftest import copy_content

    root = copy_content(tmp_path / "c")
    tone = array.array("h", (int(9000 * math.sin(i / 6)) for i in range(SAMPLE_RATE * 4)))
    (root / "guides/passport/audio/en").mkdir(parents=True)
    pcm_to_wav(tone.tobytes(), root / "guides/passport/audio/en/copies.wav")
    (root / "ui/audio/ne").mkdir(parents=True)
    pcm_to_wav(tone[:SAMPLE_RATE].tobytes(), root / "ui/audio/ne/listen.wav")
    out = tmp_path / "rel"
    build_release(root, out, keypair[0], speaker, version=5)

    text = catalog(out)["guides"][0]["text"]["en"]
    assert text["recorded"] == ["copies"]
    timings = json.loads((out / text["timings"]).read_text())["sentences"]
    copies = [s for s in timings if s["section"] == "copies"]
    assert copies[-1]["end"] - copies[0]["start"] == 4000  # exactly the recording's length
    assert catalog(out)["guides"][0]["text"]["ne"]["recorded"] == []
    rate, samples = decode(out / catalog(out)["ui_audio"]["ne"]["listen"], tmp_path)
    assert abs(len(samples) / rate - 1.0) < 0.1  # the one-second recording, not espeak's word


def test_recording_for_an_unknown_section_is_an_error(tmp_path):
    import pytest

    from kiosk.content.source import load_content
    from kiosk.errors import ContentInvalid
    from tests.conftest import copy_content

    root = copy_content(tmp_path / "c")
    (root / "guides/passport/audio/ne").mkdir(parents=True)
    (root / "guides/passport/audio/ne/nowhere.wav").write_bytes(b"RIFF")
    with pytest.raises(ContentInvalid, match="no section id called 'nowhere'"):
        load_content(root)
