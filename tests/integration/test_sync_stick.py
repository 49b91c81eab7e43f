"""Sync by USB stick when the stick is hostile or broken (issue 12, cases 14 and 24).

Read-only sticks are real read-only mounts; links are real symlinks; every sync is the real
``kiosk sync --usb`` in a subprocess.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from kiosk.device.install import ReleaseStore
from tests.conftest import run_kiosk
from tests.integration.sync_setup import mounted_tmpfs, stick_env


def make_stick(stick: Path, release: Path, version: int = 100) -> Path:
    channel = stick / "releases" / "stable"
    channel.mkdir(parents=True, exist_ok=True)
    shutil.copytree(release, channel / str(version))
    (channel / "LATEST").write_text(f"{version}\n")
    return stick


def state_of(env: dict) -> dict:
    return json.loads((Path(env["KIOSK_DATA_DIR"]) / "sync-state.json").read_text())


def staged(env: dict) -> list[str]:
    staging = Path(env["KIOSK_DATA_DIR"]) / "staging"
    return sorted(p.relative_to(staging).as_posix() for p in staging.rglob("*"))


# ---------------------------------------------------------------- case 14


@pytest.mark.parametrize("inbox", ["missing", "present"])
def test_a_read_only_stick_gets_a_plain_message_and_is_recorded(
    tmp_path, fixture_release, keypair, inbox
):
    env = stick_env(tmp_path, keypair)
    with mounted_tmpfs(tmp_path / "stick") as stick:
        make_stick(stick, fixture_release)
        if inbox == "present":
            (stick / "inbox" / "kiosk-2").mkdir(parents=True)
        subprocess.run(["mount", "-o", "remount,ro", str(stick)], check=True)
        result = run_kiosk("sync", "--usb", str(stick), env=env)
    assert "Traceback" not in result.stderr and "OSError" not in result.stderr
    assert result.returncode == 3, result.stderr
    message = result.stderr.strip()
    assert "read-only" in message and len(message.splitlines()) == 1
    assert "Installed release 100" in message  # what could be done was done
    assert ReleaseStore(env["KIOSK_DATA_DIR"]).current_version == 100
    state = state_of(env)
    assert state["ok"] is False and "read-only" in state["summary"]


def test_a_refused_release_on_a_stick_exits_3_and_is_recorded(tmp_path, fixture_release, keypair):
    stick = make_stick(tmp_path / "stick", fixture_release)
    catalog = stick / "releases/stable/100/catalog.json"
    catalog.write_bytes(catalog.read_bytes().replace(b"passport", b"passp0rt"))
    env = stick_env(tmp_path, keypair)
    result = run_kiosk("sync", "--usb", str(stick), env=env)
    assert result.returncode == 3, result.stdout
    assert "does not match its checksum" in result.stderr
    assert "figures were saved on the stick" in result.stderr  # they still travel home
    assert (stick / "inbox/kiosk-2/heartbeat.json").is_file()
    assert ReleaseStore(env["KIOSK_DATA_DIR"]).current_version is None
    state = state_of(env)
    assert state["ok"] is False and "checksum" in state["summary"]


# ---------------------------------------------------------------- case 24


def links_or_secrets(folder: Path) -> list[str]:
    """Links, and files holding the stand-in's secret, found without following any link."""
    found = []
    for dirpath, dirnames, filenames in os.walk(folder):
        for name in dirnames + filenames:
            path = Path(dirpath) / name
            if path.is_symlink() or (path.is_file() and b"secret" in path.read_bytes()):
                found.append(str(path.relative_to(folder)))
    return found


@pytest.fixture
def kiosk_etc(tmp_path) -> Path:
    """Stands in for the kiosk's own /etc: what a stick's link must never bring into staging."""
    etc = tmp_path / "kiosk-etc"
    (etc / "icons").mkdir(parents=True)
    (etc / "shadow").write_text("root:secret\n")
    (etc / "icons" / "passport.svg").write_text("root:secret\n")
    return etc


def test_a_linked_release_folder_on_a_stick_brings_nothing_in(
    tmp_path, fixture_release, keypair, kiosk_etc
):
    stick = make_stick(tmp_path / "stick", fixture_release)
    release = stick / "releases/stable/100"
    shutil.rmtree(release)
    release.symlink_to(kiosk_etc)
    env = stick_env(tmp_path, keypair)
    result = run_kiosk("sync", "--usb", str(stick), env=env)
    assert not [p for p in staged(env) if p.endswith(("shadow", ".svg"))], staged(env)
    assert result.returncode == 3
    assert "link" in result.stderr and len(result.stderr.strip().splitlines()) == 1


def test_a_linked_folder_inside_a_stick_release_brings_nothing_in(
    tmp_path, fixture_release, keypair, kiosk_etc
):
    stick = make_stick(tmp_path / "stick", fixture_release)
    icons = stick / "releases/stable/100/icons"
    shutil.rmtree(icons)
    icons.symlink_to(kiosk_etc / "icons")
    env = stick_env(tmp_path, keypair)
    result = run_kiosk("sync", "--usb", str(stick), env=env)
    assert not links_or_secrets(Path(env["KIOSK_DATA_DIR"]) / "staging")
    assert result.returncode == 3 and "link" in result.stderr
    assert ReleaseStore(env["KIOSK_DATA_DIR"]).current_version is None


@pytest.mark.parametrize("linked", ["inbox", "inbox/kiosk-2"])
def test_a_linked_inbox_on_a_stick_is_not_written_through(
    tmp_path, fixture_release, keypair, linked
):
    stick = make_stick(tmp_path / "stick", fixture_release)
    outside = tmp_path / "outside"
    outside.mkdir()
    (stick / linked).parent.mkdir(parents=True, exist_ok=True)
    (stick / linked).symlink_to(outside)
    env = stick_env(tmp_path, keypair)
    result = run_kiosk("sync", "--usb", str(stick), env=env)
    written = sorted(str(p.relative_to(outside)) for p in outside.rglob("*"))
    assert written == [], f"the kiosk wrote {written} outside the stick"
    assert result.returncode == 3 and "link" in result.stderr
    assert "Traceback" not in result.stderr


def test_a_linked_heartbeat_on_a_stick_is_replaced_not_followed(tmp_path, fixture_release, keypair):
    stick = make_stick(tmp_path / "stick", fixture_release)
    victim = tmp_path / "victim.txt"
    victim.write_text("keep me\n")
    (stick / "inbox/kiosk-2").mkdir(parents=True)
    (stick / "inbox/kiosk-2/heartbeat.json").symlink_to(victim)
    env = stick_env(tmp_path, keypair)
    result = run_kiosk("sync", "--usb", str(stick), env=env)
    assert result.returncode == 0, result.stderr
    assert victim.read_text() == "keep me\n"
    beat = stick / "inbox/kiosk-2/heartbeat.json"
    assert not beat.is_symlink() and json.loads(beat.read_text())["device"] == "kiosk-2"


def test_export_to_stick_does_not_follow_a_link_with_the_expected_name(
    tmp_path, fixture_release, keypair, usage
):
    from kiosk.device.admin import Auth
    from kiosk.device.web import create_app
    from tests.conftest import device_settings
    from tests.test_admin import PASSWORD, SCREEN, signed_in

    data = tmp_path / "device"
    ReleaseStore(data).install(fixture_release, [keypair[1]])
    Auth(data).set_password(PASSWORD)
    victim = tmp_path / "victim.txt"
    victim.write_text("keep me\n")
    media = tmp_path / "media"
    with mounted_tmpfs(media / "sdz1") as stick:  # a real mount, found in /proc/self/mounts
        name = f"usage-kiosk-{dt.date.today().isoformat()}.csv"
        (stick / name).symlink_to(victim)
        settings = device_settings(data, Path(f"{keypair[0]}.pub"), usb_root=str(media))
        client, token = signed_in(create_app(settings, usage=usage))
        client.post("/admin/export-to-stick", data={"csrf": token, "stick": "sdz1"},
                    environ_base=SCREEN)  # fmt: skip
        exported = stick / name
        assert victim.read_text() == "keep me\n"
        assert not exported.is_symlink() and exported.read_text().startswith("table,")
        assert not [p for p in os.listdir(stick) if p.startswith(".")]  # no temporary left
