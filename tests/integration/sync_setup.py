"""What the sync tests share: headquarters on a real sshd, kiosks' settings, and small tools."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import time
from pathlib import Path

import pytest

from tests.conftest import FIXTURE_CONTENT, KIOSK, run_kiosk
from tests.sshd import SshServer


@pytest.fixture
def hq(tmp_path, keypair, speech_cache):
    """Headquarters: a sync root with release 100 published and kiosk-1 registered."""
    root = tmp_path / "hq"
    server = SshServer(tmp_path / "sshd")
    for name in ("kiosk-1", "kiosk-2"):
        out = run_kiosk("hq", "add-device", name, "--root", str(root),
                        "--authorized-keys", str(server.authorized_keys))  # fmt: skip
        assert out.returncode == 0, out.stderr
        assert out.stdout.count("restrict,command=") == 2
    publish(root, keypair, speech_cache, 100)
    yield root, server
    server.stop()


def publish(root: Path, keypair, speech_cache, version: int, content: Path = FIXTURE_CONTENT):
    published = run_kiosk(
        "hq", "publish", str(content), "--key", str(keypair[0]),
        "--root", str(root), "--version", str(version), "--cache", str(speech_cache),
    )  # fmt: skip
    assert published.returncode == 0, published.stderr


def changed_content(folder: Path) -> Path:
    """The fixture content with every guide changed: an update big enough to cut halfway."""
    shutil.copytree(FIXTURE_CONTENT, folder)
    for md in folder.glob("guides/*/*.md"):
        md.write_text(md.read_text() + "\nOne more sentence here, said slowly and clearly.\n")
    return folder


def content_with_new_icon(folder: Path) -> Path:
    """The fixture content with the passport guide under a new icon, ``icons/a-stamp.svg``."""
    shutil.copytree(FIXTURE_CONTENT, folder)
    shutil.copyfile(folder / "icons/passport.svg", folder / "icons/a-stamp.svg")
    meta = folder / "guides/passport/guide.toml"
    meta.write_text(meta.read_text().replace('icon = "passport"', 'icon = "a-stamp"'))
    return folder


def device_env(tmp_path, root, server, keypair, name="kiosk-1", **extra):
    return {
        "KIOSK_DATA_DIR": str(tmp_path / f"device-{name}"),
        "KIOSK_DEVICE_NAME": name,
        "KIOSK_TRUSTED_KEYS": f"{keypair[0]}.pub",
        "KIOSK_HQ_HOST": "127.0.0.1",
        "KIOSK_HQ_PORT": str(server.port),
        "KIOSK_HQ_USER": server.user,
        "KIOSK_HQ_READ_KEY": str(root / "devices" / name / "read_key"),
        "KIOSK_HQ_WRITE_KEY": str(root / "devices" / name / "write_key"),
        "KIOSK_HQ_KNOWN_HOSTS": str(server.known_hosts),
        "KIOSK_K_ANONYMITY": "2",
        **extra,
    }


def stick_env(tmp_path, keypair, name="kiosk-2", **extra):
    return {"KIOSK_DATA_DIR": str(tmp_path / f"village-{name}"), "KIOSK_DEVICE_NAME": name,
            "KIOSK_TRUSTED_KEYS": f"{keypair[0]}.pub", "KIOSK_K_ANONYMITY": "2",
            **extra}  # fmt: skip


def start_sync(env: dict, *args: str) -> subprocess.Popen:
    """A ``kiosk sync`` in its own session, so the test can stop it and its rsync by pid."""
    return subprocess.Popen(
        [*KIOSK, "sync", *args], env={**os.environ, **env},
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True,
    )  # fmt: skip


def kill_session(proc: subprocess.Popen) -> None:
    """A power cut: the sync and everything below it die at once. rsync runs in a process
    group of its own (kiosk.device.sync.watch), so each descendant is killed by its pid too, and the
    cut is over only when none is left to write another file."""
    below = descendants(proc.pid)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)
    for pid in below:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    proc.communicate(timeout=60)
    gone = lambda: not any(Path(f"/proc/{pid}").exists() for pid in below)  # noqa: E731
    wait_for("the cut sync's processes to end", gone, timeout=30)


def wait_for(what: str, check, timeout: float = 60):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        time.sleep(0.05)
    raise AssertionError(f"gave up waiting for {what}")


def held_files(staging: Path) -> list[Path]:
    """Files rsync keeps in its holding folders (``.~tmp~``) until a transfer ends."""
    return [p for p in staging.rglob(".~tmp~/*") if p.is_file()]


def descendants(pid: int) -> list[int]:
    """Every process below ``pid`` (from /proc), so a test acts only on what it started."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        children.setdefault(ppid, []).append(int(entry.name))
    found, todo = [], [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def command_name(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/comm").read_text().strip()
    except OSError:
        return ""


def sparse_file(path: Path, size: int) -> Path:
    """A file that reads as ``size`` bytes but takes no disk (cheap to make, costly to fetch)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("wb") as fh:
        fh.truncate(size)
    return path


@contextlib.contextmanager
def mounted_tmpfs(folder: Path):
    """A real filesystem of its own (tmpfs), so the test can make it read-only like a stick."""
    if os.geteuid() != 0:
        pytest.skip("mounting a stick's stand-in needs root (CI runs the tests as root)")
    folder.mkdir(parents=True, exist_ok=True)
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64m", "tmpfs", str(folder)], check=True)
    try:
        yield folder
    finally:
        subprocess.run(["umount", "-l", str(folder)], check=False)
