"""One lock over releases/ (issue 12, case 19): real processes racing, many rounds."""

from __future__ import annotations

import os
import subprocess
import sys
import threading

import pytest

from kiosk.device.install import ReleaseStore
from kiosk.errors import KioskError
from kiosk.formats.manifest import verify_release
from tests.conftest import KIOSK, make_release, run_kiosk

RECOVER_LOOP = """
import os, sys, time
from kiosk.device.install import ReleaseStore
store = ReleaseStore(sys.argv[1])
while not os.path.exists(sys.argv[2]):
    store.recover()  # what `kiosk serve` does as it starts
    time.sleep(0.005)  # often enough to land inside every install, and leave it some CPU
"""


def test_installs_racing_status_and_recovery_are_all_true(tmp_path, keypair):
    """Install in one process while others recover and show status in a loop, round after round.

    Every "installed and live" must be true: ``current`` names that version and it verifies.
    """
    data = tmp_path / "data"
    env = {"KIOSK_DATA_DIR": str(data), "KIOSK_TRUSTED_KEYS": f"{keypair[0]}.pub"}
    files = {f"audio/{n:03}.mp3": os.urandom(8_000) for n in range(50)}
    rounds = range(2, 8)
    releases = {
        v: make_release(tmp_path / f"r{v}", keypair[0], v, {**files, "catalog.json": b"%d" % v})
        for v in (1, *rounds)
    }
    store = ReleaseStore(data)
    store.install(releases[1], [keypair[1]])

    stop = tmp_path / "stop"
    recoverers = [
        subprocess.Popen([sys.executable, "-c", RECOVER_LOOP, str(data), str(stop)])
        for _ in range(1)
    ]
    statuses: list[subprocess.CompletedProcess] = []

    def status_loop() -> None:
        while not stop.exists():
            statuses.append(run_kiosk("release", "status", env=env))

    watcher = threading.Thread(target=status_loop)
    watcher.start()
    wrong = []
    try:
        for version in rounds:
            result = run_kiosk("release", "install", str(releases[version]), env=env)
            if result.returncode != 0:
                wrong.append(f"{version}: exit {result.returncode}: {result.stderr[-200:]}")
                continue
            assert f"Release {version} is installed and live." in result.stdout
            if store.current_version != version:
                wrong.append(f"{version}: said live, but current is {store.current_version}")
                continue
            try:
                verify_release(store.active(), [keypair[1]])
            except KioskError as exc:  # every way it is incomplete is a finding
                wrong.append(f"{version}: said live, but {exc}")
    finally:
        stop.touch()
        watcher.join(timeout=60)
        for proc in recoverers:
            proc.wait(timeout=60)
    assert not wrong, f"{len(wrong)} of {len(rounds)} installs were not true: {wrong}"
    assert statuses, "status never ran during the installs"
    assert all(s.returncode == 0 and "Traceback" not in s.stderr for s in statuses)
    assert [proc.returncode for proc in recoverers] == [0]
    assert store.current_version == rounds[-1]
    verify_release(store.active(), [keypair[1]])


HOLDER = """
import fcntl, os, sys
fd = os.open(sys.argv[1], os.O_RDONLY | os.O_CREAT, 0o644)
fcntl.flock(fd, fcntl.LOCK_EX)
print("held", flush=True)
sys.stdin.read()  # hold it until the test closes our stdin
"""


def test_status_does_not_wait_and_install_waits_while_another_process_holds_releases(
    tmp_path, keypair
):
    data = tmp_path / "data"
    env = {"KIOSK_DATA_DIR": str(data), "KIOSK_TRUSTED_KEYS": f"{keypair[0]}.pub"}
    store = ReleaseStore(data)
    store.install(make_release(tmp_path / "r1", keypair[0], 1), [keypair[1]])
    (data / "releases" / ".incoming-2-999999").mkdir()  # another process's copy, mid-install
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(data / "releases.lock")],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline() == "held\n"
        status = run_kiosk("release", "status", env=env, timeout=60)
        assert status.returncode == 0
        assert "being installed right now" in status.stderr
        assert (data / "releases" / ".incoming-2-999999").is_dir()
        install = subprocess.Popen(
            [*KIOSK, "release", "install", str(make_release(tmp_path / "r2", keypair[0], 2))],
            env={**os.environ, **env},
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        with pytest.raises(subprocess.TimeoutExpired):
            install.wait(timeout=2)  # still waiting for the lock, not finished behind its back
        assert store.current_version == 1
    finally:
        holder.stdin.close()
        holder.wait(timeout=60)
        holder.stdout.close()
    out, err = install.communicate(timeout=120)
    assert install.returncode == 0, err
    assert "Release 2 is installed and live." in out
    assert store.current_version == 2
    assert not (data / "releases" / ".incoming-2-999999").exists()  # tidied under the lock
