"""The hotspot's rules end to end, in network namespaces this test makes (nothing outside them).

This test loads the rendered files by hand to check what they say, quickly and with two
phones; that they are loaded at all (nftables at boot, NetworkManager's profile) is proven
only by the booted VM in tests/system.

A "kiosk" namespace carries the rendered nftables rules, NetworkManager-style dnsmasq with
the rendered dnsmasq-shared.d config, and the real `kiosk serve`; its "wlan0" is a bridge
whose ports are isolated (as the access point's ap-isolation isolates Wi-Fi clients). Two
"phone" namespaces hang off it; an "internet" namespace sits behind the kiosk's uplink.
"""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
import time
from pathlib import Path

import pytest

from kiosk.config import load_settings
from kiosk.device.install import ReleaseStore
from kiosk.device.nginx import nginx_conf
from kiosk.device.services import render

PHONE = Path(__file__).with_name("netns_phone.py")
ROOT = Path(__file__).resolve().parent.parent.parent


def sh(*args: str, check: bool = True) -> subprocess.CompletedProcess:
    return subprocess.run(args, capture_output=True, text=True, timeout=60, check=check)


def in_ns(ns: str, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    return sh("ip", "netns", "exec", ns, *args, check=check)


def phone(ns: str, *args: str) -> str:
    return in_ns(ns, sys.executable, str(PHONE), *args).stdout.strip()


@pytest.fixture
def network(tmp_path, fixture_release, keypair):
    if os.geteuid() != 0:
        pytest.skip("network namespaces need root (CI runs as root)")
    tag = secrets.token_hex(3)
    names = {n: f"fmk{tag}{n}" for n in ("k", "p1", "p2", "net")}
    k, p1, p2, net = names["k"], names["p1"], names["p2"], names["net"]
    procs: list[subprocess.Popen] = []
    for ns in names.values():
        sh("ip", "netns", "add", ns)
    try:
        for ns in names.values():
            in_ns(ns, "ip", "link", "set", "lo", "up")
        in_ns(k, "ip", "link", "add", "wlan0", "type", "bridge")
        for n, ph in ((1, p1), (2, p2)):
            sh("ip", "link", "add", f"fmk{tag}a{n}", "netns", k, "type", "veth",
               "peer", "name", "wifi0", "netns", ph)  # fmt: skip
            in_ns(k, "ip", "link", "set", f"fmk{tag}a{n}", "master", "wlan0", "up")
            in_ns(k, "bridge", "link", "set", "dev", f"fmk{tag}a{n}", "isolated", "on")
            in_ns(ph, "ip", "link", "set", "wifi0", "up")
        in_ns(k, "ip", "addr", "add", "10.42.0.1/24", "dev", "wlan0")
        in_ns(k, "ip", "link", "set", "wlan0", "up")
        sh("ip", "link", "add", "uplink", "netns", k, "type", "veth", "peer", "name", "eth0",
           "netns", net)  # fmt: skip
        in_ns(k, "ip", "addr", "add", "10.99.0.1/24", "dev", "uplink")
        in_ns(k, "ip", "link", "set", "uplink", "up")
        in_ns(net, "ip", "addr", "add", "10.99.0.2/24", "dev", "eth0")
        in_ns(net, "ip", "link", "set", "eth0", "up")
        in_ns(net, "ip", "route", "add", "10.42.0.0/24", "via", "10.99.0.1")
        in_ns(k, "sysctl", "-qw", "net.ipv4.ip_forward=1")  # as NetworkManager's shared mode does

        data = tmp_path / "data"
        ReleaseStore(data).install(fixture_release, [keypair[1]])
        settings = load_settings(environ={}, data_dir=str(data), port=8080)
        files = tmp_path / "etc"
        for rel, text in render(settings).items():
            (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
            (tmp_path / rel).write_text(text)
        in_ns(k, "nft", "-f", str(files / "nftables.d/kiosk.nft"))
        # NetworkManager starts its dnsmasq like this for a shared connection, then adds
        # dnsmasq-shared.d: the same one dnsmasq, here in the kiosk's namespace.
        procs.append(subprocess.Popen(
            ["ip", "netns", "exec", k, "dnsmasq", "--conf-file=/dev/null", "--no-hosts",
             "--keep-in-foreground", "--bind-interfaces", "--except-interface=lo",
             "--interface=wlan0", "--listen-address=10.42.0.1", "--dhcp-lease-max=50",
             f"--pid-file={tmp_path / 'dnsmasq.pid'}", "--user=root",
             f"--conf-dir={files / 'NetworkManager/dnsmasq-shared.d'}"],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
        ))  # fmt: skip
        env = {**os.environ, "KIOSK_DATA_DIR": str(data), "KIOSK_TRUSTED_KEYS": f"{keypair[0]}.pub"}
        # As on the device: kiosk-web on the namespace's loopback, nginx in front on port 80
        # with the rendered config (the test's runtime folder; workers as root, who owns the
        # test's files, where the device starts nginx as the kiosk's user).
        counts = tmp_path / "counts.sock"
        procs.append(subprocess.Popen(
            ["ip", "netns", "exec", k, sys.executable, "-m", "kiosk.cli", "serve",
             "--host", "127.0.0.1", "--port", "8080", "--proxied", "--counts-socket", str(counts)],
            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        ))  # fmt: skip
        run = tmp_path / "nginx-run"
        run.mkdir()
        conf = tmp_path / "nginx.conf"
        conf.write_text(nginx_conf(settings, runtime=str(run), user="root root",
                                   counts=str(counts)))  # fmt: skip
        procs.append(subprocess.Popen(
            ["ip", "netns", "exec", k, "nginx", "-e", "stderr", "-c", str(conf)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        ))  # fmt: skip
        procs.append(subprocess.Popen(  # something "on the internet" a phone must not reach
            ["ip", "netns", "exec", net, sys.executable, "-m", "http.server", "--bind",
             "10.99.0.2", "8081"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        ))  # fmt: skip
        deadline = time.monotonic() + 20
        for host, port in (("127.0.0.1", "8080"), ("10.42.0.1", "80")):
            while in_ns(k, sys.executable, str(PHONE), "tcp", host, port).stdout.strip() != "open":
                assert time.monotonic() < deadline, f"nothing listens on {host}:{port}"
                time.sleep(0.2)
        yield names, tmp_path
    finally:
        for proc in procs:
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
            if proc.stderr:
                proc.stderr.close()
        for ns in names.values():
            sh("ip", "netns", "del", ns, check=False)


def lease(ns: str, folder: Path) -> dict:
    script = folder / f"{ns}.sh"
    record = folder / f"{ns}.env"
    script.write_text(
        "#!/bin/sh\n"
        f'env > "{record}.$1"\n'
        'if [ "$1" = bound ]; then ip addr add "$ip/$mask" dev "$interface"; '
        'ip route add default via "$router" 2>/dev/null; fi\n'
    )
    script.chmod(0o755)
    in_ns(ns, "busybox", "udhcpc", "-i", "wifi0", "-n", "-q", "-t", "5", "-O", "114",
          "-s", str(script))  # fmt: skip
    text = Path(f"{record}.bound").read_text()
    return dict(line.split("=", 1) for line in text.splitlines() if "=" in line)


def test_a_phone_joins_lands_on_the_portal_and_reaches_nothing_else(network):
    names, folder = network
    p1, p2, net = names["p1"], names["p2"], names["net"]
    first = lease(p1, folder)
    assert first["ip"].startswith("10.42.0.") and first["router"] == "10.42.0.1"
    assert bytes.fromhex(first["opt114"]).decode() == "http://10.42.0.1/portal"
    second = lease(p2, folder)
    for name in ("connectivitycheck.gstatic.com", "captive.apple.com", "example.org"):
        assert phone(p1, "dns", name) == "10.42.0.1"
    landing = phone(p1, "http", "GET", "http://connectivitycheck.gstatic.com/generate_204")
    assert landing.startswith("302 http://10.42.0.1/portal")
    apple = phone(p1, "http", "GET", "http://captive.apple.com/hotspot-detect.html")
    assert apple.startswith("302 http://10.42.0.1/portal")
    portal = phone(p1, "http", "GET", "http://10.42.0.1/portal")
    assert portal.startswith("200 ")
    assert phone(p1, "http", "POST", "http://10.42.0.1/portal/continue").startswith("303 ")
    online = phone(p1, "http", "GET", "http://connectivitycheck.gstatic.com/generate_204")
    assert online.startswith("204 ")
    success = phone(p1, "http", "GET", "http://captive.apple.com/hotspot-detect.html")
    assert "Success" in success
    # The other phone has not pressed Continue: still captive.
    assert phone(p2, "http", "GET", "http://connectivitycheck.gstatic.com/generate_204").startswith(
        "302"
    )
    # Nothing beyond the kiosk: not the internet, not another phone, not SSH.
    assert phone(p1, "tcp", "10.99.0.2", "8081") == "closed"
    assert (
        in_ns(net, sys.executable, str(PHONE), "tcp", "10.99.0.2", "8081").stdout.strip() == "open"
    )
    listener = subprocess.Popen(
        ["ip", "netns", "exec", p2, sys.executable, "-m", "http.server", "--bind", second["ip"],
         "8082"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 10
        while phone(p2, "tcp", second["ip"], "8082") != "open":  # it is there...
            assert time.monotonic() < deadline
            time.sleep(0.2)
        assert phone(p1, "tcp", second["ip"], "8082") == "closed"  # ...but not for phone 1
    finally:
        listener.terminate()
        listener.wait(timeout=10)
    assert phone(p1, "tcp", "10.42.0.1", "22") == "closed"
    assert phone(p1, "tcp", "10.42.0.1", "8080") == "closed"  # the app: only through nginx
    # Plain HTTP to any address lands on the kiosk.
    assert phone(p1, "http", "GET", "http://10.99.0.2/en/").startswith(
        "302 http://10.42.0.1/portal"
    )
