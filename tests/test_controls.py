"""Buttons, lights and the motion sensor through gpiozero's MockFactory (there is no Pi here)."""

from __future__ import annotations

import time

import pytest
from gpiozero import Device
from gpiozero.pins.mock import MockFactory

from kiosk.config import load_settings
from kiosk.device.controls import Controls


@pytest.fixture
def controls(tmp_path):
    Device.pin_factory = MockFactory()
    sent: list[str] = []
    greeted: list[bool] = []
    settings = load_settings(environ={}, data_dir=str(tmp_path),
                             shutdown_command=f"touch {tmp_path / 'shut-down'}")  # fmt: skip
    device = Controls(settings, sent.append, greet=lambda: greeted.append(True))
    yield device, sent, greeted, tmp_path
    device.close()
    Device.pin_factory.close()
    Device.pin_factory = None


def tap(button) -> None:
    button.pin.drive_low()
    time.sleep(0.06)
    button.pin.drive_high()
    time.sleep(0.06)


def test_each_button_tells_the_page_what_to_do(controls):
    device, sent, _, _ = controls
    for name in ("listen", "next", "previous", "language", "home"):
        tap(device.buttons[name])
    assert device.pressed == ["listen", "next", "previous", "language", "home"]
    assert sent == [f'window.kiosk && window.kiosk.press("{n}")' for n in device.pressed]


def test_motion_wakes_the_page_and_greets(controls):
    device, sent, greeted, _ = controls
    time.sleep(0.6)  # the sensor's queue fills with "nobody" first; then someone comes
    device.motion.pin.drive_high()
    deadline = time.monotonic() + 3
    while not greeted and time.monotonic() < deadline:
        time.sleep(0.05)  # MotionSensor fills its queue before it decides
    assert greeted == [True]
    assert "window.kiosk && window.kiosk.wake()" in sent


def test_listen_light_follows_audio_and_status_light_has_patterns(controls):
    device, *_ = controls
    device.audio_available(True)
    assert device.listen_light.is_lit
    device.audio_available(False)
    assert not device.listen_light.is_lit
    assert device.status.led.is_lit  # steady: all is well
    device.status.show("problem")
    lit = set()
    for _ in range(20):
        lit.add(device.status.led.is_lit)
        time.sleep(0.03)
    assert lit == {True, False}  # blinking fast
    device.status.show("off")
    assert not device.status.led.is_lit


def test_a_long_press_shuts_down_a_short_one_does_not(controls):
    device, _, _, folder = controls
    device.power.pin.drive_low()
    time.sleep(0.3)
    device.power.pin.drive_high()
    assert not (folder / "shut-down").exists()
    device.power.pin.drive_low()
    deadline = time.monotonic() + 6
    while not (folder / "shut-down").exists() and time.monotonic() < deadline:
        time.sleep(0.1)
    device.power.pin.drive_high()
    assert (folder / "shut-down").exists()


def test_greeting_uses_the_languages_used_most_here(tmp_path, fixture_release, keypair):
    from kiosk.device.install import ReleaseStore
    from kiosk.device.usage import Usage
    from kiosk.device.window import greeting_urls

    ReleaseStore(tmp_path).install(fixture_release, [keypair[1]])
    settings = load_settings(environ={}, data_dir=str(tmp_path))
    assert greeting_urls(settings) == ["/media/100/audio/ui/en/welcome.mp3"]
    usage = Usage(tmp_path / "usage.db", start=False)
    for lang, n in (("ar", 5), ("ne", 3), ("en", 1)):
        for _ in range(n):
            usage.count_language(lang, "screen")
    usage.close()
    assert greeting_urls(settings) == [
        "/media/100/audio/ui/ar/welcome.mp3",
        "/media/100/audio/ui/ne/welcome.mp3",
    ]
