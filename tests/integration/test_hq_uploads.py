"""Headquarters against hostile uploads, with real sshd, rrsync and rsync."""

from __future__ import annotations

import os
import sqlite3
import subprocess
from pathlib import Path

from kiosk.releases.manifest import generate_key
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
