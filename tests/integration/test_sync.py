"""Sync with headquarters over a real sshd and rsync on 127.0.0.1, and by USB stick."""

from __future__ import annotations

import json
import sqlite3
import subprocess
from pathlib import Path

import pytest

from kiosk.device.install import ReleaseStore
from kiosk.device.usage import Usage
from kiosk.device.web.state import kiosk_of
from tests.conftest import FIXTURE_CONTENT, KIOSK, run_kiosk
from tests.integration import sync_setup
from tests.integration.sync_setup import device_env
from tests.sshd import SshServer

hq = sync_setup.hq  # the fixture: headquarters with release 100 on a real sshd


def test_round_trip_publish_pull_count_push_ingest(tmp_path, hq, keypair):
    root, server = hq
    env = device_env(tmp_path, root, server, keypair)
    first = run_kiosk("sync", env=env)
    assert first.returncode == 0, first.stderr
    assert "Installed release 100" in first.stdout
    data = Path(env["KIOSK_DATA_DIR"])
    assert ReleaseStore(data).current_version == 100

    usage = Usage(data / "usage.db", start=False)
    for _ in range(7):
        usage.count_visit("phone")
        usage.count_view("passport", "ne", "phone")
    for _ in range(3):
        usage.count_view("help-abroad", "ar", "screen")
    usage.count_view("passport", "ro", "phone")  # 1 < k = 2: stays on the device
    usage.close()

    again = run_kiosk("sync", env=env)
    assert again.returncode == 0 and "No newer release" in again.stdout
    inbox = root / "inbox" / "kiosk-1"
    assert {p.name for p in inbox.iterdir()} >= {"heartbeat.json"}
    ingest = run_kiosk("hq", "ingest", "--root", str(root))
    assert ingest.returncode == 0 and "set aside" not in ingest.stderr
    hq_db = sqlite3.connect(root / "hq.db")
    views = dict(
        ((g, lang), n)
        for g, lang, n in hq_db.execute("SELECT guide, lang, views FROM guide_day").fetchall()
    )
    assert views == {("passport", "ne"): 7, ("help-abroad", "ar"): 3}
    assert hq_db.execute("SELECT sum(visits) FROM channel_day").fetchone()[0] == 7
    beat = json.loads(hq_db.execute("SELECT heartbeat FROM devices").fetchone()[0])
    assert beat["release"] == 100 and beat["device"] == "kiosk-1"
    hq_db.close()
    assert run_kiosk("hq", "ingest", "--root", str(root)).stdout.startswith("0 new or changed")
    report = run_kiosk("hq", "report", "--root", str(root)).stdout
    assert "views   passport         ne     7" in report
    assert "step      origin         7 views" in report  # passport is tagged origin, transit
    # help-abroad's 3 views in Arabic are below headquarters' k (5): left out, as on every page
    assert "step      arrival        0 views" in report
    assert "dimension regulatory     7 views" in report


def test_a_newer_release_is_installed_and_only_changes_travel(tmp_path, hq, keypair, speech_cache):
    root, server = hq
    env = device_env(tmp_path, root, server, keypair)
    assert run_kiosk("sync", env=env).returncode == 0
    content = tmp_path / "content"
    import shutil

    shutil.copytree(FIXTURE_CONTENT, content)
    en = content / "guides" / "passport" / "en.md"
    en.write_text(en.read_text().replace("Ask for it back at once.", "Ask for it back today."))
    assert run_kiosk("hq", "publish", str(content), "--key", str(keypair[0]), "--root", str(root),
                     "--version", "101", "--cache", str(speech_cache)).returncode == 0  # fmt: skip
    second = run_kiosk("sync", env=env)
    assert "Installed release 101" in second.stdout
    wire = int(second.stdout.split("(")[1].split(" bytes")[0])
    release_size = sum(
        p.stat().st_size for p in (root / "releases/stable/101").rglob("*") if p.is_file()
    )
    assert wire < release_size / 2  # deltas, not the whole release again


def test_device_keys_are_confined(tmp_path, hq):
    root, server = hq
    read_key = root / "devices/kiosk-1/read_key"
    write_key = root / "devices/kiosk-1/write_key"
    (root / "inbox/kiosk-2/usage-2026-11-20.json").write_text('{"secret": 1}')
    shell = server.ssh(read_key, "cat", "/etc/hostname")
    assert shell.returncode != 0 and shell.stdout == ""
    assert server.ssh(write_key, "sh", "-c", "id").returncode != 0

    def rsync(key, *args):
        ssh = (
            f"ssh -p {server.port} -i {key} -o BatchMode=yes -o IdentitiesOnly=yes "
            f"-o UserKnownHostsFile={server.known_hosts} -o StrictHostKeyChecking=yes"
        )
        return subprocess.run(["rsync", "-a", "-e", ssh, *args], capture_output=True, text=True,
                              timeout=30, check=False)  # fmt: skip

    remote = f"{server.user}@127.0.0.1:"
    other = rsync(read_key, f"{remote}../inbox/kiosk-2/", str(tmp_path / "stolen"))
    assert other.returncode != 0 and not list((tmp_path / "stolen").glob("*"))
    read_own = rsync(write_key, f"{remote}./", str(tmp_path / "peek"))
    assert read_own.returncode != 0
    fake = tmp_path / "fake"
    fake.mkdir()
    (fake / "LATEST").write_text("999999\n")
    before = (root / "releases/stable/LATEST").read_text()
    for target in ("../../releases/stable/", "../releases/stable/", "/releases/stable/"):
        rsync(write_key, f"{fake}/", remote + target)
    rsync(read_key, f"{fake}/", remote + "stable/")
    assert (root / "releases/stable/LATEST").read_text() == before
    assert not (root / "inbox/kiosk-2/LATEST").exists()


def test_an_unknown_host_key_is_refused(tmp_path, hq, keypair):
    root, server = hq
    other = tmp_path / "other_host_key"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(other)], check=True)
    wrong = tmp_path / "known_hosts"
    key = (tmp_path / "other_host_key.pub").read_text().split()
    wrong.write_text(f"[127.0.0.1]:{server.port} {key[0]} {key[1]}\n")
    env = device_env(tmp_path, root, server, keypair, KIOSK_HQ_KNOWN_HOSTS=str(wrong))
    result = run_kiosk("sync", env=env)
    assert result.returncode == 6 and "Next try in" in result.stderr
    assert ReleaseStore(env["KIOSK_DATA_DIR"]).current_version is None


def test_unreachable_headquarters_backs_off(tmp_path, hq, keypair):
    root, server = hq
    server.stop()
    env = device_env(tmp_path, root, server, keypair)
    failed = run_kiosk("sync", env=env)
    assert failed.returncode == 6 and "Traceback" not in failed.stderr
    waiting = run_kiosk("sync", env=env)
    assert waiting.returncode == 0 and "waiting before trying again" in waiting.stdout
    state = json.loads((Path(env["KIOSK_DATA_DIR"]) / "sync-state.json").read_text())
    assert state["ok"] is False and state["failures"] == 1


def test_usb_stick_round_trip(tmp_path, hq, keypair):
    root, _server = hq
    stick = tmp_path / "stick"
    (stick / "releases").mkdir(parents=True)
    import shutil

    shutil.copytree(root / "releases" / "stable", stick / "releases" / "stable")
    env = {"KIOSK_DATA_DIR": str(tmp_path / "village"), "KIOSK_DEVICE_NAME": "kiosk-2",
           "KIOSK_TRUSTED_KEYS": f"{keypair[0]}.pub", "KIOSK_K_ANONYMITY": "2"}  # fmt: skip
    usage = Usage(tmp_path / "village" / "usage.db", start=False)
    for _ in range(4):
        usage.count_view("passport", "en", "screen")
    usage.close()
    result = run_kiosk("sync", "--usb", str(stick), env=env)
    assert result.returncode == 0, result.stderr
    assert "Installed release 100" in result.stdout and "saved on the stick" in result.stdout
    assert ReleaseStore(tmp_path / "village").current_version == 100
    ingest = run_kiosk("hq", "ingest", "--root", str(root), "--inbox", str(stick / "inbox"))
    assert ingest.returncode == 0
    hq_db = sqlite3.connect(root / "hq.db")
    assert hq_db.execute("SELECT views FROM guide_day WHERE device = 'kiosk-2'").fetchone() == (4,)
    hq_db.close()
    tampered = stick / "releases/stable/100/catalog.json"
    tampered.write_bytes(tampered.read_bytes().replace(b"passport", b"passp0rt"))
    (stick / "releases/stable/LATEST").write_text("100\n")
    fresh = {**env, "KIOSK_DATA_DIR": str(tmp_path / "other-village")}
    refused = run_kiosk("sync", "--usb", str(stick), env=fresh)
    assert refused.returncode == 3
    assert "refused" in refused.stderr and "does not match its checksum" in refused.stderr
    assert ReleaseStore(tmp_path / "other-village").current_version is None


def test_librarian_can_sync_now_without_waiting(tmp_path, hq, keypair, usage):
    from kiosk.config import load_settings
    from kiosk.device.admin import Auth
    from kiosk.device.web import create_app
    from tests.test_admin import PASSWORD, SCREEN, signed_in

    root, server = hq
    env = device_env(tmp_path, root, server, keypair)
    data = Path(env["KIOSK_DATA_DIR"])
    assert run_kiosk("sync", env=env).returncode == 0  # release 100 to start with
    Auth(data).set_password(PASSWORD)
    settings = load_settings(environ=env)
    app = create_app(settings, usage=usage)
    client, token = signed_in(app)
    import shutil

    newer = tmp_path / "c"
    shutil.copytree(FIXTURE_CONTENT, newer)
    assert run_kiosk("hq", "publish", str(newer), "--key", str(keypair[0]), "--root", str(root),
                     "--version", "105").returncode == 0  # fmt: skip
    page = client.post("/admin/sync", data={"csrf": token}, environ_base=SCREEN)
    assert page.status_code == 200 and "Updating from headquarters" in page.get_data(as_text=True)
    kiosk_of(app).sync_thread.join(timeout=60)
    assert ReleaseStore(data).current_version == 105
    dashboard = client.get("/admin/dashboard", environ_base=SCREEN).get_data(as_text=True)
    assert "installed release 105" in dashboard


def test_a_tampered_release_at_headquarters_is_refused(tmp_path, hq, keypair):
    root, server = hq
    catalog = root / "releases/stable/100/catalog.json"
    catalog.write_bytes(catalog.read_bytes().replace(b"Keep", b"Lose", 1))
    env = device_env(tmp_path, root, server, keypair)
    result = run_kiosk("sync", env=env)
    assert result.returncode == 3  # a refusal; headquarters was reached
    assert "catalog.json does not match its checksum" in result.stderr
    assert ReleaseStore(env["KIOSK_DATA_DIR"]).current_version is None


@pytest.mark.parametrize("how", ["kill rsync", "stop sshd"])
def test_a_cut_connection_leaves_the_live_release_and_the_next_sync_resumes(
    tmp_path, hq, keypair, speech_cache, how
):
    import os
    import signal
    import time

    root, server = hq
    env = device_env(tmp_path, root, server, keypair)
    assert run_kiosk("sync", env=env).returncode == 0
    content = tmp_path / "content"
    import shutil

    shutil.copytree(FIXTURE_CONTENT, content)
    for md in content.glob("guides/*/*.md"):  # change every guide: a big update
        md.write_text(md.read_text() + "\nOne more sentence here, said slowly and clearly.\n")
    assert run_kiosk("hq", "publish", str(content), "--key", str(keypair[0]), "--root", str(root),
                     "--version", "101", "--cache", str(speech_cache)).returncode == 0  # fmt: skip
    data = Path(env["KIOSK_DATA_DIR"])
    slow = {**env, "KIOSK_SYNC_BWLIMIT": "1"}  # KB/s: the update takes far longer than 3 s
    proc = subprocess.Popen(
        [*KIOSK, "sync", "--now"], env={**os.environ, **slow},
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True,
    )  # fmt: skip
    try:
        time.sleep(3)
        assert proc.poll() is None, "the slow sync finished before it could be cut"
        assert ReleaseStore(data).current_version == 100  # mid-transfer: nothing has changed
        if how == "kill rsync":
            os.killpg(proc.pid, signal.SIGKILL)
        else:
            server.cut()
    finally:
        if proc.poll() is None and how == "kill rsync":
            os.killpg(proc.pid, signal.SIGKILL)
        proc.communicate(timeout=60)
    store = ReleaseStore(data)
    assert store.current_version == 100
    from kiosk.formats.manifest import load_public_key, verify_release

    verify_release(store.active(), [load_public_key(f"{keypair[0]}.pub")])
    if how == "stop sshd":
        lines = server.authorized_keys.read_text()
        server = SshServer(tmp_path / "sshd-again")
        server.authorized_keys.write_text(lines)
        env = device_env(tmp_path, root, server, keypair)
    try:
        again = run_kiosk("sync", "--now", env=env)
        assert again.returncode == 0, again.stderr
        assert "Installed release 101" in again.stdout
        assert ReleaseStore(data).current_version == 101
    finally:
        server.stop()
