"""Figures for the touchscreen: time from `kiosk display` to a visible page, and the memory of
the window (pywebview + WebKit's processes) and the server together.

Run: ./dev bench   (or .venv/bin/python benchmarks/display_bench.py); uses Xvfb + matchbox.
Target: everything fits a 1 GB Raspberry Pi 3 with room to spare.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from kiosk.content.build import build_release  # noqa: E402
from kiosk.device.install import ReleaseStore  # noqa: E402
from kiosk.formats.manifest import generate_key  # noqa: E402
from kiosk.speech import Speaker  # noqa: E402
from tests.conftest import Server  # noqa: E402


def tree_pss_mb(pid: int) -> float:
    """Proportional memory (PSS: shared pages split fairly) of a process and its descendants."""
    pids, todo = set(), [pid]
    while todo:
        p = todo.pop()
        pids.add(p)
        children = subprocess.run(["pgrep", "-P", str(p)], capture_output=True, text=True).stdout
        todo += [int(c) for c in children.split()]
    total = 0
    for p in pids:
        with contextlib.suppress(OSError, TypeError):
            total += int(re.search(r"Pss:\s+(\d+)", Path(f"/proc/{p}/smaps_rollup").read_text())[1])
    return total / 1024


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        key = tmp / "key"
        public = generate_key(key)
        cache = Path(os.environ.get("KIOSK_SPEECH_CACHE_DIR", tmp / "cache"))
        build_release(ROOT / "content", tmp / "rel", key, Speaker(cache), version=1)
        ReleaseStore(tmp / "data").install(tmp / "rel", [public])
        server = Server(tmp / "data", Path(public.source))
        xvfb = subprocess.Popen(["Xvfb", ":177", "-screen", "0", "800x480x24", "-nolisten", "tcp"],
                                stderr=subprocess.DEVNULL)  # fmt: skip
        time.sleep(1)
        env = {**os.environ, "DISPLAY": ":177", "GPIOZERO_PIN_FACTORY": "mock"}
        wm = subprocess.Popen(["matchbox-window-manager", "-use_titlebar", "no"], env=env,
                              stderr=subprocess.DEVNULL)  # fmt: skip
        try:
            started = time.monotonic()
            window = subprocess.Popen(
                [sys.executable, "-m", "kiosk.cli", "display", "--url", server.url + "/screen/"],
                env=env, stderr=subprocess.PIPE, text=True,
            )  # fmt: skip
            line = ""
            while "first page shown" not in line:
                line = window.stderr.readline()
                if not line and window.poll() is not None:
                    sys.exit("the display did not start")
            seconds = time.monotonic() - started
            time.sleep(5)  # settle, then measure
            window_mb = tree_pss_mb(window.pid)
            server_mb = tree_pss_mb(server.proc.pid)
            window.send_signal(signal.SIGTERM)
            window.communicate(timeout=20)
        finally:
            server.stop()
            for proc in (wm, xvfb):
                proc.terminate()
                proc.wait(timeout=10)
    print(f"kiosk display to a visible page        {seconds:6.1f} s (Python start-up included)")
    print(f"window (pywebview + WebKit processes)  {window_mb:6.0f} MB (PSS)")
    print(f"server (kiosk serve)                   {server_mb:6.0f} MB (PSS)")
    together = window_mb + server_mb
    print(f"together                               {together:6.0f} MB of a Pi 3's 1024 MB")


if __name__ == "__main__":
    main()
