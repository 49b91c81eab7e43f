"""The whole kiosk, booted: a Debian 12 VM installed by deploy/ as a technician would.

Once per run: build (or find cached) the image and the install artifact, boot the VM, run
`fab provision` into it over SSH, reboot it. From then on the tests touch nothing inside the
kiosk's own configuration: they look from outside (SSH, QEMU's screen and USB port) and from
phones, which are the VM's second and third simulated radios in their own network namespaces.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.system import image as system_image
from tests.system.vm import VM

ROOT = Path(__file__).resolve().parent.parent.parent
PHONE_SCRIPT = ROOT / "tests" / "integration" / "netns_phone.py"
DEVICE = "kiosk-vm"
SSID = "Biblioteca Tetitla"
# Step 5 of docs/technician.md: the settings a technician gives a kiosk before its reboot.
SETTINGS = f'wifi_ssid = "{SSID}"\nwifi_country = "NP"\n'


@dataclass
class Device:
    vm: VM
    work: Path
    inventory: Path
    artifact: Path
    figures: dict = field(default_factory=dict)

    def phone(self, ns: str, *args: str) -> str:
        """What a phone in namespace ``ns`` sees (tests/integration/netns_phone.py)."""
        quoted = " ".join(f"'{a}'" for a in args)
        return self.vm.root(f"ip netns exec {ns} python3 /tmp/phone.py {quoted}").stdout.strip()

    def record(self, **figures) -> None:
        self.figures.update(figures)
        # One file per architecture: an arm64 run beside an amd64 one keeps both.
        path = system_image.cache_root() / f"figures-{self.figures.get('arch', 'amd64')}.json"
        path.write_text(json.dumps(self.figures, indent=1, sort_keys=True) + "\n")


def fab(*args: str, timeout: float = 1800) -> subprocess.CompletedProcess:
    """The technician's own command: fabric's `fab` with deploy/'s tasks."""
    return subprocess.run(
        [str(Path(sys.executable).with_name("fab")), "-r", str(ROOT / "deploy"), *args],
        capture_output=True, text=True, timeout=timeout, check=False, cwd=ROOT,
    )  # fmt: skip


def _artifact(arch: str) -> Path:
    """The install artifact (`./dev artifact`), rebuilt only when the code or the lock changed."""
    tracked = subprocess.run(["git", "ls-files", "kiosk", "pyproject.toml", "deploy"], cwd=ROOT,
                             capture_output=True, text=True, check=True).stdout.split()  # fmt: skip
    digest = hashlib.sha256(arch.encode())
    for name in sorted(tracked):
        path = ROOT / name
        if path.is_file():
            digest.update(name.encode() + b"\0" + path.read_bytes())
    folder = system_image.cache_root() / f"artifact-{digest.hexdigest()[:16]}"
    done = list(folder.glob("*.tar"))
    if done:
        return done[0]
    built = subprocess.run([str(ROOT / "dev"), "artifact", "--arch", arch, "--out", str(folder)],
                           capture_output=True, text=True, check=False)  # fmt: skip
    assert built.returncode == 0, built.stderr[-3000:]
    return Path(built.stdout.strip().splitlines()[-1])


def kiosk(*args: str) -> str:
    """Headquarters' own `kiosk` command."""
    done = subprocess.run([str(Path(sys.executable).with_name("kiosk")), *args],
                          capture_output=True, text=True, check=False)  # fmt: skip
    assert done.returncode == 0, f"kiosk {' '.join(args)}:\n{done.stdout}\n{done.stderr}"
    return done.stdout


# Module scope: the VM is stopped as soon as its tests end, so it never slows the rest.
@pytest.fixture(scope="module")
def device(tmp_path_factory, keypair) -> Device:
    if os.geteuid() != 0:
        pytest.skip("the system test builds a disk image and needs root (CI runs as root)")
    arch = os.environ.get("KIOSK_SYSTEM_ARCH", "amd64")
    work = tmp_path_factory.mktemp("system")
    started = time.monotonic()
    folder = system_image.build(arch)
    image_seconds = time.monotonic() - started
    started = time.monotonic()
    artifact = _artifact(arch)
    artifact_seconds = time.monotonic() - started

    vm = VM(folder, work, arch)
    inventory = work / "kiosks.toml"
    inventory.write_text(
        f'[[kiosk]]\nname = "{DEVICE}"\nhost = "127.0.0.1"\nport = {vm.ssh_port}\n'
        f'user = "pi"\nkey = "{vm.key}"\nknown_hosts = "{vm.known_hosts}"\n'
    )
    dev = Device(vm, work, inventory, artifact)
    dev.record(
        arch=arch,
        image_build_seconds=round(image_seconds, 1),
        image_cold_build_seconds=float((folder / "build-seconds").read_text()),
        artifact_seconds=round(artifact_seconds, 1),
        artifact_bytes=artifact.stat().st_size,
    )
    vm.start()
    try:
        dev.record(accelerator=vm.accelerator(), first_boot_ssh_seconds=round(vm.wait_ssh(), 1))
        started = time.monotonic()
        done = fab("provision", "--inventory", str(inventory), "--key",
                   f"{keypair[0]}.pub", "--artifact", str(artifact))  # fmt: skip
        assert done.returncode == 0, f"fab provision failed:\n{done.stdout}\n{done.stderr}"
        dev.record(provision_seconds=round(time.monotonic() - started, 1))
        vm.root(f"printf %s '{SETTINGS}' >> /etc/first-mile-kiosk/kiosk.toml")
        vm.ssh("sudo kiosk services render --out /")
        vm.ssh(
            "printf '%s\\n' 'a long librarian password' 'a long librarian password' "
            "| sudo kiosk admin set-password"
        )
        dev.record(reboot_ssh_seconds=round(vm.reboot(), 1))
        subprocess.run(["scp", "-q", *[o.replace("-p", "-P") if o == "-p" else o
                                       for o in vm.ssh_options()],
                        str(PHONE_SCRIPT), "pi@127.0.0.1:/tmp/phone.py"],
                       check=True, timeout=60)  # fmt: skip
        yield dev
    finally:
        (work / "console-copy.log").write_text(vm.console_tail(400))
        if os.environ.get("KIOSK_SYSTEM_KEEP"):  # for a developer looking into a failure
            print(f"\nThe VM is still running: ssh {' '.join(vm.ssh_options())} pi@127.0.0.1")
        else:
            vm.stop()
