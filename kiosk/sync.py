"""Sync with headquarters: signed releases come in, usage snapshots and a heartbeat go out.

Over SSH, rsync moves only what changed (delta transfer, resumable with ``--partial`` and
``--delay-updates``). The SSH options come from a fabric ``Connection`` (host, port, user, key
files), with headquarters' host key pinned in a known_hosts file and BatchMode on, so a
kiosk never asks a question nobody is there to answer and never trusts a key it has not been
given. By USB stick the layout is the same, so one code path serves both.

Layout (headquarters' sync root, or the root of a USB stick)::

    releases/<channel>/LATEST         the newest version number, one line
    releases/<channel>/<version>/     a signed release folder
    inbox/<device>/usage-<day>.json   what a device sends (see docs/usage.md)
    inbox/<device>/heartbeat.json
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import shlex
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from kiosk import __version__
from kiosk.errors import KioskError, ReleaseRejected
from kiosk.files import write_atomic
from kiosk.releases.install import ReleaseStore
from kiosk.releases.manifest import PublicKey

HEARTBEAT = "heartbeat.json"
MAX_BACKOFF = 6 * 3600
# -z: snapshots and catalog.json shrink tenfold; rsync skips compressing MP3 by itself.
RSYNC_BASE = ["-az", "--partial", "--delay-updates", "--stats", "--no-owner", "--no-group"]


class SyncFailed(KioskError):
    """Headquarters could not be reached, or refused what was asked."""

    exit_code = 6


@dataclass
class Transfer:
    sent: int = 0
    received: int = 0

    def __iadd__(self, other: Transfer) -> Transfer:
        self.sent += other.sent
        self.received += other.received
        return self

    @property
    def total(self) -> int:
        return self.sent + self.received


def ssh_command(conn, known_hosts: str | os.PathLike[str]) -> list[str]:
    """The ``ssh`` that rsync runs, built from a fabric Connection: pinned key, no questions."""
    keys = conn.connect_kwargs.get("key_filename") or []
    if isinstance(keys, str | os.PathLike):  # fabric gives a list; accept one path as well
        keys = [keys]
    command = [
        "ssh",
        "-p", str(conn.port),
        "-o", "BatchMode=yes",
        "-o", "IdentitiesOnly=yes",
        "-o", "StrictHostKeyChecking=yes",
        "-o", f"UserKnownHostsFile={known_hosts}",
        "-o", "ConnectTimeout=20",
        "-o", "ServerAliveInterval=15",
    ]  # fmt: skip
    for key in keys:
        command += ["-i", str(key)]
    return command


def _stats(output: str) -> Transfer:
    def number(label: str) -> int:
        match = re.search(rf"{label}: ([\d,.]+)", output)
        return int(re.sub(r"[,.]", "", match.group(1))) if match else 0

    return Transfer(number("Total bytes sent"), number("Total bytes received"))


def rsync(
    conn,
    known_hosts: str | os.PathLike[str] | None,
    source: str,
    target: str,
    *extra: str,
    progress: bool = False,
) -> Transfer:
    """Run rsync, over SSH when ``conn`` is given (``:path`` names a remote path)."""
    command = ["rsync", *RSYNC_BASE, *extra]
    if progress:
        command.append("--info=progress2")
    if conn is not None:
        command += ["-e", shlex.join(ssh_command(conn, known_hosts))]
        remote = f"{conn.user}@{conn.host}:"
        source = remote + source[1:] if source.startswith(":") else source
        target = remote + target[1:] if target.startswith(":") else target
    command += [source, target]
    result = subprocess.run(
        command,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE if not progress else None,
        text=True,
        check=False,
        timeout=3600,
    )
    if progress and result.stdout:
        sys.stderr.write(result.stdout.split("\nNumber of files")[0] + "\n")
    if result.returncode != 0:
        why = (result.stderr or "").strip().splitlines()
        raise SyncFailed(
            f"Copying {source} to {target} failed (rsync exit {result.returncode}): "
            f"{why[-1] if why else 'no details'}"
        )
    return _stats(result.stdout)


# ---------------------------------------------------------------- what goes out


def heartbeat(settings, store: ReleaseStore, usage_health: dict | None = None) -> dict:
    """How this kiosk is doing, for headquarters' fleet view. No visitor data at all."""
    from kiosk.device import health

    state = read_state(settings.data_dir)
    return {
        "format": 1,
        "device": settings.device_name,
        "day": dt.date.today().isoformat(),
        "release": store.current_version,
        "app_version": __version__,
        "last_sync": state.get("summary"),
        "last_sync_ok": state.get("ok"),
        "disk_free": health.disk_free(settings.data_dir),
        "temperature": health.cpu_temperature(),
        "uptime": health.uptime_seconds(),
        "errors": usage_health or {},
    }


def prepare_outbox(settings) -> Path:
    """Write today's and yesterday's snapshots and a heartbeat into the outbox."""
    from kiosk.usage import write_snapshots

    data = Path(settings.data_dir)
    outbox = data / "outbox"
    outbox.mkdir(parents=True, exist_ok=True)
    write_snapshots(data / "usage.db", outbox, settings.device_name, settings.k_anonymity)
    beat = heartbeat(settings, ReleaseStore(data))
    write_atomic(outbox / HEARTBEAT, json.dumps(beat, sort_keys=True) + "\n")
    # Snapshots older than 60 days have long been delivered; the outbox stays small.
    cutoff = (dt.date.today() - dt.timedelta(days=60)).isoformat()
    for old in outbox.glob("usage-*.json"):
        if old.stem[len("usage-") :] < cutoff:
            old.unlink()
    return outbox


# ---------------------------------------------------------------- state and backoff


def read_state(data_dir) -> dict:
    try:
        data = json.loads((Path(data_dir) / "sync-state.json").read_text(encoding="utf-8"))
        return data if isinstance(data, dict) else {}
    except (OSError, ValueError):
        return {}


def write_state(data_dir, state: dict) -> None:
    write_atomic(Path(data_dir) / "sync-state.json", json.dumps(state, sort_keys=True))


def due(data_dir, now: float | None = None) -> bool:
    """False while backing off after failures (headquarters unreachable)."""
    now = time.time() if now is None else now
    return now >= float(read_state(data_dir).get("next_attempt", 0))


def record(data_dir, ok: bool, summary: str, now: float | None = None) -> dict:
    now = time.time() if now is None else now
    state = read_state(data_dir)
    failures = 0 if ok else int(state.get("failures", 0)) + 1
    wait = 0 if ok else min(MAX_BACKOFF, 60 * 2 ** min(failures, 12))
    state.update(
        running=False,
        ok=ok,
        summary=summary,
        failures=failures,
        next_attempt=now + wait,
        when=dt.datetime.fromtimestamp(now, dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
    )
    write_state(data_dir, state)
    return state


# ---------------------------------------------------------------- the two directions


def _latest(text: str) -> int:
    try:
        version = int(text.strip())
    except ValueError:
        raise SyncFailed("Headquarters' LATEST file does not hold a version number.") from None
    if version <= 0:
        raise SyncFailed("Headquarters' LATEST file does not hold a version number.")
    return version


def _limits(settings) -> list[str]:
    return [f"--bwlimit={settings.sync_bwlimit}"] if settings.sync_bwlimit > 0 else []


def pull(
    conn, known_hosts, settings, trusted: list[PublicKey], root: str = ":", progress=False
) -> tuple[int | None, Transfer]:
    """Fetch the newest release into staging and install it if it is newer. Returns version."""
    data = Path(settings.data_dir)
    staging = data / "staging" / settings.release_channel
    staging.mkdir(parents=True, exist_ok=True)
    channel = (
        f"{root.rstrip('/')}/releases/{settings.release_channel}"
        if root != ":"
        else (f":{settings.release_channel}")
    )
    transfer = Transfer()
    latest_file = data / "staging" / f"{settings.release_channel}.LATEST"
    transfer += rsync(conn, known_hosts, f"{channel}/LATEST", str(latest_file))
    version = _latest(latest_file.read_text(encoding="ascii", errors="replace"))
    store = ReleaseStore(data)
    if version <= store.highest():
        return None, transfer
    # Into the same staging folder every time: rsync then sends only what changed.
    transfer += rsync(conn, known_hosts, f"{channel}/{version}/", f"{staging}/", "--delete",
                      *_limits(settings), progress=progress)  # fmt: skip
    store.install(staging, trusted)
    return version, transfer


def push(conn, known_hosts, settings, target: str = ":", progress=False) -> Transfer:
    """Send the outbox (snapshots and heartbeat) to this device's inbox."""
    outbox = prepare_outbox(settings)
    return rsync(conn, known_hosts, f"{outbox}/", target if target != ":" else ":./",
                 "--exclude", ".*", *_limits(settings), progress=progress)  # fmt: skip


def sync_over_ssh(settings, trusted, progress=False) -> str:
    from fabric import Connection

    conn = Connection(
        settings.hq_host,
        user=settings.hq_user,
        port=settings.hq_port,
        connect_kwargs={"key_filename": [settings.hq_read_key]},
    )
    writer = Connection(
        settings.hq_host,
        user=settings.hq_user,
        port=settings.hq_port,
        connect_kwargs={"key_filename": [settings.hq_write_key]},
    )
    known = settings.hq_known_hosts
    version, got = pull(conn, known, settings, trusted, progress=progress)
    sent = push(writer, known, settings, progress=progress)
    news = f"installed release {version}" if version else "no newer release"
    return f"{news}; sent usage figures ({got.total + sent.total} bytes on the wire)"


def sync_usb(settings, trusted, stick: str | os.PathLike[str]) -> str:
    """The same exchange with a USB stick: install its release, leave figures on it."""
    stick = Path(stick)
    if not (stick / "releases").is_dir() and not (stick / "inbox").is_dir():
        raise SyncFailed(f"{stick} does not look like a kiosk stick (no releases/ or inbox/).")
    messages = []
    if (stick / "releases" / settings.release_channel / "LATEST").is_file():
        try:
            version, _ = pull(None, None, settings, trusted, root=str(stick))
            messages.append(f"installed release {version}" if version else "no newer release")
        except ReleaseRejected as exc:
            messages.append(f"the stick's release was refused: {exc.message}")
    inbox = stick / "inbox" / settings.device_name
    inbox.mkdir(parents=True, exist_ok=True)
    outbox = prepare_outbox(settings)
    for item in outbox.iterdir():
        if item.is_file() and not item.name.startswith("."):
            write_atomic(inbox / item.name, item.read_bytes())  # a stick may be pulled out
    messages.append("usage figures saved on the stick")
    return "; ".join(messages)
