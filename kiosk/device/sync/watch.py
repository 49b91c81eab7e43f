"""Run rsync and stop it once nothing has moved for a while.

rsync's own ``--timeout`` misses the worst case. When the far side stops (its rsync stopped,
a disk that hangs), the receiving rsync keeps writing four-byte keep-alives into the SSH
channel, every write succeeds into its buffers, and rsync never times out (seen with rsync
3.5 against a stopped sender: still waiting after minutes). So the kiosk watches for itself:
the bytes rsync's own processes read (``rchar`` in ``/proc/<pid>/io``; ssh's are left out, as
ssh reads the keep-alives and the server's answers to its own) and anything rsync prints. A
transfer at any speed above some 20 bytes a second moves at least ``ALIVE`` bytes a minute;
keep-alives alone do not.
"""

from __future__ import annotations

import contextlib
import os
import selectors
import signal
import subprocess
import sys
import time
from pathlib import Path

ALIVE = 1024  # bytes read that count as "still moving"


class Stalled(Exception):
    """rsync moved nothing for the whole timeout (``silent``), or ran past the hard limit."""

    def __init__(self, silent: bool) -> None:
        super().__init__()
        self.silent = silent


def _bytes_read(group: int) -> int | None:
    """Bytes read so far by the processes of rsync's group, ssh left out (None: unknown)."""
    total, seen = 0, False
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            comm, fields = stat[stat.index("(") + 1 : stat.rindex(")")], stat.rsplit(")", 1)[1]
            if int(fields.split()[2]) != group or comm == "ssh":
                continue
            io = (entry / "io").read_text()
        except (OSError, ValueError, IndexError):
            continue
        total += int(io.split("rchar:", 1)[1].split()[0])
        seen = True
    return total if seen else None


def run_watched(
    command: list[str], timeout: int, hard_limit: int, echo: bool = False
) -> tuple[int, str, str]:
    """Run ``command``; return its exit code, the tail of its output and the head of its errors.

    Raise Stalled when it moved nothing for ``timeout`` seconds or ran ``hard_limit``
    seconds. It runs in a process group of its own, so the ssh it started ends with it.
    """
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            process_group=0)  # fmt: skip
    out, err = bytearray(), bytearray()
    buffers = {proc.stdout: out, proc.stderr: err}
    started = last = time.monotonic()
    mark = 0
    try:
        with selectors.DefaultSelector() as selector:
            for stream in buffers:
                selector.register(stream, selectors.EVENT_READ)
            while selector.get_map():
                for key, _ in selector.select(timeout=1):
                    chunk = os.read(key.fd, 65536)
                    if not chunk:
                        selector.unregister(key.fileobj)
                        continue
                    last = time.monotonic()
                    buffers[key.fileobj].extend(chunk)
                    if key.fileobj is proc.stdout and echo:
                        sys.stderr.buffer.write(chunk)
                        sys.stderr.flush()
                    del out[:-65536]  # progress lines pile up; the stats come last
                    del err[65536:]
                now = time.monotonic()
                moved = _bytes_read(proc.pid)
                if moved is not None and moved - mark >= ALIVE:
                    mark, last = moved, now
                if now - last > timeout or now - started > hard_limit:
                    raise Stalled(silent=now - last > timeout)
        code = proc.wait()
    finally:
        if proc.poll() is None:
            _stop(proc)
        for stream in buffers:
            stream.close()
    return code, out.decode(errors="replace"), err.decode(errors="replace")


def _stop(proc: subprocess.Popen) -> None:
    """SIGTERM first (rsync then keeps its partial file for the next try), then SIGKILL."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=5)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
