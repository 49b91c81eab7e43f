"""The device's system files, rendered from settings and checked by the real tools."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
from pathlib import Path

import click
import pytest

from kiosk.cli import main
from kiosk.config import load_settings
from kiosk.device.services import render
from kiosk.errors import SettingsError
from kiosk.hq.deploy import USER as PROVISIONED_USER

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def rendered(tmp_path):
    prefix = tmp_path / "prefix"
    prefix.mkdir()
    (prefix / "venv").symlink_to(ROOT / ".venv")
    # As on the device: the services' user is the unprivileged one provisioning makes (never
    # root, which would hide a unit that needs root to do its work).
    settings = load_settings(
        environ={}, data_dir=str(tmp_path / "data"), install_prefix=str(prefix),
        wifi_ssid="Biblioteca Tetitla",
    )  # fmt: skip
    assert settings.service_user == PROVISIONED_USER != "root"
    out = tmp_path / "root"
    for rel, text in render(settings).items():
        (out / rel).parent.mkdir(parents=True, exist_ok=True)
        (out / rel).write_text(text)
    return out


def run(*command, **kw) -> subprocess.CompletedProcess:
    return subprocess.run(command, capture_output=True, text=True, timeout=60, check=False, **kw)


def test_dnsmasq_accepts_the_captive_dns_config(rendered):
    conf = rendered / "etc/NetworkManager/dnsmasq-shared.d/kiosk.conf"
    result = run("dnsmasq", "--test", f"--conf-file={conf}")
    assert result.returncode == 0 and "syntax check OK" in result.stderr
    text = conf.read_text()
    assert "address=/#/10.42.0.1" in text and "no-resolv" in text and "leasefile-ro" in text
    assert "log-queries" not in text.replace("# No query", "") and "log-dhcp" not in text


def test_nftables_accepts_the_firewall(rendered):
    result = run("nft", "-c", "-f", str(rendered / "etc/nftables.d/kiosk.nft"))
    assert result.returncode == 0, result.stderr


def test_networkmanager_reads_the_hotspot_profile_offline(rendered):
    profile = rendered / "etc/NetworkManager/system-connections/kiosk-hotspot.nmconnection"
    result = run("nmcli", "--offline", "connection", "modify", "connection.id", "kiosk-hotspot",
                 input=profile.read_text())  # fmt: skip
    assert result.returncode == 0, result.stderr
    for line in ("mode=ap", "ssid=Biblioteca Tetitla", "ap-isolation=1", "method=shared",
                 "address1=10.42.0.1/24"):  # fmt: skip
        assert line in result.stdout, line
    assert "wifi-security" not in result.stdout  # open, on purpose


def test_systemd_finds_nothing_wrong_with_the_units(rendered):
    folder = rendered / "etc/systemd/system"
    result = run("systemd-analyze", "verify", "--man=no", "kiosk-web.service",
                 "kiosk-display.service", "kiosk-sync.service", "kiosk-sync.timer",
                 "kiosk-usb@sda1.service", "kiosk-usb-sync@sda1.service",
                 cwd=folder)  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "kiosk-" not in result.stderr  # no warning about our files


def service_section(unit: Path) -> list[tuple[str, str]]:
    """The [Service] lines of a unit as (key, value), continuation lines joined, in order."""
    lines, section = [], ""
    for line in unit.read_text().replace("\\\n", " ").splitlines():
        if line.startswith("["):
            section = line
        elif section == "[Service]" and "=" in line and not line.startswith("#"):
            key, value = line.split("=", 1)
            lines.append((key, value))
    return lines


def test_the_usb_stick_is_mounted_by_root_for_the_kiosks_user(rendered):
    """Only root may mount: the mount unit runs as root, and the files on the stick are the
    kiosk user's (uid=, gid=), so the sync that runs as that user can write its figures."""
    folder = rendered / "etc/systemd/system"
    mount = dict(service_section(folder / "kiosk-usb@.service"))
    assert mount.get("User", "root") == "root" and mount.get("Group", "root") == "root"
    assert mount.get("PrivateUsers", "no") == "no"  # root in its own namespace cannot mount
    assert "CAP_SYS_ADMIN" in mount.get("CapabilityBoundingSet", "CAP_SYS_ADMIN")
    mounts = [v for k, v in service_section(folder / "kiosk-usb@.service") if k == "ExecStart"]
    options = re.findall(r"mount -t (\w+) -o (\S+) /dev/%I", " ".join(mounts))
    assert [kind for kind, _ in options] == ["vfat", "exfat"]
    for _kind, opts in options:
        assert {f"uid={PROVISIONED_USER}", f"gid={PROVISIONED_USER}", "noexec", "nosuid",
                "nodev"} <= set(opts.split(","))  # fmt: skip
    sync = dict(service_section(folder / "kiosk-usb-sync@.service"))
    assert (sync["User"], sync["Group"]) == (PROVISIONED_USER, PROVISIONED_USER)
    for name in ("kiosk-web", "kiosk-proxy", "kiosk-display", "kiosk-sync"):
        unit = dict(service_section(folder / f"{name}.service"))
        assert (unit["User"], unit["Group"]) == (PROVISIONED_USER, PROVISIONED_USER), name


def subcommands(group: click.Group, prefix=()) -> set[tuple[str, ...]]:
    found = set()
    for name, command in group.commands.items():
        found.add((*prefix, name))
        if isinstance(command, click.Group):
            found |= subcommands(command, (*prefix, name))
    return found


def test_every_execstart_names_a_real_kiosk_subcommand(rendered):
    known = subcommands(main)
    starts = []
    for unit in (rendered / "etc/systemd/system").iterdir():
        for line in unit.read_text().replace("\\\n", " ").splitlines():
            if line.startswith("ExecStart=") and "/bin/kiosk " in line:
                words = line.split("/bin/kiosk ", 1)[1].replace("'", " ").split()
                command = tuple(w for w in words[:2] if not w.startswith("-"))
                starts.append(command)
                assert command[:1] in known or command in known, line
    assert {("serve",), ("display",), ("sync",)} <= {c[:1] for c in starts}


@pytest.mark.parametrize(
    ("name", "value", "words"),
    [
        ("wifi_ssid", "evil\nname", "wifi_ssid"),
        ("wifi_ssid", "x" * 33, "wifi_ssid"),
        ("wifi_country", "np", "wifi_country"),
        ("hotspot_address", "10.42.0.1/30", "at least 16 addresses"),
        ("hotspot_address", "fe80::1/64", "IPv4"),
        ("hotspot_address", "nonsense", "is not like"),
        ("hotspot_interface", "wlan0; rm -rf /", "interface name"),
        ("install_prefix", "relative/path", "absolute path"),
        ("service_user", "root user", "user name"),
    ],
)
def test_bad_settings_are_refused_before_anything_is_written(tmp_path, name, value, words):
    settings = load_settings(environ={}, data_dir=str(tmp_path), **{name: value})
    with pytest.raises(SettingsError, match=words):
        render(settings)


def test_serve_tells_systemd_it_is_ready_and_keeps_pinging(tmp_path, device_dir, keypair):
    from tests.conftest import free_port

    address = str(tmp_path / "notify")
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    listener.bind(address)
    listener.settimeout(20)
    port = free_port()
    env = {
        **os.environ,
        "NOTIFY_SOCKET": address,
        "WATCHDOG_USEC": "2000000",
        "KIOSK_DATA_DIR": str(device_dir),
        "KIOSK_TRUSTED_KEYS": f"{keypair[0]}.pub",
    }
    proc = subprocess.Popen(
        [sys.executable, "-m", "kiosk.cli", "serve", "--port", str(port)],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        messages = [listener.recv(100).decode() for _ in range(2)]
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        listener.close()
    assert messages == ["READY=1", "WATCHDOG=1"]


def test_render_command_writes_the_files(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "kiosk.cli", "--data-dir", str(tmp_path), "services", "render",
         "--out", str(tmp_path / "out")],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "/etc/systemd/system/kiosk-web.service" in result.stdout.splitlines()
    profile = tmp_path / "out/etc/NetworkManager/system-connections/kiosk-hotspot.nmconnection"
    assert re.search(r"ssid=Safe Migration Info", profile.read_text())
    # NetworkManager ignores a profile that others can read (the booted VM proves the rest).
    assert profile.stat().st_mode & 0o777 == 0o600
    assert (tmp_path / "out/etc/systemd/system/kiosk-web.service").stat().st_mode & 0o777 == 0o644
