"""Hostile releases (issue 12, cases 20 to 23), refused through the real ``kiosk`` command.

Every refusal is one plain sentence with exit code 3, and the live release stays byte-identical:
each test hashes the whole data folder's release side before and after.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import re
from pathlib import Path

import pytest

from kiosk.device.install import ReleaseStore
from kiosk.formats.manifest import MANIFEST, SIGNATURE, PublicKey, load_private_key
from tests.conftest import make_release, run_kiosk


@pytest.fixture
def device(tmp_path, keypair):
    """A kiosk data folder with release 5 live, and the environment its ``kiosk`` runs with."""
    data = tmp_path / "data"
    ReleaseStore(data).install(make_release(tmp_path / "r5", keypair[0], 5), [keypair[1]])
    env = {"KIOSK_DATA_DIR": str(data), "KIOSK_TRUSTED_KEYS": f"{keypair[0]}.pub"}
    return data, env


def live_hash(data: Path) -> str:
    """One digest over the links, the state file and every byte of every kept release."""
    digest = hashlib.sha256()
    for name in ("current", "previous"):
        link = data / name
        digest.update(f"{name}->{os.readlink(link) if link.is_symlink() else '-'}\n".encode())
    state = data / "release-state.json"
    digest.update(state.read_bytes() if state.exists() else b"-")
    for path in sorted((data / "releases").rglob("*")):
        digest.update(path.relative_to(data).as_posix().encode() + b"\0")
        if path.is_file():
            digest.update(path.read_bytes())
    return digest.hexdigest()


def sign(root: Path, key_path: Path, body: bytes, key_id: str | None = None) -> None:
    """Write ``body`` as the manifest and sign exactly those bytes."""
    key = load_private_key(key_path)
    (root / MANIFEST).write_bytes(body)
    kid = key_id or PublicKey(key.public_key(), "").id
    sig = base64.b64encode(key.sign(body)).decode()
    (root / SIGNATURE).write_bytes(f"ed25519 {kid} {sig}\n".encode())


def edit(root: Path, key_path: Path, change) -> None:
    data = json.loads((root / MANIFEST).read_text())
    change(data)
    sign(root, key_path, (json.dumps(data, indent=1, sort_keys=True) + "\n").encode())


def refused(result, words: str) -> None:
    """One plain sentence, exit code 3, no traceback, and no terminal control characters."""
    assert result.returncode == 3, (result.returncode, result.stdout, result.stderr)
    assert "Traceback" not in result.stderr
    message = result.stderr.strip()
    assert message.startswith("Error: ") and message.endswith("."), message
    assert "\n" not in message, message
    assert not re.search(r"[\x00-\x1f\x7f-\x9f]", message), repr(message)
    assert words in message, message


def install_and_verify_refuse(data, env, bad: Path, words: str, keypair) -> None:
    before = live_hash(data)
    refused(run_kiosk("release", "install", str(bad), env=env), words)
    assert live_hash(data) == before
    verify = run_kiosk("release", "verify", str(bad), "--pubkey", f"{keypair[0]}.pub")
    refused(verify, words)
    assert live_hash(data) == before
    assert ReleaseStore(data).current_version == 5


# ---------------------------------------------------------------- case 20: a folder for a file


def test_a_folder_where_a_file_is_listed_is_refused(tmp_path, device, keypair):
    data, env = device
    bad = make_release(tmp_path / "bad", keypair[0], 9)
    (bad / "audio" / "a.mp3").unlink()
    (bad / "audio" / "a.mp3").mkdir()
    install_and_verify_refuse(data, env, bad, "folder where it lists the file audio/a.mp3", keypair)


def test_a_listing_that_uses_one_name_as_file_and_folder_is_refused(tmp_path, device, keypair):
    data, env = device
    bad = make_release(tmp_path / "bad", keypair[0], 9, {"a": b"1", "b/c": b"2"})
    edit(bad, keypair[0], lambda d: d["files"].append({**d["files"][1], "path": "a/c"}))
    install_and_verify_refuse(data, env, bad, "both as a file and as a folder", keypair)


def test_usb_sync_with_a_folder_for_a_file_refuses_and_still_saves_figures(
    tmp_path, device, keypair
):
    data, env = device
    stick = tmp_path / "stick"
    channel = stick / "releases" / "stable"
    bad = make_release(channel / "9", keypair[0], 9)
    (bad / "audio" / "a.mp3").unlink()
    (bad / "audio" / "a.mp3").mkdir()
    (channel / "LATEST").write_text("9\n")
    before = live_hash(data)
    result = run_kiosk("sync", "--usb", str(stick), env={**env, "KIOSK_DEVICE_NAME": "kiosk-u"})
    assert "Traceback" not in result.stderr, result.stderr
    # Sync refuses it before copying (case 24: nothing but plain files comes off a stick).
    assert result.returncode == 3, result.stderr
    assert "audio/a.mp3 is not a plain file" in result.stderr, result.stderr
    assert (stick / "inbox" / "kiosk-u").is_dir()
    assert live_hash(data) == before


# ---------------------------------------------------------------- case 21: names with a newline


def test_a_file_name_ending_in_a_newline_is_refused(tmp_path, device, keypair):
    data, env = device
    bad = make_release(tmp_path / "bad", keypair[0], 9, {"catalog.json": b"{}", "x.mp3\n": b"1"})
    install_and_verify_refuse(data, env, bad, "unsafe file name", keypair)


def test_no_name_pattern_in_the_kiosk_accepts_a_trailing_newline(tmp_path):
    """Every name pattern, as the kiosk itself compiled it, and the checks that use them."""
    from kiosk import hq
    from kiosk.content import checks, source
    from kiosk.device.web import common
    from kiosk.errors import KioskError
    from kiosk.formats import manifest

    with pytest.raises(KioskError, match="device name"):
        hq.add_device(tmp_path, "kiosk-a\n")
    with pytest.raises(KioskError, match="channel name"):
        hq.publish(tmp_path, tmp_path / "key", tmp_path, "stable\n", speaker=None)
    from kiosk.formats import snapshot
    from kiosk.hq import root

    # Each pattern with the method the code calls it with (headquarters' use fullmatch).
    cases = [
        (manifest._SEGMENT.match, "x.mp3"),
        (root.DEVICE_NAME.fullmatch, "kiosk-a"),
        (root.CHANNEL_NAME.fullmatch, "stable"),
        (snapshot.NAME.fullmatch, "usage-2026-01-02.json"),
        (common.SAFE_ID.match, "documents"),
        (common.SAFE_TAG.match, "ne"),
        (source.ID.match, "documents"),
        (source.TAG.match, "ne"),
        (checks.COUNTRY.match, "NP"),
    ]
    for check, good in cases:
        assert check(good), check
        assert not check(good + "\n"), f"{check} accepts {good!r} + newline"


# ---------------------------------------------------------------- case 22: versions and JSON


def with_version(bad: Path, key: Path, literal: str) -> None:
    body = (bad / MANIFEST).read_bytes()
    sign(bad, key, re.sub(rb'"version": \d+', f'"version": {literal}'.encode(), body))


@pytest.mark.parametrize(
    ("literal", "words"),
    [
        pytest.param("1" * 300, "number too long", id="300 digits"),
        pytest.param("1" * 5000, "number too long", id="5000 digits"),
        pytest.param(str(10**30), "number too long", id="10^30"),
        pytest.param(str(10**15), "version", id="10^15"),
        pytest.param("99999999999999", "version", id="14 nines, later than its creation"),
        pytest.param("9.0", "version", id="float"),
        pytest.param("true", "version", id="true"),
    ],
)
def test_a_version_outside_what_the_build_writes_is_refused(
    tmp_path, device, keypair, literal, words
):
    data, env = device
    bad = make_release(tmp_path / "bad", keypair[0], 9)
    with_version(bad, keypair[0], literal)
    install_and_verify_refuse(data, env, bad, words, keypair)
    good = make_release(tmp_path / "next", keypair[0], 6)
    assert run_kiosk("release", "install", str(good), env=env).returncode == 0


@pytest.mark.parametrize(
    ("change", "words"),
    [
        pytest.param(lambda b: b.replace(b'"format": 2', b'"format": true'), "format", id="true"),
        pytest.param(lambda b: b.replace(b'"format": 2', b'"format": 2.0'), "format", id="2.0"),
        pytest.param(lambda b: b.replace(b'"format": 2', b'"format": 3'), "format", id="newer"),
        pytest.param(
            lambda b: b.replace(b'"version": 9', b'"version": 9,\n "version": 7'),
            "twice",
            id="duplicate key",
        ),
        pytest.param(
            lambda b: b.replace(b'"sha256"', b'"size": 1,\n  "sha256"', 1),
            "twice",
            id="duplicate key in a file entry",
        ),
        pytest.param(
            lambda b: b.replace(
                b'"format": 2', b'"format": 2, "x": ' + b"[" * 200_000 + b"]" * 200_000
            ),
            "not readable",
            id="nested 200000 deep",
        ),
        pytest.param(
            lambda b: b.replace(b'"format": 2', b'"format": 2, "x": NaN'),
            "not readable",
            id="NaN",
        ),
    ],
)
def test_a_manifest_parsers_could_read_differently_is_refused(
    tmp_path, device, keypair, change, words
):
    data, env = device
    bad = make_release(tmp_path / "bad", keypair[0], 9)
    sign(bad, keypair[0], change((bad / MANIFEST).read_bytes()))
    install_and_verify_refuse(data, env, bad, words, keypair)


def test_a_too_long_file_name_gets_the_right_message(tmp_path, device, keypair):
    data, env = device
    bad = make_release(tmp_path / "bad", keypair[0], 9)
    edit(bad, keypair[0], lambda d: d["files"].append({**d["files"][0], "path": "a" * 300}))
    install_and_verify_refuse(data, env, bad, "too long", keypair)


def test_a_release_with_version_10_to_the_30_never_blocks_the_next(tmp_path, device, keypair):
    """A kiosk that took such a release before this fix can still install a normal one."""
    data, env = device
    store = ReleaseStore(data)
    poisoned = 10**30
    (data / "releases" / str(poisoned)).mkdir()
    (data / "release-state.json").write_text(json.dumps({"highest": poisoned}))
    assert run_kiosk("release", "install", str(make_release(tmp_path / "r6", keypair[0], 6)),
                     env=env).returncode == 0  # fmt: skip
    assert store.current_version == 6


# ---------------------------------------------------------------- case 23: terminal escapes


ESCAPES = "\x1b]0;owned\x07\x1b[2J\x1b[31m\u202e"


def test_a_key_id_with_terminal_escapes_is_printed_escaped(tmp_path, device, keypair):
    data, env = device
    bad = make_release(tmp_path / "bad", keypair[0], 9)
    sign(bad, keypair[0], (bad / MANIFEST).read_bytes(), key_id="\x1b[2J\x1b[31mEVIL")
    install_and_verify_refuse(data, env, bad, "does not trust (key \\x1b[2J\\x1b[31mEVIL)", keypair)


def test_an_unlisted_file_named_with_escapes_is_printed_escaped(tmp_path, device, keypair):
    data, env = device
    bad = make_release(tmp_path / "bad", keypair[0], 9)
    (bad / "audio" / f"x{ESCAPES}.mp3").write_bytes(b"x")
    install_and_verify_refuse(data, env, bad, "file it does not list: audio/x\\x1b]0;", keypair)


def test_a_format_holding_escapes_or_a_long_text_is_printed_escaped_and_short(
    tmp_path, device, keypair
):
    data, env = device
    bad = make_release(tmp_path / "bad", keypair[0], 9)
    edit(bad, keypair[0], lambda d: d.update(format=ESCAPES + "x" * 100_000))
    install_and_verify_refuse(data, env, bad, "format", keypair)
    result = run_kiosk("release", "install", str(bad), env=env)
    assert len(result.stderr) < 400


def test_the_writer_refuses_the_versions_the_reader_refuses(tmp_path, keypair, speaker):
    """One format, one reader, one writer: a build cannot make what every kiosk refuses."""
    import datetime as dt

    from kiosk.content.build import build_release
    from kiosk.errors import KioskError
    from tests.conftest import FIXTURE_CONTENT

    later = int((dt.datetime.now(dt.UTC) + dt.timedelta(days=1)).strftime("%Y%m%d%H%M%S"))
    with pytest.raises(KioskError, match="up to the time now"):
        build_release(FIXTURE_CONTENT, tmp_path / "out", keypair[0], speaker, version=later)
    assert not (tmp_path / "out").exists()
    with pytest.raises(KioskError, match="not one a build writes"):
        make_release(tmp_path / "r", keypair[0], 10**15)


# ---------------------------------------------------------------- issue 13: mutation survivors


def test_a_manifest_that_is_a_link_or_a_fifo_is_refused_without_waiting(tmp_path, keypair):
    import threading

    from kiosk.errors import ReleaseRejected
    from kiosk.formats.manifest import read_manifest

    good = make_release(tmp_path / "good", keypair[0], 9)
    linked = make_release(tmp_path / "linked", keypair[0], 9)
    (linked / MANIFEST).unlink()
    (linked / MANIFEST).symlink_to(good / MANIFEST)  # signed bytes, read through a link
    with pytest.raises(ReleaseRejected, match=r"manifest\.json is not a plain file"):
        read_manifest(linked, [keypair[1]])
    piped = make_release(tmp_path / "piped", keypair[0], 9)
    (piped / SIGNATURE).unlink()
    os.mkfifo(piped / SIGNATURE)  # opening a FIFO to read waits for a writer, for ever
    outcome: list = []

    def read() -> None:
        try:
            read_manifest(piped, [keypair[1]])
        except ReleaseRejected as exc:
            outcome.append(str(exc))

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    reader.join(10)
    if reader.is_alive():  # let the stuck reader go before failing
        os.close(os.open(piped / SIGNATURE, os.O_WRONLY | os.O_NONBLOCK))
    assert outcome == ["The release's manifest.sig is not a plain file."]


def test_text_from_a_release_is_cut_to_its_limit_and_marked():
    from kiosk.formats.manifest import shown

    assert shown("x" * 80) == "x" * 80
    assert shown("x" * 81) == "x" * 79 + "…" and len(shown("y" * 500, 40)) == 40
    assert shown("z" * 500, None) == "z" * 500


def test_a_name_too_long_for_a_stick_or_a_path_too_long_for_the_kiosk_is_refused():
    from kiosk.errors import ReleaseRejected
    from kiosk.formats.manifest import check_path

    assert check_path("a" * 255) == "a" * 255
    assert check_path("/".join(["b" * 200] * 5)) == "/".join(["b" * 200] * 5)  # 1,004
    for rel in ("a" * 256, "/".join(["b" * 200] * 6)):  # one name of 256; a path of 1,205
        with pytest.raises(ReleaseRejected, match="too long"):
            check_path(rel)


def test_a_release_versioned_at_its_own_creation_second_with_an_empty_file_is_read(
    tmp_path, keypair
):
    """What the build writes by default: version = creation time as YYYYMMDDHHMMSS."""
    import datetime as dt

    from kiosk.formats.manifest import verify_release, write_manifest

    root = tmp_path / "r"
    root.mkdir()
    (root / "catalog.json").write_bytes(b"{}\n")
    (root / "empty.txt").write_bytes(b"")  # an empty file is a file like any other
    created = dt.datetime(2026, 3, 4, 5, 6, 7, tzinfo=dt.UTC)
    write_manifest(
        root, 20260304050607, created, created + dt.timedelta(days=30), load_private_key(keypair[0])
    )
    manifest = verify_release(root, [keypair[1]], now=created + dt.timedelta(days=1))
    assert manifest.version == 20260304050607
    assert {e["path"]: e["size"] for e in manifest.files} == {"catalog.json": 3, "empty.txt": 0}
