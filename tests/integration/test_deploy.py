"""deploy/: fleet tasks against a real sshd on 127.0.0.1 (provision, which needs a Pi's apt and
systemd, is checked with invoke's MockContext for the commands it would run)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from kiosk import deploy as fleet
from tests.sshd import SshServer

ROOT = Path(__file__).resolve().parent.parent.parent


@pytest.fixture
def fleet_of_three(tmp_path):
    server = SshServer(tmp_path / "sshd")
    key = tmp_path / "admin_key"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(key)], check=True)
    server.authorized_keys.write_text((tmp_path / "admin_key.pub").read_text())
    # "Remote" kiosks live on this machine under their own prefixes; their .venv is ours.
    kiosks = []
    for name in ("lib-a", "lib-b"):
        prefix = tmp_path / name
        prefix.mkdir()
        (prefix / ".venv").symlink_to(ROOT / ".venv")
        kiosks.append(fleet.Kiosk(name, "127.0.0.1", server.port, server.user, str(key),
                                  str(server.known_hosts), str(prefix)))  # fmt: skip
    kiosks.append(fleet.Kiosk("lib-offline", "127.0.0.1", 9, server.user, str(key),
                              str(server.known_hosts), str(tmp_path / "x")))  # fmt: skip
    inventory = tmp_path / "kiosks.toml"
    inventory.write_text("".join(
        f'[[kiosk]]\nname = "{k.name}"\nhost = "{k.host}"\nport = {k.port}\nuser = "{k.user}"\n'
        f'key = "{k.key}"\nknown_hosts = "{k.known_hosts}"\nprefix = "{k.prefix}"\n\n'
        for k in kiosks
    ))  # fmt: skip
    yield kiosks, inventory
    server.stop()


def test_code_reaches_every_kiosk_and_one_failure_stops_nothing(fleet_of_three):
    kiosks, _ = fleet_of_three
    results = fleet.rollout(kiosks, fleet.push_code)
    assert [(name, ok) for name, ok, _ in results] == [
        ("lib-a", True), ("lib-b", True), ("lib-offline", False)
    ]  # fmt: skip
    for kiosk in kiosks[:2]:
        shipped = Path(kiosk.prefix) / "src"
        assert (shipped / "kiosk" / "cli.py").read_bytes() == (ROOT / "kiosk/cli.py").read_bytes()
        assert not (shipped / ".venv").exists() and not (shipped / ".git").exists()
    assert fleet.summary(results).endswith("2 of 3 kiosks done, 1 failed.")


def test_status_asks_each_kiosk_its_heartbeat(fleet_of_three):
    _kiosks, inventory = fleet_of_three
    results = fleet.rollout(fleet.read_inventory(inventory), fleet.status)
    good = {name: beat for name, ok, beat in results if ok}
    assert set(good) == {"lib-a", "lib-b"}, results
    assert good["lib-a"]["format"] == 1 and "app_version" in good["lib-a"]
    out = subprocess.run(
        [sys.executable, "-m", "invoke", "-r", str(ROOT / "deploy"), "-c", "fabfile",
         "status", "--inventory", str(inventory)],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert "lib-a: release" in out.stdout and "lib-offline: unreachable" in out.stdout


def test_provision_runs_the_steps_a_pi_needs(monkeypatch):
    import re

    from invoke import MockContext, Result

    kiosk = fleet.Kiosk("pi", "pi.local")
    c = MockContext(run={re.compile(".*"): Result("")}, repeat=True)
    c.put = lambda *a, **k: None
    ran: list[str] = []
    real_run = c.run

    def record(command, **kwargs):
        ran.append(command)
        return real_run(command, **kwargs)

    c.run = record
    monkeypatch.setattr(fleet, "install_env", lambda conn, k: "environment installed")
    monkeypatch.setattr(fleet, "push_code", lambda conn, k: "code sent")
    assert fleet.provision(c, kiosk, "release-key.pub") == "provisioned"
    joined = "\n".join(ran)
    assert "apt-get install" in joined and "network-manager" in joined and "nftables" in joined
    assert "systemctl disable --now dnsmasq.service hostapd.service" in joined
    assert "useradd --system" in joined
    assert "kiosk services render --out /" in joined
    assert "enable --now kiosk-web.service kiosk-display.service kiosk-sync.timer" in joined


def test_inventory_mistakes_are_explained(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text('[[kiosk]]\nname = "x"\nhost = "h"\ncolour = "blue"\n')
    with pytest.raises(Exception, match="unknown or missing field"):
        fleet.read_inventory(bad)
    empty = tmp_path / "empty.toml"
    empty.write_text("")
    with pytest.raises(Exception, match="lists no"):
        fleet.read_inventory(empty)
    assert json.dumps  # json is used by the status test through the heartbeat
