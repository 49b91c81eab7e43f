"""deploy/: fleet mechanics against a real sshd on 127.0.0.1.

Provisioning and deploying touch a Pi's apt, users and systemd, so they are proven where they
live: on the booted VM of the system test (tests/system), never against a stand-in here.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

from kiosk.errors import KioskError
from kiosk.hq import deploy as fleet
from tests.sshd import SshServer

ROOT = Path(__file__).resolve().parent.parent.parent


@pytest.fixture
def fleet_of_three(tmp_path):
    server = SshServer(tmp_path / "sshd")
    key = tmp_path / "admin_key"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(key)], check=True)
    server.authorized_keys.write_text((tmp_path / "admin_key.pub").read_text())
    kiosks = [
        fleet.Kiosk(name, "127.0.0.1", server.port, server.user, str(key), str(server.known_hosts))
        for name in ("lib-a", "lib-b")
    ]
    kiosks.append(fleet.Kiosk("lib-offline", "127.0.0.1", 9, server.user, str(key),
                              str(server.known_hosts)))  # fmt: skip
    yield kiosks, server
    server.stop()


def whoami(c, kiosk) -> str:
    return c.run("echo $USER", hide=True, in_stream=False).stdout.strip()


def test_one_unreachable_kiosk_stops_nothing(fleet_of_three):
    kiosks, server = fleet_of_three
    results = fleet.rollout(kiosks, whoami)
    assert [(name, ok) for name, ok, _ in results] == [
        ("lib-a", True), ("lib-b", True), ("lib-offline", False)
    ]  # fmt: skip
    assert results[0][2] == server.user
    assert fleet.summary(results).endswith("2 of 3 kiosks done, 1 failed.")


def test_a_kiosk_whose_host_key_is_not_the_pinned_one_is_refused(fleet_of_three, tmp_path):
    kiosks, server = fleet_of_three
    other = tmp_path / "other_host"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(other)], check=True)
    wrong = tmp_path / "wrong_known_hosts"
    kind, blob = (tmp_path / "other_host.pub").read_text().split()[:2]
    wrong.write_text(f"[127.0.0.1]:{server.port} {kind} {blob}\n")
    impostor = fleet.Kiosk("lib-a", "127.0.0.1", server.port, server.user, kiosks[0].key,
                           str(wrong))  # fmt: skip
    [(_name, ok, message)] = fleet.rollout([impostor], whoami)
    assert not ok and "does not match" in message, message  # the pinned key, not another
    unpinned = tmp_path / "empty_known_hosts"
    unpinned.write_text("")
    stranger = fleet.Kiosk("lib-a", "127.0.0.1", server.port, server.user, kiosks[0].key,
                           str(unpinned))  # fmt: skip
    [(_, ok, message)] = fleet.rollout([stranger], whoami)
    # Refused for its key (not for anything else), and the key is never added on trust.
    assert not ok and "not found in known_hosts" in message, message
    assert unpinned.read_text() == ""


def test_the_artifact_pins_every_package_with_its_hash_and_is_the_same_built_again(tmp_path):
    built = subprocess.run(
        [sys.executable, str(ROOT / "deploy" / "artifact.py"), "build", "--out", str(tmp_path)],
        capture_output=True, text=True, timeout=600, check=False,
    )  # fmt: skip
    assert built.returncode == 0, built.stderr[-2000:]
    path = Path(built.stdout.strip())
    with tarfile.open(path) as tar:
        wheels = {Path(n).name: tar.extractfile(n).read() for n in tar.getnames()
                  if n.startswith("wheels/")}  # fmt: skip
        lock = tar.extractfile("install.lock").read().decode().splitlines()
        meta = json.loads(tar.extractfile("artifact.json").read())
    # What pip --require-hashes checks on the kiosk: each wheel's name, version and bytes.
    shipped_wheels = {
        "{}=={}".format(name.split("-")[0].lower().replace("_", "-"), name.split("-")[1]):
        hashlib.sha256(data).hexdigest() for name, data in wheels.items()
    }  # fmt: skip
    assert dict(line.split(" --hash=sha256:") for line in lock) == shipped_wheels
    pinned = {line.split("==")[0] for line in (ROOT / "deploy/requirements.lock").read_text()
              .splitlines() if "==" in line}  # fmt: skip
    shipped = {line.split("==")[0] for line in lock}
    assert pinned | {"first-mile-kiosk"} == shipped
    assert meta["arch"] == "amd64" and meta["python"] == "3.11"
    again = subprocess.run(
        [sys.executable, str(ROOT / "deploy" / "artifact.py"), "build", "--out",
         str(tmp_path / "again")], capture_output=True, text=True, timeout=600, check=False,
    )  # fmt: skip
    assert fleet.artifact_id(path) == fleet.artifact_id(Path(again.stdout.strip()))


def test_inventory_mistakes_are_explained(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text('[[kiosk]]\nname = "x"\nhost = "h"\ncolour = "blue"\n')
    with pytest.raises(KioskError, match="unknown or missing field"):
        fleet.read_inventory(bad)
    empty = tmp_path / "empty.toml"
    empty.write_text("")
    with pytest.raises(KioskError, match="lists no"):
        fleet.read_inventory(empty)
