"""rsync over a pinned SSH connection (or between local folders), and what its errors mean.

Every run has a timeout: a link that goes silent (headquarters' rsync stopped, a radio that
stays up but carries nothing) ends the run after ``timeout`` seconds instead of holding the
sync lock for ever (see ``kiosk.device.sync.watch``). What the person reads is ssh's or rsync's own
reason, in one sentence, never rsync's closing "unexplained error (code 255)".
"""

from __future__ import annotations

import os
import re
import shlex
from dataclasses import dataclass

from kiosk.device.sync.watch import Stalled, run_watched
from kiosk.errors import KioskError

# -z: snapshots and catalog.json shrink tenfold; rsync skips compressing MP3 by itself.
RSYNC_BASE = ["-az", "--partial", "--delay-updates", "--stats", "--no-owner", "--no-group"]
DEFAULT_TIMEOUT = 60
# A last resort only: silence ends a run long before; a slow but moving one stopped here is
# resumed by the next sync from rsync's partial files.
HARD_LIMIT = 3600
# rsync's exit codes for "some files were not there": the check that follows says which.
SOME_MISSING = (23, 24)
TIMED_OUT = (30, 35)


class SyncFailed(KioskError):
    """Headquarters or the stick could not be reached, or a copy failed on the way."""

    exit_code = 6

    def __init__(self, message: str, exit_code: int | None = None) -> None:
        super().__init__(message)
        if exit_code is not None:
            self.exit_code = exit_code


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


@dataclass(frozen=True)
class Peer:
    """The other end of an SSH sync: what the ``ssh`` that rsync runs needs to know.

    ``key`` is the one private key ssh offers (IdentitiesOnly). An empty ``user`` or a zero
    ``port`` leaves the choice to ssh itself (its config, else the local user and port 22).
    """

    host: str
    user: str
    key: str | os.PathLike[str]
    port: int = 22

    @property
    def remote(self) -> str:
        """rsync's prefix for a path on this peer: ``user@host:``."""
        return f"{self.user}@{self.host}:" if self.user else f"{self.host}:"


def ssh_command(
    conn: Peer, known_hosts: str | os.PathLike[str], timeout: int = DEFAULT_TIMEOUT
) -> list[str]:
    """The ``ssh`` that rsync runs: pinned host key, one key of our own, no questions."""
    command = ["ssh"]
    if conn.port:
        command += ["-p", str(conn.port)]
    command += [
        "-o", "BatchMode=yes",
        "-o", "IdentitiesOnly=yes",
        "-o", "StrictHostKeyChecking=yes",
        "-o", f"UserKnownHostsFile={known_hosts}",
        # The same patience everywhere: connecting, and hearing nothing on an open link.
        "-o", f"ConnectTimeout={timeout}",
        "-o", f"ServerAliveInterval={max(1, timeout // 3)}",
        "-o", "ServerAliveCountMax=3",
    ]  # fmt: skip
    return [*command, "-i", os.fspath(conn.key)]


def _stats(output: str) -> Transfer:
    def number(label: str) -> int:
        match = re.search(rf"{label}: ([\d,.]+)", output)
        return int(re.sub(r"[,.]", "", match.group(1))) if match else 0

    return Transfer(number("Total bytes sent"), number("Total bytes received"))


def _tidy(text: str) -> str:
    """One line, no control characters, not a screenful: what a person can read."""
    text = re.sub(r"[\x00-\x1f\x7f]+", " ", text).strip().rstrip(".")
    return text[:200]


def _possessive(name: str) -> str:
    return f"{name}'" if name.endswith("s") else f"{name}'s"


def explain(stderr: str, code: int, what: str, peer: str, timeout: int, pinned: str = "") -> str:
    """Turn rsync's and ssh's complaints into one sentence that names the real reason."""
    lines = [line.strip() for line in stderr.splitlines() if line.strip()]
    text = "\n".join(lines)
    if code in TIMED_OUT or re.search(r"io timeout|timed out|Timeout, server", text):
        if "Connection timed out" in text and "banner" not in text:
            return f"{peer} could not be reached: Connection timed out."
        return f"{peer} stopped answering for {timeout} seconds, so the sync gave up."
    if "Host key verification failed" in text:
        return (
            f"{_possessive(peer)} host key is not the one pinned in {pinned or 'known_hosts'}, "
            "so the kiosk did not connect (ssh: Host key verification failed)."
        )
    if "Permission denied" in text:
        return f"{peer} did not accept this kiosk's SSH key (ssh: Permission denied)."
    for line in lines:
        match = re.match(r"ssh: connect to host (\S+) port (\d+): (.+)", line)
        if match:
            host, port, reason = match.groups()
            return f"{peer} ({host}, port {port}) could not be reached: {_tidy(reason)}."
        if line.startswith("ssh: "):
            return f"{peer} could not be reached: {_tidy(line[5:])}."
    # The first complaint says what went wrong; rsync's later ones only that it stopped.
    causes = [line for line in lines if re.match(r"(\S*/)?rrsync( error)?:", line)]
    causes += [line for line in lines if line.startswith("rsync:") and "unexpectedly" not in line]
    if causes:
        detail = re.sub(r"^\S*?r?rsync( error)?:\s*(\[\w+\]\s*)?", "", causes[0])
        return f"Copying {what} failed: {_tidy(detail)}."
    if code == 255 or not lines:
        return f"{peer} closed the connection while copying {what}."
    return f"Copying {what} failed: {_tidy(lines[0])}."


def rsync(
    conn: Peer | None,
    known_hosts: str | os.PathLike[str] | None,
    source: str,
    target: str,
    *extra: str,
    progress: bool = False,
    timeout: int = DEFAULT_TIMEOUT,
    what: str | None = None,
    peer: str | None = None,
    pinned: str = "",
    missing_ok: bool = False,
) -> Transfer:
    """Run rsync, over SSH to ``conn`` when given (``:path`` names a remote path there).

    ``what`` and ``peer`` name the copy and the other side in messages; ``pinned`` names
    where the host key is pinned. ``missing_ok`` accepts rsync's "some files were not
    there": the verification that follows names the missing file better than rsync does.
    """
    timeout = max(1, timeout)  # rsync reads 0 as "wait for ever"
    command = ["rsync", *RSYNC_BASE, f"--timeout={timeout}", *extra]
    if progress:
        command.append("--info=progress2")
    if conn is not None:
        command += ["-e", shlex.join(ssh_command(conn, known_hosts, timeout))]
        remote = conn.remote
        source = remote + source[1:] if source.startswith(":") else source
        target = remote + target[1:] if target.startswith(":") else target
    command += [source, target]
    what = what or f"{source} to {target}"
    peer = peer or ("The remote computer" if conn is not None else "The other side")
    try:
        code, stdout, stderr = run_watched(command, timeout, HARD_LIMIT, echo=progress)
    except Stalled as stop:
        why = (
            f"{peer} stopped answering for {timeout} seconds"
            if stop.silent
            else f"Copying {what} took over {HARD_LIMIT // 60} minutes"
        )
        raise SyncFailed(f"{why}, so the sync gave up.") from None  # the next resumes
    if code != 0 and not (missing_ok and code in SOME_MISSING):
        raise SyncFailed(explain(stderr, code, what, peer, timeout, pinned))
    return _stats(stdout)
