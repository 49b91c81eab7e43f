"""Run `kiosk display` in this process and drive it like a visitor and a failing Pi would.

Started by tests/integration/test_display.py under Xvfb with a window manager. Prints one
JSON line per observation for the test to read. gpiozero's MockFactory stands in for pins.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

os.environ["GPIOZERO_PIN_FACTORY"] = "mock"

from kiosk.config import load_settings
from kiosk.device.window import display


def say(**data) -> None:
    print(json.dumps(data), flush=True)


def shot(name: str) -> None:
    subprocess.run(["import", "-window", "root", name], check=True, timeout=30)


def own_web_processes() -> list[int]:
    """The WebKitWebProcess ids descended from this process (through bwrap, if sandboxed)."""
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            parents[int(entry.name)] = int(stat.rsplit(")", 1)[1].split()[1])
    found, mine, frontier = [], {os.getpid()}, [os.getpid()]
    while frontier:
        parent = frontier.pop()
        for pid, ppid in parents.items():
            if ppid == parent and pid not in mine:
                mine.add(pid)
                frontier.append(pid)
                try:
                    if Path(f"/proc/{pid}/comm").read_text().startswith("WebKitWebProces"):
                        found.append(pid)
                except OSError:
                    pass
    return found


def scenario(window) -> None:
    try:
        say(event="ready", seconds=window.first_page_seconds, url=window.window.get_current_url())
        time.sleep(2)  # the page is in the DOM; let it be painted
        shot(sys.argv[2])
        button = window.controls.buttons["language"]
        window.run_js("location.replace('/screen/ne/')")
        time.sleep(2)
        say(event="navigated", url=window.window.get_current_url())
        button.pin.drive_low()
        time.sleep(0.1)
        button.pin.drive_high()
        time.sleep(2)
        say(event="pressed", url=window.window.get_current_url())
        time.sleep(6)  # one check of the watch on the language choice (nothing to hear there)
        lit = window.controls.listen_light.is_lit
        window.run_js("location.replace('/screen/ne/guide/documents')")
        time.sleep(6)  # one check of the watch
        say(event="lights", on_list=lit, on_guide=window.controls.listen_light.is_lit,
            status=window.controls.status.state)  # fmt: skip
        # The web process dies (out of memory, a WebKit bug): the window must bring it back.
        # Only this window's own web process, found among this process's descendants: other
        # webviews on the machine (a developer's, another test's) are none of its business.
        killed = [os.kill(pid, signal.SIGKILL) or pid for pid in own_web_processes()]
        say(event="killed", count=len(killed))
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and window.reloads == 0:
            time.sleep(0.2)
        time.sleep(3)
        text = window.run_js("document.body ? document.body.innerText.length : 0")
        say(event="revived", reloads=window.reloads, text=int(text or 0))
    finally:
        window.close()


if __name__ == "__main__":
    settings = load_settings(environ={**os.environ, "KIOSK_DATA_DIR": "/nonexistent"})
    display(sys.argv[1], settings, on_ready=scenario)
    say(event="closed")
