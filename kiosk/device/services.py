"""The device's system files, rendered from settings by one function (code is never templated).

    render(settings) -> {relative path: text}

Every file says why it is the way it is. This module checks the settings and gathers the
files: the hotspot's (kiosk.device.hotspot), the front server's (kiosk.device.nginx), the
systemd units (kiosk.device.units), and the few small ones below (logs in RAM, the kernel's
datagram queue, the USB stick's udev rule).
"""

from __future__ import annotations

import re

from kiosk.device.hotspot import hotspot_files
from kiosk.device.nginx import COUNTS_SOCKET, DGRAM_QUEUE, NGINX_CONFIG, nginx_conf
from kiosk.device.units import unit_files
from kiosk.errors import SettingsError


def _check(settings) -> None:
    if not re.fullmatch(r"[A-Z]{2}|00", settings.wifi_country):
        raise SettingsError("wifi_country must be two capital letters (or 00).")
    if not re.fullmatch(r"[a-z0-9]{1,15}", settings.hotspot_interface):
        raise SettingsError("hotspot_interface must be an interface name like wlan0.")
    ssid = settings.wifi_ssid
    if not 1 <= len(ssid.encode()) <= 32 or any(ord(c) < 32 for c in ssid):
        raise SettingsError("wifi_ssid must be 1 to 32 bytes with no control characters.")
    if not re.fullmatch(r"/[A-Za-z0-9._/-]+", settings.install_prefix):
        raise SettingsError("install_prefix must be an absolute path of plain characters.")
    if not re.fullmatch(r"[a-z_][a-z0-9_-]{0,31}", settings.service_user):
        raise SettingsError("service_user must be a plain Unix user name.")


def mode(path: str) -> int:
    """The file mode a rendered file must have: NetworkManager ignores a profile others can
    read (nm-settings-keyfile(5)), so the hotspot's is 0600; everything else is 0644."""
    return 0o600 if path.startswith("etc/NetworkManager/system-connections/") else 0o644


def render(settings) -> dict[str, str]:
    """Every system file the kiosk needs, as text, keyed by its path under / ."""
    _check(settings)
    files = hotspot_files(settings)

    files["etc/sysctl.d/60-first-mile-kiosk.conf"] = f"""\
# nginx tells kiosk-web of each page it sends by itself in a datagram on a Unix socket
# ({COUNTS_SOCKET}). Linux queues only 10 of them by default: when the CPU is busy, the
# pages after those would go uncounted. Read when kiosk-web makes its socket.
net.unix.max_dgram_qlen = {DGRAM_QUEUE}
"""

    files["etc/systemd/journald.conf.d/kiosk.conf"] = """\
# Logs in RAM only: spares the SD card, and nothing survives a seizure of the device.
[Journal]
Storage=volatile
RuntimeMaxUse=32M
"""
    files[NGINX_CONFIG.lstrip("/")] = nginx_conf(settings)
    files.update(unit_files(settings))
    files["etc/udev/rules.d/90-kiosk-usb.rules"] = (
        "# A FAT or exFAT stick labelled KIOSK brings releases and takes figures home: sync\n"
        "# with it (kiosk-usb@.service mounts it for the kiosk's user, unmounts it on removal).\n"
        'ACTION=="add", SUBSYSTEM=="block", ENV{ID_FS_LABEL}=="KIOSK", '
        'ENV{ID_FS_TYPE}=="vfat|exfat", TAG+="systemd", '
        'ENV{SYSTEMD_WANTS}+="kiosk-usb@%k.service"\n'
    )
    return files
