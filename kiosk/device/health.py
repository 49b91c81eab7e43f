"""How the device is doing, in numbers a librarian can read. Never raises: "not available"."""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from pathlib import Path

THERMAL_ZONE = "/sys/class/thermal/thermal_zone0/temp"  # the Pi's CPU sensor


def cpu_temperature() -> float | None:
    """Degrees Celsius from gpiozero's CPUTemperature, or None where there is no sensor."""
    try:
        os.environ.setdefault("GPIOZERO_PIN_FACTORY", "mock")
        from gpiozero import CPUTemperature

        sensor = CPUTemperature(sensor_file=THERMAL_ZONE)
        try:
            return round(float(sensor.temperature), 1)
        finally:
            sensor.close()
    except Exception:
        return None


def throttled() -> bool | None:
    """True when the Pi has slowed itself down for heat or low voltage (vcgencmd), else None."""
    tool = shutil.which("vcgencmd")
    if tool is None:
        return None
    try:
        out = subprocess.run([tool, "get_throttled"], capture_output=True, text=True, timeout=3)
        value = int(out.stdout.strip().split("=")[1], 16)
    except (OSError, ValueError, IndexError, subprocess.TimeoutExpired):
        return None
    return bool(value & 0xF)


def disk_free(path: str | os.PathLike[str]) -> int | None:
    try:
        return shutil.disk_usage(path).free
    except OSError:
        return None


def disk_total(path: str | os.PathLike[str]) -> int | None:
    try:
        return shutil.disk_usage(path).total
    except OSError:
        return None


def uptime_seconds() -> float | None:
    try:
        return float(Path("/proc/uptime").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None


def process_age(started: float) -> float:
    return time.monotonic() - started
