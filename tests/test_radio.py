"""The radio pack: each guide's track at broadcast loudness, measured by ffmpeg itself, and
a script with the words the track speaks. Real ffmpeg, real signed releases."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from click.testing import CliRunner

from kiosk.cli import main
from kiosk.content.radio import find_release, radio_pack
from kiosk.errors import KioskError, ReleaseNotFound, ReleaseRejected, ToolMissing


@pytest.fixture(scope="module")
def pack(tmp_path_factory, fixture_release, keypair):
    out = tmp_path_factory.mktemp("radio") / "pack"
    return radio_pack(fixture_release, out, [keypair[1]])


def catalog(release: Path) -> dict:
    return json.loads((release / "catalog.json").read_text(encoding="utf-8"))


def ebur128(path: Path) -> tuple[float, float]:
    """Integrated loudness and true peak, read from the summary ffmpeg's ebur128 prints."""
    out = subprocess.run(
        ["ffmpeg", "-hide_banner", "-nostdin", "-nostats", "-i", str(path),
         "-af", "ebur128=peak=true:framelog=verbose", "-f", "null", "-"],
        capture_output=True, text=True, check=True,
    ).stderr  # fmt: skip
    summary = out[out.rindex("Summary:") :]
    loudness = re.search(r"Integrated loudness:\s+I:\s+(\S+) LUFS", summary)[1]
    peak = re.search(r"True peak:\s+Peak:\s+(\S+) dBFS", summary)[1]
    return float(loudness), float(peak)


def seconds(path: Path) -> float:
    out = subprocess.run(
        ["ffprobe", "-v", "error", "-show_entries", "format=duration", "-of", "csv=p=0",
         str(path)],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    return float(out.stdout)


def tracks(pack_dir: Path, release: Path) -> list[tuple[Path, Path]]:
    """(track in the pack, its source in the release) for every guide that has audio."""
    pairs = []
    for lang in catalog(release)["languages"]:
        for n, guide in enumerate(catalog(release)["guides"], 1):
            audio = guide["text"][lang["tag"]]["audio"]
            if audio:
                pairs.append(
                    (pack_dir / lang["tag"] / f"{n:02d}-{guide['id']}.mp3", release / audio)
                )
    return pairs


def test_every_track_is_at_broadcast_loudness(pack, fixture_release):
    pairs = tracks(pack.out, fixture_release)
    assert len(pairs) == pack.tracks == 6
    for track, _source in pairs:
        loudness, peak = ebur128(track)
        assert abs(loudness - -23) <= 1, f"{track}: {loudness} LUFS"
        assert peak <= -1, f"{track}: true peak {peak} dBTP"


def test_tracks_keep_their_length(pack, fixture_release):
    for track, source in tracks(pack.out, fixture_release):
        assert seconds(track) == pytest.approx(seconds(source), rel=0.02), track


def test_script_has_the_title_then_every_heading_in_order_and_no_html(pack, fixture_release):
    for lang in ("en", "ne", "ar", "ro"):
        script = (pack.out / lang / "script.txt").read_text(encoding="utf-8")
        assert not re.search(r"<[a-z/][^>]*>", script), lang
        at = 0
        for guide in catalog(fixture_release)["guides"]:
            text = guide["text"][lang]
            for words in [
                text["title"],
                text["summary"],
                *(s["heading"] for s in text["sections"]),
            ]:
                found = script.find(f"\n{words}\n", at)
                assert found > at, f"{lang}: {words!r} missing or out of order"
                at = found
    english = (pack.out / "en" / "script.txt").read_text(encoding="utf-8")
    assert "100" in english.splitlines()[0] and "-23 LUFS" in english[:300]
    # List items each on their own line.
    assert "\n- Take photos of your contract\n- Write down the hours you work\n" in english


def test_script_has_exactly_the_words_each_track_speaks(pack, fixture_release):
    for guide in catalog(fixture_release)["guides"]:
        for lang, text in guide["text"].items():
            if not text["timings"]:
                continue
            script = " ".join((pack.out / lang / "script.txt").read_text("utf-8").split())
            spoken = json.loads((fixture_release / text["timings"]).read_text("utf-8"))
            for sentence in spoken["sentences"]:
                assert sentence["text"] in script, (lang, sentence["text"])


def test_nepali_script_is_in_devanagari(pack):
    script = (pack.out / "ne" / "script.txt").read_bytes().decode("utf-8")
    assert "तपाईंको राहदानी" in script
    assert "आफ्नो राहदानीको दुई प्रतिलिपि बनाउनुहोस्।" in script


def test_a_text_only_language_gets_a_script_and_no_audio(pack):
    assert sorted(p.name for p in (pack.out / "ro").iterdir()) == ["script.txt"]
    assert "Pașaportul tău" in (pack.out / "ro" / "script.txt").read_text(encoding="utf-8")
    assert pack.text_only == ["ro"]
    readme = (pack.out / "README.txt").read_text(encoding="utf-8")
    assert re.search(r"ro/ .*text only", readme)


def test_readme_says_what_the_pack_is_and_warns_about_example_contacts(pack):
    readme = (pack.out / "README.txt").read_text(encoding="utf-8")
    assert "release 100" in readme and "4 languages, 2 guides" in readme
    assert "-23 LUFS" in readme and "-1 dBTP" in readme and "loudnorm" in readme
    assert "example" in readme and "not a real number" in readme
    assert "+000 0000 0001" in readme  # the fixture's example help line, named as a sample
    assert sorted(p.name for p in pack.out.iterdir()) == ["README.txt", "ar", "en", "ne", "ro"]


def test_a_tampered_release_is_refused_and_nothing_is_written(tmp_path, fixture_release, keypair):
    copy = tmp_path / "release"
    shutil.copytree(fixture_release, copy)
    track = copy / "audio" / "guides" / "passport" / "en.mp3"
    data = bytearray(track.read_bytes())
    data[len(data) // 2] ^= 1
    track.write_bytes(bytes(data))
    out = tmp_path / "packs" / "pack"
    with pytest.raises(ReleaseRejected, match=r"passport/en\.mp3 does not match its checksum"):
        radio_pack(copy, out, [keypair[1]])
    assert not out.exists()
    assert not out.parent.exists() or not list(out.parent.iterdir())


def test_a_release_signed_by_another_key_is_refused(tmp_path, fixture_release, other_keypair):
    out = tmp_path / "pack"
    with pytest.raises(ReleaseRejected, match="key this kiosk does not trust"):
        radio_pack(fixture_release, out, [other_keypair[1]])
    assert not out.exists()


def test_a_folder_that_is_not_empty_is_refused_and_left_as_it_was(
    tmp_path, fixture_release, keypair
):
    out = tmp_path / "pack"
    out.mkdir()
    (out / "programme.txt").write_text("Tuesday 18:00\n")
    with pytest.raises(KioskError, match="not an empty folder"):
        radio_pack(fixture_release, out, [keypair[1]])
    assert [p.name for p in out.iterdir()] == ["programme.txt"]
    assert (out / "programme.txt").read_text() == "Tuesday 18:00\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["pack"]


def test_without_ffmpeg_it_says_which_package_to_install(
    tmp_path, fixture_release, keypair, monkeypatch
):
    monkeypatch.setenv("PATH", str(tmp_path / "no-programs-here"))
    out = tmp_path / "pack"
    with pytest.raises(ToolMissing, match="apt-get install ffmpeg"):
        radio_pack(fixture_release, out, [keypair[1]])
    assert sorted(p.name for p in tmp_path.iterdir()) == []


def test_a_version_number_is_found_where_headquarters_publishes_it(tmp_path):
    root = tmp_path / "hq"
    (root / "releases" / "stable" / "100").mkdir(parents=True)
    (root / "releases" / "stable" / "LATEST").write_text("100\n")
    assert find_release("100", root) == root / "releases" / "stable" / "100"
    assert find_release(str(tmp_path / "x"), None) == tmp_path / "x"
    with pytest.raises(ReleaseNotFound, match=r"no release 99 on channel stable.*latest.* 100"):
        find_release("99", root)
    with pytest.raises(KioskError, match="channel name"):
        find_release("100", root, "../stable")


def test_cli_writes_a_pack_and_prints_its_figures(tmp_path, fixture_release, keypair):
    out = tmp_path / "pack"
    result = CliRunner().invoke(
        main, ["release", "radio-pack", str(fixture_release), str(out),
               "--pubkey", f"{keypair[0]}.pub"],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    last = result.output.strip().splitlines()[-1]
    assert re.fullmatch(
        rf"Wrote the radio pack of release 100 to {re.escape(str(out))}: 4 languages \(1 text "
        r"only\), 6 tracks, \d+\.\d minutes of audio, \d+\.\d MB, in \d+\.\d s\.",
        last,
    ), last
    assert (out / "en" / "01-passport.mp3").is_file()


def test_cli_version_number_without_root_is_a_clear_error(tmp_path, keypair):
    out = tmp_path / "pack"
    result = CliRunner().invoke(
        main, ["release", "radio-pack", "100", str(out), "--pubkey", f"{keypair[0]}.pub"]
    )
    assert result.exit_code == 1
    assert "100 looks like a release number" in result.output and "--root" in result.output
    assert "Traceback" not in result.output
    assert not out.exists()


def test_cli_finds_a_published_version_and_says_when_there_is_none(
    tmp_path, fixture_release, keypair
):
    root = tmp_path / "hq"
    shutil.copytree(fixture_release, root / "releases" / "stable" / "100")
    out = tmp_path / "pack"
    result = CliRunner().invoke(
        main, ["release", "radio-pack", "101", str(out), "--root", str(root),
               "--pubkey", f"{keypair[0]}.pub"],
    )  # fmt: skip
    assert result.exit_code == 3
    assert "There is no release 101 on channel stable" in result.output
    assert not out.exists()
