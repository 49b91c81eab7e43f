"""Figures for the booted device: how long a kiosk takes to come up, and what it is made of.

Run: .venv/bin/python benchmarks/system_bench.py [--cold]   (as root; part of ./dev bench)

It runs the system test (tests/system: image, artifact, VM, `fab provision`, reboot, phones,
USB stick) and prints the figures that run recorded: seconds from power-on to a phone's
connectivity probe landing on the portal, provisioning and boot times, the artifact's size,
and `systemd-analyze security` for kiosk-web and kiosk-display. --cold also builds the image
into an empty cache once, for the cold build time next to the cached one.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.system import image  # noqa: E402


def main() -> None:
    if "--cold" in sys.argv:
        with tempfile.TemporaryDirectory() as cache:
            env = {**os.environ, "XDG_CACHE_HOME": cache}
            started = time.monotonic()
            subprocess.run([sys.executable, "-m", "tests.system.image"], cwd=ROOT, env=env,
                           check=True, capture_output=True)  # fmt: skip
            print(f"image build, cold: {time.monotonic() - started:.0f} s")
    started = time.monotonic()
    image.build()
    print(f"image build, cached: {time.monotonic() - started:.1f} s")
    figures_file = image.cache_root() / "figures-amd64.json"
    figures_file.unlink(missing_ok=True)
    started = time.monotonic()
    run = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                          "tests/system"], cwd=ROOT, capture_output=True, text=True)  # fmt: skip
    last = run.stdout.strip().splitlines()[-1] if run.stdout.strip() else "no output"
    print(f"system test: {time.monotonic() - started:.0f} s, {last}")
    figures = json.loads(figures_file.read_text())
    rows = [
        ("accelerator", figures.get("accelerator"), ""),
        ("power-on to a phone's probe on the portal", figures.get("power_on_to_portal_seconds"),
         "s"),
        ("first boot to SSH", figures.get("first_boot_ssh_seconds"), "s"),
        ("fab provision", figures.get("provision_seconds"), "s"),
        ("reboot to SSH", figures.get("reboot_ssh_seconds"), "s"),
        ("USB stick plugged in to release live", figures.get("usb_install_seconds"), "s"),
        ("frozen web server restarted by its watchdog", figures.get("watchdog_restart_seconds"),
         "s"),
        ("image build, cold (when it was built)", figures.get("image_cold_build_seconds"), "s"),
        ("install artifact", round(figures.get("artifact_bytes", 0) / 1e6, 1), "MB"),
        ("systemd-analyze security kiosk-web", figures.get("security_kiosk_web"), ""),
        ("systemd-analyze security kiosk-proxy", figures.get("security_kiosk_proxy"), ""),
        ("systemd-analyze security kiosk-display", figures.get("security_kiosk_display"), ""),
    ]  # fmt: skip
    for name, value, unit in rows:
        print(f"{name}: {value}{' ' + unit if unit else ''}")


if __name__ == "__main__":
    main()
