"""`kiosk display` for real: pywebview (GTK WebKit) fullscreen under Xvfb and a window manager."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import KIOSK

DRIVER = Path(__file__).with_name("display_driver.py")


@pytest.fixture(scope="module")
def screen():
    """A virtual 800x480 screen with matchbox, the window manager fullscreen needs."""
    number = random.randint(90, 190)
    xvfb = subprocess.Popen(
        ["Xvfb", f":{number}", "-screen", "0", "800x480x24", "-nolisten", "tcp"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    env = {**os.environ, "DISPLAY": f":{number}"}
    time.sleep(1)
    wm = subprocess.Popen(["matchbox-window-manager", "-use_titlebar", "no"], env=env,
                          stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    time.sleep(0.5)
    yield env
    for proc in (wm, xvfb):
        proc.terminate()
        proc.wait(timeout=10)


def test_display_shows_the_screen_reacts_to_buttons_and_survives_a_dead_web_view(
    screen, sample_server, tmp_path
):
    shot = tmp_path / "screen.png"
    result = subprocess.run(
        [sys.executable, str(DRIVER), sample_server.url + "/screen/", str(shot)],
        env=screen, capture_output=True, text=True, timeout=180, check=False,
    )  # fmt: skip
    events = {e["event"]: e for e in map(json.loads, result.stdout.splitlines()) if e}
    assert "closed" in events, result.stderr[-2000:]
    assert events["ready"]["url"].endswith("/screen/")
    colours = subprocess.run(["identify", "-format", "%k", str(shot)], capture_output=True,
                             text=True, check=True).stdout  # fmt: skip
    assert int(colours) > 50  # not a blank screen: the language choice, in five scripts
    assert events["navigated"]["url"].endswith("/screen/ne/")
    assert events["pressed"]["url"].endswith("/screen/")  # the Language button did it
    assert events["killed"]["count"] >= 1  # its own web process, found by id
    assert events["revived"]["reloads"] >= 1 and events["revived"]["text"] > 0
    assert events["lights"] == {"event": "lights", "on_list": False, "on_guide": True,
                                "status": "ok"}  # fmt: skip


def test_display_closes_cleanly_on_a_signal(screen, sample_server):
    proc = subprocess.Popen(
        [*KIOSK, "display", "--url", sample_server.url + "/screen/"],
        env={**screen, "GPIOZERO_PIN_FACTORY": "mock"}, stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    time.sleep(8)
    assert proc.poll() is None
    proc.send_signal(signal.SIGTERM)
    _out, err = proc.communicate(timeout=20)
    assert proc.returncode == 0, err[-2000:]
    assert "Display closed" in err
