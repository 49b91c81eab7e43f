"""Putting the kiosk on Raspberry Pis: provision, deploy, roll out, ask how they are.

Every function takes a fabric Connection first; ``rollout`` runs one of them on many kiosks
and collects a result per kiosk, so one unreachable library never stops the rest.
"""

from __future__ import annotations

import json
import shlex
import subprocess
import tomllib
from dataclasses import dataclass
from pathlib import Path

from fabric import Connection

from kiosk.errors import KioskError

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = (
    "python3-venv python3-pip python3-gi gir1.2-webkit2-4.1 fonts-noto-core espeak-ng lame sox "
    "rsync openssh-client network-manager nftables dnsmasq-base"
)


@dataclass
class Kiosk:
    name: str
    host: str
    port: int = 22
    user: str = "pi"
    key: str | None = None
    known_hosts: str | None = None
    prefix: str = "/opt/first-mile-kiosk"

    def connection(self) -> Connection:
        kwargs = {"key_filename": [self.key]} if self.key else {}
        return Connection(self.host, user=self.user, port=self.port, connect_kwargs=kwargs)


def _sh(c: Connection, command: str, **kwargs):
    """Run on the kiosk quietly, never waiting for a keyboard nobody is at."""
    return c.run(command, hide=True, in_stream=False, **kwargs)


def read_inventory(path: str | Path) -> list[Kiosk]:
    """An inventory is TOML: one [[kiosk]] table per device (name, host, port, user, key...)."""
    try:
        data = tomllib.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise KioskError(f"The inventory {path} cannot be read: {exc}") from None
    kiosks = []
    for n, entry in enumerate(data.get("kiosk", []), start=1):
        try:
            kiosks.append(Kiosk(**entry))
        except TypeError:
            raise KioskError(f"Inventory entry {n} has an unknown or missing field.") from None
    if not kiosks:
        raise KioskError(f"The inventory {path} lists no [[kiosk]].")
    return kiosks


def _files_to_ship() -> list[str]:
    listed = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True)
    if listed.returncode != 0:
        raise KioskError("deploy ships what git tracks; run it from a clone of the repository.")
    return [f for f in listed.stdout.splitlines() if f]


def push_code(c: Connection, kiosk: Kiosk) -> str:
    """Send the code with our rsync wrapper (pinned host key, only what changed)."""
    from kiosk.sync import rsync

    files = ROOT / ".deploy-files"
    files.write_text("\n".join(_files_to_ship()) + "\n")
    try:
        sent = rsync(c, kiosk.known_hosts, f"{ROOT}/", f":{kiosk.prefix}/src/",
                     f"--files-from={files}", "--delete-after")  # fmt: skip
    finally:
        files.unlink(missing_ok=True)
    return f"code sent ({sent.total} bytes)"


def install_env(c: Connection, kiosk: Kiosk) -> str:
    """Make (or update) the virtual environment with Debian's python3 and its python3-gi."""
    venv = f"{kiosk.prefix}/.venv"
    _sh(c, f"test -x {venv}/bin/python || /usr/bin/python3 -m venv --system-site-packages {venv}")
    _sh(c, f"{venv}/bin/pip install -q {shlex.quote(kiosk.prefix + '/src')}")
    return "environment installed"


def deploy(c: Connection, kiosk: Kiosk) -> str:
    return f"{push_code(c, kiosk)}; {install_env(c, kiosk)}"


def provision(c: Connection, kiosk: Kiosk, trusted_key: str) -> str:
    """A fresh Raspberry Pi OS: packages, a service user, folders, system files, units, key."""
    sudo = "sudo -n"
    _sh(c, f"{sudo} apt-get update -qq")
    _sh(
        c,
        f"{sudo} env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq {PACKAGES}",
    )
    # The Debian dnsmasq and hostapd services would fight NetworkManager's own: keep them off.
    _sh(
        c,
        f"{sudo} systemctl disable --now dnsmasq.service hostapd.service || true",
    )
    _sh(
        c,
        f"id kiosk >/dev/null 2>&1 || {sudo} useradd --system --create-home kiosk",
    )
    for folder in (kiosk.prefix, "/var/lib/first-mile-kiosk", "/etc/first-mile-kiosk"):
        _sh(c, f"{sudo} mkdir -p {folder}")
    _sh(c, f"{sudo} chown kiosk: /var/lib/first-mile-kiosk")
    c.put(trusted_key, "kiosk-release-key.pub")  # into the technician's home on the Pi
    _sh(c, f"{sudo} install -m 644 kiosk-release-key.pub /etc/first-mile-kiosk/release-key.pub "
          "&& rm kiosk-release-key.pub")  # fmt: skip
    deploy(c, kiosk)
    _sh(c, f"{sudo} {kiosk.prefix}/.venv/bin/kiosk services render --out /")
    units = "kiosk-web.service kiosk-display.service kiosk-sync.timer nftables.service"
    _sh(
        c,
        f"{sudo} systemctl daemon-reload && {sudo} systemctl enable --now {units}",
    )
    return "provisioned"


def status(c: Connection, kiosk: Kiosk) -> dict:
    """The kiosk's own heartbeat: version, release, last sync, disk, temperature, uptime."""
    result = _sh(c, f"{kiosk.prefix}/.venv/bin/kiosk doctor --json", warn=True)
    if result.failed:
        raise KioskError(f"kiosk doctor failed: {result.stderr.strip()[-200:]}")
    return json.loads(result.stdout)


def rollout(kiosks: list[Kiosk], action, *args) -> list[tuple[str, bool, object]]:
    """Run ``action(connection, kiosk, *args)`` on every kiosk; a result per kiosk, always."""
    results: list[tuple[str, bool, object]] = []
    for kiosk in kiosks:
        try:
            with kiosk.connection() as c:
                outcome = action(c, kiosk, *args)
            results.append((kiosk.name, True, outcome))
        except Exception as exc:
            results.append((kiosk.name, False, f"{exc.__class__.__name__}: {exc}"[:300]))
    return results


def summary(results: list[tuple[str, bool, object]]) -> str:
    lines = [f"{'ok  ' if ok else 'FAIL'} {name}: {message}" for name, ok, message in results]
    good = sum(1 for _, ok, _ in results if ok)
    lines.append(f"{good} of {len(results)} kiosks done, {len(results) - good} failed.")
    return "\n".join(lines)
