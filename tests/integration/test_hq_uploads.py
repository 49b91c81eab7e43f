"""Headquarters against hostile uploads and careless sticks, with real sshd, rrsync and rsync."""

from __future__ import annotations

import os
import sqlite3
import subprocess
from pathlib import Path

import pytest

from kiosk.device.install import ReleaseStore
from kiosk.formats.manifest import generate_key
from tests.conftest import FIXTURE_CONTENT, run_kiosk
from tests.sshd import SshServer


def add_devices(root: Path, server: SshServer | None, *names: str) -> None:
    for name in names:
        extra = ["--authorized-keys", str(server.authorized_keys)] if server else []
        out = run_kiosk("hq", "add-device", name, "--root", str(root), *extra)
        assert out.returncode == 0, out.stderr


def upload(server: SshServer, key: Path, folder: Path) -> subprocess.CompletedProcess:
    """What a kiosk (or someone holding its write key) can send: rsync -a, links kept as links."""
    ssh = (
        f"ssh -p {server.port} -i {key} -o BatchMode=yes -o IdentitiesOnly=yes "
        f"-o UserKnownHostsFile={server.known_hosts} -o StrictHostKeyChecking=yes"
    )
    return subprocess.run(
        ["rsync", "-a", "-e", ssh, f"{folder}/", f"{server.user}@127.0.0.1:./"],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip


def test_a_link_uploaded_over_rsync_is_munged_and_never_followed(tmp_path):
    secret = tmp_path / "keys" / "release-key"
    generate_key(secret)
    root = tmp_path / "hq"
    server = SshServer(tmp_path / "sshd")
    try:
        add_devices(root, server, "kiosk-1", "kiosk-2")
        (root / "inbox/kiosk-2/heartbeat.json").write_text('{"format": 1, "release": 4242}')
        hostile = tmp_path / "hostile"
        hostile.mkdir()
        (hostile / "usage-2026-11-16.json").symlink_to(secret)
        (hostile / "heartbeat.json").symlink_to("../kiosk-2/heartbeat.json")
        sent = upload(server, root / "devices/kiosk-1/write_key", hostile)
        assert sent.returncode == 0, sent.stderr
    finally:
        server.stop()
    inbox = root / "inbox" / "kiosk-1"
    for name in ("usage-2026-11-16.json", "heartbeat.json"):
        # rrsync -munge: the link arrives, but pointing at /rsyncd-munged/..., which is nowhere.
        assert os.readlink(inbox / name).startswith("/rsyncd-munged/"), os.readlink(inbox / name)
    done = run_kiosk("hq", "ingest", "--root", str(root))
    assert done.returncode == 0, done.stderr
    key = secret.read_bytes()
    for path in root.rglob("*"):
        assert path.is_symlink() or not path.is_file() or key not in path.read_bytes(), path
    db = sqlite3.connect(root / "hq.db")
    assert db.execute("SELECT device FROM devices").fetchall() == [("kiosk-2",)]
    db.close()


def test_publish_refuses_a_signing_key_inside_the_sync_root(tmp_path, speech_cache):
    root = tmp_path / "hq"
    key = root / "keys" / "release-key"
    generate_key(key)
    result = run_kiosk("hq", "publish", str(FIXTURE_CONTENT), "--key", str(key), "--root",
                       str(root), "--version", "100", "--cache", str(speech_cache))  # fmt: skip
    assert result.returncode == 3, result.stdout + result.stderr
    assert "inside the sync root" in result.stderr and "Traceback" not in result.stderr
    assert not (root / "releases" / "stable").exists()


# ---------------------------------------------------------------- USB sticks


@pytest.fixture
def headquarters(tmp_path, keypair, speech_cache):
    """A sync root as it looks after a while: two kiosks, two releases, uploads, hq.db."""
    root = tmp_path / "hq"
    add_devices(root, None, "kiosk-1", "kiosk-2")
    for version in ("100", "101"):
        published = run_kiosk("hq", "publish", str(FIXTURE_CONTENT), "--key", str(keypair[0]),
                              "--root", str(root), "--version", version,
                              "--cache", str(speech_cache))  # fmt: skip
        assert published.returncode == 0, published.stderr
    (root / "inbox/kiosk-2/heartbeat.json").write_text('{"format": 1, "release": 100}')
    (root / "inbox/kiosk-2/usage-2026-11-16.json").write_text("not a snapshot")
    assert run_kiosk("hq", "ingest", "--root", str(root)).returncode == 0
    assert (root / "hq.db").exists() and (root / "rejected" / "kiosk-2").is_dir()
    return root


def tree(folder: Path) -> set[str]:
    return {
        p.relative_to(folder).as_posix() + ("/" if p.is_dir() else "") for p in folder.rglob("*")
    }


def test_a_stick_carries_the_latest_release_and_an_empty_inbox_and_nothing_else(
    tmp_path, headquarters, keypair
):
    root, stick = headquarters, tmp_path / "stick"
    made = run_kiosk("hq", "stick", str(stick), "--root", str(root),
                     "--pubkey", f"{keypair[0]}.pub")  # fmt: skip
    assert made.returncode == 0, made.stderr

    release = root / "releases" / "stable" / "101"
    expected = {"inbox/", "releases/", "releases/stable/", "releases/stable/LATEST"} | {
        f"releases/stable/101/{rel}" for rel in tree(release)
    } | {"releases/stable/101/"}  # fmt: skip
    assert tree(stick) == expected
    assert (stick / "releases/stable/LATEST").read_text() == "101\n"
    secrets = {"read_key", "write_key", "hq.db", "devices", "rejected"}
    assert not secrets & {p.name for p in stick.rglob("*")}

    env = {"KIOSK_DATA_DIR": str(tmp_path / "village"), "KIOSK_DEVICE_NAME": "kiosk-1",
           "KIOSK_TRUSTED_KEYS": f"{keypair[0]}.pub", "KIOSK_K_ANONYMITY": "2"}  # fmt: skip
    synced = run_kiosk("sync", "--usb", str(stick), env=env)
    assert synced.returncode == 0, synced.stderr
    assert "Installed release 101" in synced.stdout
    assert ReleaseStore(tmp_path / "village").current_version == 101

    # The stick comes back with kiosk-1's figures: the next stick takes them in, then clears.
    assert (stick / "inbox" / "kiosk-1" / "heartbeat.json").is_file()
    again = run_kiosk("hq", "stick", str(stick), "--root", str(root),
                      "--pubkey", f"{keypair[0]}.pub")  # fmt: skip
    assert again.returncode == 0, again.stderr
    assert tree(stick) == expected
    db = sqlite3.connect(root / "hq.db")
    assert {d for (d,) in db.execute("SELECT device FROM devices")} == {"kiosk-1", "kiosk-2"}
    db.close()


def test_a_stick_holding_a_copy_of_the_sync_root_is_refused(tmp_path, headquarters, keypair):
    import shutil

    stick = tmp_path / "stick"
    shutil.copytree(headquarters, stick)  # what docs/sync.md used to say to do
    before = tree(stick)
    made = run_kiosk("hq", "stick", str(stick), "--root", str(headquarters),
                     "--pubkey", f"{keypair[0]}.pub")  # fmt: skip
    assert made.returncode == 3, made.stdout + made.stderr
    assert "devices" in made.stderr and "Traceback" not in made.stderr
    assert tree(stick) == before
