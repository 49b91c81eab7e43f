"""A Debian 12 disk image for the system test, built from Debian's own packages and cached.

The image stands in for a fresh Raspberry Pi OS Lite (Bookworm) card as the technician writes
it with Raspberry Pi Imager: Debian with NetworkManager, a user ``pi`` with an SSH key and
passwordless sudo, SSH on. The kiosk's own Debian packages (``kiosk.hq.deploy.PACKAGES``) are
put in too, so the VM never needs a package registry; provisioning finds them present and
skips apt, exactly as it does on a card prepared offline. What only the test needs (the
simulated Wi-Fi radios, a phone's tools) is listed apart in ``SCAFFOLD``.

The result lives in ``~/.cache/first-mile-kiosk/system-test/<key>/``, where the key is a hash
of everything that goes into it, so a change to any input builds a new image and an unchanged
one is reused: ``rootfs.img`` (raw ext4, used read-only as the backing file of each run's
copy-on-write disk), ``vmlinuz``, ``initrd.img``, the SSH key the test logs in with and the
image's SSH host key.

    python -m tests.system.image [--arch amd64|arm64]    build (or find) the image, print its folder
"""

from __future__ import annotations

import argparse
import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from kiosk.hq.deploy import PACKAGES

SUITE = "bookworm"
IMAGE_SIZE = "6G"
# A fresh Raspberry Pi OS Lite, as far as the kiosk can tell: systemd, NetworkManager (Pi OS's
# network stack since Bookworm), SSH, sudo, Python.
BASE = [
    "systemd-sysv", "udev", "dbus", "libpam-systemd", "kmod", "iproute2", "sudo",
    "openssh-server", "network-manager", "python3", "ca-certificates", "procps", "less",
]  # fmt: skip
KERNEL = {"amd64": "linux-image-amd64", "arm64": "linux-image-arm64"}
# Only for the test: the second and third radio's client tools, a phone's DHCP client and HTTP,
# and the CUPS a technician would set up for a printer (docs/printing.md).
SCAFFOLD = ["iw", "wpasupplicant", "curl", "busybox", "cups-daemon"]


def cache_root() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache")
    return Path(base) / "first-mile-kiosk" / "system-test"


def packages(arch: str) -> list[str]:
    return sorted({*BASE, KERNEL[arch], *PACKAGES.split(), *SCAFFOLD})


def image_key(arch: str) -> str:
    """A hash of every input of the image: suite, arch, size, packages and the setup script."""
    inputs = [SUITE, arch, IMAGE_SIZE, *packages(arch), CUSTOMIZE]
    return hashlib.sha256("\n".join(inputs).encode()).hexdigest()[:16]


CUSTOMIZE = r"""
set -eu
root="$1"; pub="$2"
# The technician's user, as Raspberry Pi Imager makes it: SSH key only, passwordless sudo.
chroot "$root" useradd --create-home --shell /bin/bash --groups sudo pi
install -d -m 700 "$root/home/pi/.ssh"
install -m 600 "$pub" "$root/home/pi/.ssh/authorized_keys"
chroot "$root" chown -R pi:pi /home/pi/.ssh
echo 'pi ALL=(ALL) NOPASSWD: ALL' > "$root/etc/sudoers.d/010_pi-nopasswd"
chmod 440 "$root/etc/sudoers.d/010_pi-nopasswd"
printf 'PasswordAuthentication no\nUseDNS no\n' > "$root/etc/ssh/sshd_config.d/image.conf"
echo kiosk-vm > "$root/etc/hostname"
printf '127.0.0.1 localhost\n127.0.1.1 kiosk-vm\n' > "$root/etc/hosts"
echo '/dev/vda / ext4 defaults,noatime 0 1' > "$root/etc/fstab"
# The Pi's Wi-Fi chip, simulated: radio 0 becomes the hotspot, 1 and 2 are phones.
echo mac80211_hwsim > "$root/etc/modules-load.d/hwsim.conf"
echo 'options mac80211_hwsim radios=3' > "$root/etc/modprobe.d/hwsim.conf"
# NetworkManager leaves the phones' radios alone; the test moves them into namespaces.
cat > "$root/etc/NetworkManager/conf.d/99-test-phones.conf" <<EOF
[keyfile]
unmanaged-devices=interface-name:wlan1;interface-name:wlan2
EOF
# A graphical target like Raspberry Pi OS with a screen attached.
chroot "$root" systemctl set-default graphical.target
# Faster boots: nothing waits for a network that the hotspot kiosk may never have.
chroot "$root" systemctl mask NetworkManager-wait-online.service apt-daily.timer \
    apt-daily-upgrade.timer e2scrub_all.timer fstrim.timer man-db.timer
rm -f "$root"/etc/ssh/ssh_host_*_key*
chroot "$root" ssh-keygen -q -t ed25519 -N '' -f /etc/ssh/ssh_host_ed25519_key
cp "$root/etc/ssh/ssh_host_ed25519_key.pub" "$3/host_key.pub"
cp -L "$root/vmlinuz" "$3/vmlinuz"
cp -L "$root/initrd.img" "$3/initrd.img"
"""


def build(arch: str = "amd64", log=sys.stderr) -> Path:
    """Build the image for ``arch`` unless a cached one with the same inputs exists."""
    folder = cache_root() / f"{SUITE}-{arch}-{image_key(arch)}"
    if (folder / "done").exists():
        return folder
    if os.geteuid() != 0:
        raise SystemExit("Building the system-test image needs root (mmdebstrap, mkfs.ext4 -d).")
    started = time.monotonic()
    cache_root().mkdir(parents=True, exist_ok=True)  # a new machine has no cache yet
    work = Path(tempfile.mkdtemp(prefix="image-", dir=cache_root().parent))
    try:
        out = work / "out"
        tree = work / "tree"
        out.mkdir()
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "system-test",
                        "-f", str(out / "id_ed25519")], check=True)  # fmt: skip
        hook = work / "customize.sh"
        hook.write_text(CUSTOMIZE)
        print(f"Building the {SUITE} {arch} image with mmdebstrap", file=log)
        subprocess.run(
            ["mmdebstrap", "--mode=root", "--variant=minbase", f"--architectures={arch}",
             "--include=" + ",".join(packages(arch)),
             "--aptopt=APT::Install-Recommends \"false\"",
             "--dpkgopt=path-exclude=/usr/share/doc/*",
             "--dpkgopt=path-exclude=/usr/share/man/*",
             f"--customize-hook=sh {hook} \"$1\" {out / 'id_ed25519.pub'} {out}",
             SUITE, str(tree)],
            check=True, stdout=log, stderr=log,
        )  # fmt: skip
        subprocess.run(["truncate", "-s", IMAGE_SIZE, str(out / "rootfs.img")], check=True)
        subprocess.run(
            ["mkfs.ext4", "-q", "-L", "root", "-d", str(tree), str(out / "rootfs.img")],
            check=True,
        )
        (out / "build-seconds").write_text(f"{time.monotonic() - started:.0f}\n")
        (out / "done").write_text("")
        folder.parent.mkdir(parents=True, exist_ok=True)
        if folder.exists():
            shutil.rmtree(folder)
        out.rename(folder)
        return folder
    finally:
        shutil.rmtree(work, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--arch", choices=sorted(KERNEL), default="amd64")
    print(build(parser.parse_args().arch))


if __name__ == "__main__":
    main()
