"""A QEMU virtual machine booted from the system-test image, driven from outside.

The VM gets: a copy-on-write disk over the cached image (the image itself is never written),
a virtual screen (std VGA; ``screendump`` reads it), a USB controller to plug sticks into
through QMP, and user-mode networking restricted to one forwarded SSH port on 127.0.0.1, so
the guest reaches nothing outside the VM. KVM is used where /dev/kvm accepts a guest; QEMU
falls back to TCG by itself otherwise.
"""

from __future__ import annotations

import contextlib
import json
import os
import shlex
import socket
import subprocess
import time
from pathlib import Path

QEMU = {"amd64": "qemu-system-x86_64", "arm64": "qemu-system-aarch64"}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class QMP:
    """QEMU's machine protocol over a Unix socket: one command at a time, events kept."""

    def __init__(self, path: Path) -> None:
        self.sock = socket.socket(socket.AF_UNIX)
        self.sock.settimeout(60)
        try:
            self.sock.connect(str(path))
        except OSError:
            self.sock.close()
            raise
        self.file = self.sock.makefile("rwb")
        self.events: list[dict] = []
        self._read()  # greeting
        self.run("qmp_capabilities")

    def _read(self) -> dict:
        line = self.file.readline()
        if not line:
            raise ConnectionError("QEMU closed its monitor")
        return json.loads(line)

    def run(self, command: str, **arguments) -> object:
        self.file.write(json.dumps({"execute": command, "arguments": arguments}).encode() + b"\n")
        self.file.flush()
        while True:
            reply = self._read()
            if "event" in reply:
                self.events.append(reply)
                continue
            if "error" in reply:
                raise RuntimeError(f"QMP {command}: {reply['error']}")
            return reply.get("return")

    def wait_event(self, name: str, timeout: float = 60, **data) -> dict:
        """Wait for the event `name` whose data holds `data` (QEMU sends DEVICE_DELETED for a
        stick's inner SCSI disk too, with no id: waiting for any would return too early)."""
        deadline = time.monotonic() + timeout
        while True:
            for event in self.events:
                fields = event.get("data", {})
                if event["event"] == name and all(fields.get(k) == v for k, v in data.items()):
                    self.events.remove(event)
                    return event
            if time.monotonic() > deadline:
                raise TimeoutError(f"no {name} event within {timeout} s")
            self.sock.settimeout(max(0.1, deadline - time.monotonic()))
            try:
                reply = self._read()
            except TimeoutError:
                continue
            finally:
                self.sock.settimeout(60)
            if "event" in reply:
                self.events.append(reply)

    def close(self) -> None:
        self.file.close()
        self.sock.close()


class VM:
    def __init__(self, image: Path, work: Path, arch: str = "amd64", memory_mb: int = 2048):
        self.image, self.work, self.arch, self.memory_mb = image, work, arch, memory_mb
        self.ssh_port = free_port()
        self.proc: subprocess.Popen | None = None
        self.qmp: QMP | None = None
        self.key = image / "id_ed25519"
        self.known_hosts = work / "known_hosts"
        host_key = (image / "host_key.pub").read_text().split()[:2]
        self.known_hosts.write_text(f"[127.0.0.1]:{self.ssh_port} {' '.join(host_key)}\n")
        self.console = work / "console.log"

    # --- power -------------------------------------------------------------------------
    kvm_works: bool | None = None  # found out once per test run

    def start(self) -> None:
        """Power on: with KVM if it really runs a guest here, else with TCG (emulation)."""
        if VM.kvm_works is None:
            # KVM only when asked (KIOSK_SYSTEM_KVM=1): on this project's machines KVM either
            # refuses the guest or starts it and hangs it after a second, so TCG is the default.
            wanted = os.environ.get("KIOSK_SYSTEM_KVM") == "1"
            VM.kvm_works = (
                wanted and os.access("/dev/kvm", os.R_OK | os.W_OK) and (self._try_start("kvm"))
            )
            if VM.kvm_works:
                return
        self._try_start("kvm" if VM.kvm_works else "tcg")

    def _try_start(self, accel: str) -> bool:
        """Start QEMU; with KVM, give up after 20 s without a kernel message (some hosts'
        KVM accepts a guest and then never runs it)."""
        disk = self.work / "disk.qcow2"
        if not disk.exists():
            backing = str(self.image / "rootfs.img")
            subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", "-F", "raw", "-b",
                            backing, str(disk)], check=True)  # fmt: skip
        qmp_path = self.work / "qmp.sock"
        qmp_path.unlink(missing_ok=True)
        console = "ttyS0" if self.arch == "amd64" else "ttyAMA0"
        append = f"root=/dev/vda rw console={console} net.ifnames=0"
        self.console.unlink(missing_ok=True)
        machine = ["-machine", "q35"] if self.arch == "amd64" else ["-machine", "virt"]
        args = [
            QEMU[self.arch], *machine, *(["-accel", "kvm", "-cpu", "host"] if accel == "kvm"
                                         else ["-accel", "tcg,thread=multi", "-cpu", "max"]),
            "-smp", str(os.cpu_count() or 2), "-m", str(self.memory_mb),
            "-kernel", str(self.image / "vmlinuz"), "-initrd", str(self.image / "initrd.img"),
            "-append", append,
            "-drive", f"file={disk},if=virtio,format=qcow2,cache=unsafe",
            "-netdev", f"user,id=n0,restrict=on,hostfwd=tcp:127.0.0.1:{self.ssh_port}-:22",
            "-device", "virtio-net-pci,netdev=n0",
            "-device", "qemu-xhci,id=xhci",
            "-display", "none", "-serial", f"file:{self.console}",
            "-qmp", f"unix:{qmp_path},server=on,wait=off",
        ]  # fmt: skip
        # The screen of the official 7" touchscreen: 800×480. On arm64 a virtio GPU: the Pi's
        # screen is a DRM device too, and ramfb (used before) is only a firmware framebuffer
        # that a kernel booted directly never sees, so X found no screen at all.
        screen = ("VGA,edid=on,xres=800,yres=480" if self.arch == "amd64"
                  else "virtio-gpu-pci,xres=800,yres=480")  # fmt: skip
        args += ["-device", screen]
        self.booted_at = time.monotonic()
        with open(self.work / "qemu.err", "ab") as errors:
            self.proc = subprocess.Popen(
                args, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=errors
            )
        deadline = time.monotonic() + 20
        while accel == "kvm":
            if self.proc.poll() is None and "Linux version" in self.console_tail(200):
                break
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.proc.kill()
                self.proc.wait()
                self.proc = None
                return False
            time.sleep(0.5)
        deadline = time.monotonic() + 30
        while True:
            try:
                self.qmp = QMP(qmp_path)
                return True
            except OSError:
                if self.proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(
                        f"QEMU did not start: {(self.work / 'qemu.err').read_text()}"
                    ) from None
                time.sleep(0.2)

    def accelerator(self) -> str:
        return "kvm" if VM.kvm_works else "tcg"

    def wait_ssh(self, timeout: float = 600) -> float:
        """Wait until SSH answers a command; return seconds since power-on."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("the VM stopped while booting; see " + str(self.console))
            try:
                if self.ssh("true", timeout=20, check=False).returncode == 0:
                    return time.monotonic() - self.booted_at
            except subprocess.TimeoutExpired:
                pass
            time.sleep(2)
        raise TimeoutError(f"no SSH within {timeout} s; console: {self.console_tail()}")

    def reboot(self, timeout: float = 600) -> float:
        """Reboot from inside, as a technician would; return seconds until SSH is back."""
        boot_id = self.ssh("cat /proc/sys/kernel/random/boot_id").stdout
        self.ssh("sudo systemctl reboot", check=False)
        self.booted_at = time.monotonic()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                now = self.ssh("cat /proc/sys/kernel/random/boot_id", timeout=20, check=False)
                if now.returncode == 0 and now.stdout != boot_id:
                    return time.monotonic() - self.booted_at
            except subprocess.TimeoutExpired:
                pass
            time.sleep(2)
        raise TimeoutError(f"the VM did not come back within {timeout} s")

    def stop(self) -> None:
        if self.proc is None:
            return
        if self.qmp is not None:
            with contextlib.suppress(OSError, ConnectionError, RuntimeError):
                self.qmp.run("quit")
            self.qmp.close()
        try:
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.proc = None

    def console_tail(self, lines: int = 30) -> str:
        try:
            text = self.console.read_text(errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])

    # --- from outside ------------------------------------------------------------------
    def ssh_options(self) -> list[str]:
        return [
            "-i", str(self.key), "-p", str(self.ssh_port),
            "-o", f"UserKnownHostsFile={self.known_hosts}", "-o", "StrictHostKeyChecking=yes",
            "-o", "BatchMode=yes", "-o", "ConnectTimeout=10", "-o", "LogLevel=ERROR",
        ]  # fmt: skip

    def ssh(self, command: str, *, timeout: float = 300, check: bool = True):
        result = subprocess.run(
            ["ssh", *self.ssh_options(), "pi@127.0.0.1", command],
            capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL,
        )  # fmt: skip
        if check and result.returncode != 0:
            raise AssertionError(
                f"in the VM, {command!r} exited {result.returncode}:\n"
                f"{result.stdout[-2000:]}\n{result.stderr[-2000:]}"
            )
        return result

    def root(self, command: str, **kwargs):
        return self.ssh("sudo -n sh -c " + shlex.quote(command), **kwargs)

    def screendump(self, path: Path) -> Path:
        self.qmp.run("screendump", filename=str(path))
        return path

    # --- a USB stick -------------------------------------------------------------------
    def plug_stick(self, image: Path, name: str = "stick") -> None:
        self.qmp.run("blockdev-add", **{"driver": "raw", "node-name": f"{name}-drive",
                     "file": {"driver": "file", "filename": str(image)}})  # fmt: skip
        self.qmp.run("device_add", driver="usb-storage", id=name, drive=f"{name}-drive",
                     bus="xhci.0", removable=True)  # fmt: skip

    def unplug_stick(self, name: str = "stick") -> None:
        self.qmp.run("device_del", id=name)
        self.qmp.wait_event("DEVICE_DELETED", timeout=60, device=name)
        self.qmp.run("blockdev-del", **{"node-name": f"{name}-drive"})
