"""The kiosk's physical buttons, lights and motion sensor, through gpiozero.

Each button does what the same touch would: it calls ``window.kiosk.press(name)`` in the open
page (through the display window's evaluate_js), so the page changes without a reload. The
pins come from settings; tests drive the very same objects through gpiozero's MockFactory
(``GPIOZERO_PIN_FACTORY=mock``), the one stand-in allowed, because there is no Pi here.
"""

from __future__ import annotations

import json
import shlex
import subprocess
import threading
from collections.abc import Callable

from gpiozero import LED, Button, MotionSensor

BUTTONS = ("listen", "next", "previous", "language", "home")
SHUTDOWN_HOLD_SECONDS = 3.0
# Status light patterns (on seconds, off seconds): steady, slow blink, fast blink.
PATTERNS = {"ok": None, "syncing": (1.0, 1.0), "problem": (0.15, 0.15), "off": "off"}


class StatusLight:
    """One LED that tells, from across the room, how the kiosk is."""

    def __init__(self, pin: int) -> None:
        self.led = LED(pin)
        self.state = "off"
        self.show("ok")

    def show(self, state: str) -> None:
        pattern = PATTERNS[state]
        self.state = state
        if pattern == "off":
            self.led.off()
        elif pattern is None:
            self.led.on()
        else:
            self.led.blink(on_time=pattern[0], off_time=pattern[1], background=True)

    def close(self) -> None:
        self.led.close()


class Controls:
    """Buttons, lights and the motion sensor, wired to the open page and through it to the voice.

    A press or a wave does what a touch would, and the page speaks for it (the chosen item, a
    guide, the welcome) from the release's recordings.
    """

    def __init__(
        self,
        settings,
        run_js: Callable[[str], object],
        greet: Callable[[], object] | None = None,
        shutdown: Callable[[], object] | None = None,
    ) -> None:
        self.run_js = run_js
        self.greet = greet or (lambda: None)
        self.command = settings.shutdown_command
        self.pressed: list[str] = []
        self.buttons: dict[str, Button] = {}
        for name in BUTTONS:
            button = Button(getattr(settings, f"pin_{name}"), bounce_time=0.05)
            button.when_pressed = lambda _b=None, name=name: self.press(name)
            self.buttons[name] = button
        self.power = Button(settings.pin_shutdown, hold_time=SHUTDOWN_HOLD_SECONDS)
        self.power.when_held = shutdown or self.shut_down
        self.listen_light = LED(settings.pin_listen_light)
        self.status = StatusLight(settings.pin_status_light)
        self.motion = None
        if settings.pin_motion:
            self.motion = MotionSensor(settings.pin_motion)
            self.motion.when_motion = self.wake
        self._lock = threading.Lock()

    def press(self, name: str) -> None:
        """A button was pressed: the open page does what the same touch would."""
        with self._lock:
            self.pressed.append(name)
        self.run_js(f"window.kiosk && window.kiosk.press({json.dumps(name)})")

    def wake(self) -> None:
        """Someone came near: leave the attract screen and greet them, softly."""
        self.run_js("window.kiosk && window.kiosk.wake()")
        self.greet()

    def audio_available(self, available: bool) -> None:
        """Light the Listen button while the page has something to read aloud."""
        if available:
            self.listen_light.on()
        else:
            self.listen_light.off()

    def shut_down(self) -> None:
        subprocess.run(shlex.split(self.command), check=False, timeout=60)

    def close(self) -> None:
        for device in (*self.buttons.values(), self.power, self.listen_light, self.motion):
            if device is not None:
                device.close()
        self.status.close()
