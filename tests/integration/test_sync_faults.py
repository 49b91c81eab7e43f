"""Sync under faults, against a real sshd and rrsync on 127.0.0.1 (issue 12, cases 8 to 13).

A cut pull, a refused release, oversized files, a stopped headquarters, a refused connection
and two syncs at once: each ends in one plain sentence, and nothing stays stuck.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from kiosk.device.install import ReleaseStore
from kiosk.device.usage import Usage
from kiosk.device.web.state import kiosk_of
from tests.conftest import KIOSK, run_kiosk
from tests.integration import sync_setup
from tests.integration.sync_setup import (
    changed_content,
    command_name,
    content_with_new_icon,
    descendants,
    device_env,
    held_files,
    kill_session,
    publish,
    sparse_file,
    start_sync,
    wait_for,
)

hq = sync_setup.hq  # the fixture: headquarters with release 100 on a real sshd
BIG = 300 * 1024 * 1024


def staging_of(env: dict) -> Path:
    return Path(env["KIOSK_DATA_DIR"]) / "staging" / "stable"


# ---------------------------------------------------------------- case 8


@pytest.mark.parametrize("next_from", ["headquarters", "stick"])
def test_a_holding_folder_left_by_a_cut_pull_heals_by_itself(
    tmp_path, hq, keypair, speech_cache, next_from
):
    root, server = hq
    env = device_env(tmp_path, root, server, keypair)
    assert run_kiosk("sync", env=env).returncode == 0
    publish(root, keypair, speech_cache, 101, content_with_new_icon(tmp_path / "content"))
    staging = staging_of(env)
    held = staging / "icons/.~tmp~/a-stamp.svg"
    slow = start_sync({**env, "KIOSK_SYNC_BWLIMIT": "1"}, "--now")
    try:
        wait_for("the new icon in rsync's holding folder", held.exists)
    finally:
        kill_session(slow)  # the power cut: what rsync held stays behind
    assert held.exists()
    # Headquarters goes back to the old icon: the held file belongs to no release any more.
    publish(root, keypair, speech_cache, 102)
    if next_from == "headquarters":
        results = [run_kiosk("sync", "--now", env=env) for _ in range(2)]
    else:
        stick = tmp_path / "stick"
        shutil.copytree(root / "releases", stick / "releases")
        results = [run_kiosk("sync", "--usb", str(stick), env=env)]
    assert results[0].returncode == 0, results[0].stderr
    assert "Installed release 102" in results[0].stdout
    assert ReleaseStore(env["KIOSK_DATA_DIR"]).current_version == 102
    assert not held_files(staging)


# ---------------------------------------------------------------- case 9


def count_some_usage(data: Path) -> None:
    usage = Usage(data / "usage.db", start=False)
    for _ in range(3):
        usage.count_view("passport", "ne", "phone")
    usage.close()


@pytest.mark.parametrize("why", ["tampered release", "read key refused"])
def test_a_failed_pull_still_sends_figures_and_heartbeat(tmp_path, hq, keypair, why):
    root, server = hq
    env = device_env(tmp_path, root, server, keypair)
    if why == "tampered release":
        catalog = root / "releases/stable/100/catalog.json"
        catalog.write_bytes(catalog.read_bytes().replace(b"Keep", b"Lose", 1))
    else:
        read_public = (root / "devices/kiosk-1/read_key.pub").read_text().split()[1]
        lines = server.authorized_keys.read_text().splitlines()
        server.authorized_keys.write_text(
            "\n".join(line for line in lines if read_public not in line) + "\n"
        )
    count_some_usage(Path(env["KIOSK_DATA_DIR"]))
    result = run_kiosk("sync", env=env)
    inbox = root / "inbox" / "kiosk-1"
    sent = sorted(p.name for p in inbox.iterdir())
    assert "heartbeat.json" in sent, f"inbox holds {sent}"
    assert any(name.startswith("usage-") for name in sent)
    assert result.returncode != 0 and "Traceback" not in result.stderr
    assert "figures were sent" in result.stderr
    beat = json.loads((inbox / "heartbeat.json").read_text())
    assert beat["last_sync_ok"] is False  # headquarters learns that this kiosk is stuck
    assert ReleaseStore(env["KIOSK_DATA_DIR"]).current_version is None


# ---------------------------------------------------------------- case 10


# A small launcher forks the kiosk and reports its peak memory. Forking pytest itself would
# count pytest's own memory, which the child holds until it execs.
LAUNCHER = """import os, sys
pid = os.fork()
if pid == 0:
    os.execv(sys.executable, [sys.executable, *sys.argv[2:]])
_pid, status, usage = os.wait4(pid, 0)
open(sys.argv[1], "w").write(str(usage.ru_maxrss))
sys.exit(os.waitstatus_to_exitcode(status))
"""


def run_measured(args: list[str], env: dict, tmp_path: Path) -> tuple[int, str, int]:
    """Run ``kiosk`` and return its exit code, its stderr and the peak memory (MB) it took."""
    peak = tmp_path / "peak-kb"
    result = subprocess.run([sys.executable, "-c", LAUNCHER, str(peak), *KIOSK[1:], *args],
                            env={**os.environ, **env}, capture_output=True, text=True,
                            timeout=300, check=False)  # fmt: skip
    return result.returncode, result.stderr, int(peak.read_text()) // 1024


def test_an_unlisted_file_at_headquarters_never_reaches_the_kiosk(tmp_path, hq, keypair):
    root, server = hq
    sparse_file(root / "releases/stable/100/icons/extra.bin", BIG)
    env = device_env(tmp_path, root, server, keypair)
    result = run_kiosk("sync", env=env)
    staging = staging_of(env)
    landed = [p for p in staging.rglob("*") if p.name == "extra.bin"]
    assert landed == [], f"{landed[0].stat().st_size} bytes landed in staging"
    assert result.returncode == 0, result.stderr  # the signed files are all there
    assert ReleaseStore(env["KIOSK_DATA_DIR"]).current_version == 100


@pytest.mark.parametrize("grown", ["catalog.json", "manifest.json"])
def test_a_listed_file_grown_huge_is_not_fetched(tmp_path, hq, keypair, grown):
    root, server = hq
    (root / "releases/stable/100" / grown).unlink()
    sparse_file(root / "releases/stable/100" / grown, BIG)
    env = device_env(tmp_path, root, server, keypair)
    result = run_kiosk("sync", env=env)
    fetched = staging_of(env) / grown
    size = fetched.stat().st_size if fetched.exists() else 0
    assert size < 2 * 1024 * 1024, f"{size} bytes of {grown} landed in staging"
    assert result.returncode == 3 and "Traceback" not in result.stderr
    assert grown in result.stderr
    assert ReleaseStore(env["KIOSK_DATA_DIR"]).current_version is None


def test_a_huge_latest_is_refused_in_bounded_memory(tmp_path, hq, keypair):
    root, server = hq
    latest = root / "releases/stable/LATEST"
    latest.unlink()
    sparse_file(latest, BIG)
    env = device_env(tmp_path, root, server, keypair)
    code, err, peak_mb = run_measured(["sync"], env, tmp_path)
    assert peak_mb < 150, f"sync took {peak_mb} MB"
    assert code != 0 and "Traceback" not in err
    assert "LATEST" in err and len(err.strip().splitlines()) == 1
    held = Path(env["KIOSK_DATA_DIR"]) / "staging" / "stable.LATEST"
    assert not held.exists() or held.stat().st_size < 1024


# ---------------------------------------------------------------- case 11


def test_a_stopped_headquarters_ends_the_sync_within_its_timeout(
    tmp_path, hq, keypair, speech_cache
):
    root, server = hq
    env = device_env(tmp_path, root, server, keypair)
    assert run_kiosk("sync", env=env).returncode == 0
    publish(root, keypair, speech_cache, 101, changed_content(tmp_path / "content"))
    slow = start_sync({**env, "KIOSK_SYNC_BWLIMIT": "1", "KIOSK_SYNC_TIMEOUT": "5"}, "--now")
    stopped: list[int] = []
    try:
        wait_for("the release to be under way", lambda: held_files(staging_of(env)))
        stopped = [p for p in descendants(server.proc.pid) if command_name(p) == "rsync"]
        assert stopped, "headquarters' rsync was not found"
        for pid in stopped:
            os.kill(pid, signal.SIGSTOP)
        try:
            _out, err = slow.communicate(timeout=90)
        except subprocess.TimeoutExpired:
            pytest.fail("sync still hung 90 s after headquarters' rsync stopped")
    finally:
        for pid in stopped:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGCONT)
        if slow.poll() is None:
            kill_session(slow)
    assert slow.returncode == 6 and "Traceback" not in err
    assert "stopped answering" in err and "5 seconds" in err
    assert ReleaseStore(env["KIOSK_DATA_DIR"]).current_version == 100


# ---------------------------------------------------------------- case 12


def test_a_refused_connection_says_why_and_when_the_next_try_is(tmp_path, hq, keypair):
    root, server = hq
    server.stop()
    env = device_env(tmp_path, root, server, keypair)
    result = run_kiosk("sync", env=env)
    assert result.returncode == 6
    message = result.stderr.strip()
    assert "Connection refused" in message and "unexplained" not in message
    assert message.endswith("Next try in 2 minutes.")
    assert len(message.splitlines()) == 1


def test_a_wrong_host_key_is_said_in_plain_words(tmp_path, hq, keypair):
    root, server = hq
    other = tmp_path / "other_host_key"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(other)], check=True)
    key = (tmp_path / "other_host_key.pub").read_text().split()
    wrong = tmp_path / "known_hosts"
    wrong.write_text(f"[127.0.0.1]:{server.port} {key[0]} {key[1]}\n")
    env = device_env(tmp_path, root, server, keypair, KIOSK_HQ_KNOWN_HOSTS=str(wrong))
    message = run_kiosk("sync", env=env).stderr.strip()
    assert "host key" in message and "hq_known_hosts" in message
    assert "unexplained" not in message and len(message.splitlines()) == 1


# ---------------------------------------------------------------- case 13


def test_two_syncs_at_once_one_runs_and_the_other_says_so(tmp_path, hq, keypair, speech_cache):
    root, server = hq
    env = device_env(tmp_path, root, server, keypair)
    assert run_kiosk("sync", env=env).returncode == 0
    publish(root, keypair, speech_cache, 101, changed_content(tmp_path / "content"))
    slow = start_sync({**env, "KIOSK_SYNC_BWLIMIT": "1"}, "--now")
    try:
        wait_for("the first sync to be under way", lambda: held_files(staging_of(env)))
        second = run_kiosk("sync", "--now", env=env, timeout=120)
        usb = run_kiosk("sync", "--usb", str(root), env=env, timeout=120)
        assert slow.poll() is None, "the first sync ended before the second one started"
    finally:
        kill_session(slow)
    assert (second.returncode, second.stderr.strip()) == (
        7,
        "A sync is already running on this kiosk; this one was not started.",
    )
    assert usb.returncode == 7 and "already running" in usb.stderr
    assert ReleaseStore(env["KIOSK_DATA_DIR"]).current_version == 100
    # The lock dies with the process that held it: nothing is left to clear by hand.
    again = run_kiosk("sync", "--now", env=env)
    assert again.returncode == 0, again.stderr
    assert "Installed release 101" in again.stdout


def test_the_librarians_button_shares_the_lock(tmp_path, hq, keypair, speech_cache, usage):
    from kiosk.config import load_settings
    from kiosk.device.admin import Auth
    from kiosk.device.web import create_app
    from tests.test_admin import PASSWORD, SCREEN, signed_in

    root, server = hq
    env = device_env(tmp_path, root, server, keypair)
    data = Path(env["KIOSK_DATA_DIR"])
    assert run_kiosk("sync", env=env).returncode == 0
    publish(root, keypair, speech_cache, 101, changed_content(tmp_path / "content"))
    Auth(data).set_password(PASSWORD)
    app = create_app(load_settings(environ=env), usage=usage)
    client, token = signed_in(app)
    slow = start_sync({**env, "KIOSK_SYNC_BWLIMIT": "1"}, "--now")
    try:
        wait_for("the timer's sync to be under way", lambda: held_files(staging_of(env)))
        client.post("/admin/sync", data={"csrf": token}, environ_base=SCREEN)
        thread = kiosk_of(app).sync_thread
        thread.join(timeout=120)
        assert not thread.is_alive()
        assert slow.poll() is None, "the timer's sync ended before the button was pressed"
        assert ReleaseStore(data).current_version == 100  # the button did not sync alongside
    finally:
        kill_session(slow)
    state = json.loads((data / "sync-state.json").read_text())
    assert state["ok"] is True and state["failures"] == 0  # the busy button is not a failure
