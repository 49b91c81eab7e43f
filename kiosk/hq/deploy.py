"""Putting the kiosk on Raspberry Pis: provision, deploy, roll out, ask how they are.

Every function takes a fabric Connection first; ``rollout`` runs one of them on many kiosks
and collects a result per kiosk, so one unreachable library never stops the rest.

What a kiosk looks like once provisioned (everything root's and read-only to the services,
except the data folder):

    /opt/first-mile-kiosk/venvs/<id>/    one virtual environment per installed artifact
    /opt/first-mile-kiosk/venv -> venvs/<id>    the live one (switched by one rename)
    /opt/first-mile-kiosk/wheels/<id>/   the artifact it was installed from (no registry)
    /usr/local/bin/kiosk                 the technician's `kiosk` command
    /etc/first-mile-kiosk/               kiosk.toml, release-key.pub (root:kiosk, 0750)
    /var/lib/first-mile-kiosk/           data_dir: releases, counts, outbox (kiosk, 0750)
"""

from __future__ import annotations

import hashlib
import json
import shlex
import tomllib
from dataclasses import dataclass
from pathlib import Path

from fabric import Connection

from kiosk.errors import KioskError

PREFIX = "/opt/first-mile-kiosk"
ETC = "/etc/first-mile-kiosk"
DATA = "/var/lib/first-mile-kiosk"
USER = "kiosk"
# Debian packages a kiosk needs on top of Raspberry Pi OS Lite: Python with GTK WebKit for the
# window, X to show it, speech, sync tools, and NetworkManager's hotspot (wpasupplicant runs
# the access point, dnsmasq-base its DHCP and DNS), and nginx in front of the web app on the
# hotspot (kiosk-proxy.service, its own instance: Debian's nginx.service is disabled), and
# CUPS's lp and lpstat, with which the librarian's page prints leaflets on a printer that a
# technician sets up (docs/printing.md). The kiosk's Python packages come from the artifact,
# never from a registry.
PACKAGES = (
    "python3-venv python3-gi gir1.2-webkit2-4.1 fonts-noto-core espeak-ng lame sox "
    "xserver-xorg-core xserver-xorg-input-libinput xinit xauth matchbox-window-manager "
    "rsync openssh-client network-manager wpasupplicant nftables dnsmasq-base nginx-light "
    "cups-client"
)
# Groups that give the kiosk's user the Pi's buttons and lights (gpio) and its screen, touch
# and sound; only those that exist on the system are used.
GROUPS = ("gpio", "video", "render", "input", "audio")
UNITS = (
    "nftables.service kiosk-web.service kiosk-proxy.service kiosk-display.service kiosk-sync.timer"
)

# The technician's `kiosk`: runs as the kiosk's user, so whatever it writes (a release, the
# librarian's password) stays readable by the services; `kiosk services` writes system files
# and so runs as root.
WRAPPER = f"""#!/bin/sh
# The First Mile kiosk's command (installed by provisioning; see docs/technician.md).
export KIOSK_CONFIG={ETC}/kiosk.toml
if [ "$(id -u)" = 0 ] && [ "$1" != services ]; then
    exec runuser -u {USER} -- {PREFIX}/venv/bin/kiosk "$@"
fi
exec {PREFIX}/venv/bin/kiosk "$@"
"""


@dataclass
class Kiosk:
    name: str
    host: str
    port: int = 22
    user: str = "pi"
    key: str | None = None
    known_hosts: str | None = None

    def connection(self) -> Connection:
        """A connection that trusts only the host key pinned in ``known_hosts`` when given."""
        kwargs = {"key_filename": [str(Path(self.key).expanduser())]} if self.key else {}
        c = Connection(self.host, user=self.user, port=self.port, connect_kwargs=kwargs)
        if self.known_hosts:
            import paramiko

            c.client.load_host_keys(str(Path(self.known_hosts).expanduser()))
            c.client.set_missing_host_key_policy(paramiko.RejectPolicy())
        return c


def _sh(c: Connection, command: str, **kwargs):
    """Run on the kiosk quietly, never waiting for a keyboard nobody is at."""
    return c.run(command, hide=True, in_stream=False, **kwargs)


def _root(c: Connection, script: str, **kwargs):
    """Run a shell script as root on the kiosk (the technician's passwordless sudo)."""
    return _sh(c, "sudo -n sh -ec " + shlex.quote(script), **kwargs)


def _upload(c: Connection, local: str | Path, name: str) -> str:
    """Copy a file into the technician's home on the kiosk (private to them, unlike /tmp)."""
    home = _sh(c, "pwd").stdout.strip()
    c.put(str(local), f"{home}/{name}")
    return f"{home}/{name}"


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


def artifact_id(artifact: str | Path) -> str:
    """The name a kiosk keeps an artifact's environment under: a hash of its bytes."""
    try:
        data = Path(artifact).read_bytes()
    except OSError as exc:
        raise KioskError(f"The artifact {artifact} cannot be read: {exc.strerror}.") from None
    return hashlib.sha256(data).hexdigest()[:16]


def deploy(c: Connection, kiosk: Kiosk, artifact: str | Path) -> str:
    """Install the artifact into its own environment and make it the live one.

    The environment is built beside the live one and switched in by one rename, so a cut
    connection or a full card leaves the old code running; the one before stays for rollback.
    """
    ident = artifact_id(artifact)
    upload = _upload(c, artifact, f"first-mile-kiosk-{ident}.tar")
    venv, wheels = f"{PREFIX}/venvs/{ident}", f"{PREFIX}/wheels/{ident}"
    _root(c, f"""
        if [ ! -e {venv}/.complete ]; then
            rm -rf {venv} {wheels}
            install -d -m 755 {PREFIX}/venvs {wheels}
            tar -xf {upload} -C {wheels}
            /usr/bin/python3 -m venv --system-site-packages {venv}
            {venv}/bin/pip install -q --no-index --no-deps --require-hashes --ignore-installed \
                --disable-pip-version-check --root-user-action=ignore \
                --find-links {wheels}/wheels -r {wheels}/install.lock
            touch {venv}/.complete
        fi
        rm -f {upload}
        previous=$(readlink {PREFIX}/venv || true)
        ln -sfn venvs/{ident} {PREFIX}/venv.new
        mv -T {PREFIX}/venv.new {PREFIX}/venv
        printf %s {shlex.quote(WRAPPER)} > /usr/local/bin/kiosk.new
        chmod 755 /usr/local/bin/kiosk.new
        mv -f /usr/local/bin/kiosk.new /usr/local/bin/kiosk
        for old in {PREFIX}/venvs/*; do
            case "venvs/${{old##*/}}" in venvs/{ident}|"$previous") ;; *)
                rm -rf "$old" "{PREFIX}/wheels/${{old##*/}}" ;;
            esac
        done
    """)  # fmt: skip
    return f"code {ident} installed"


def provision(c: Connection, kiosk: Kiosk, trusted_key: str | Path, artifact: str | Path) -> str:
    """A fresh Raspberry Pi OS Lite: packages, a service user, folders, code, system files."""
    listed = _sh(c, f"dpkg-query -W -f='${{db:Status-Status}} ${{Package}}\\n' {PACKAGES} "
                    "2>/dev/null || true").stdout  # fmt: skip
    installed = {
        parts[1] for parts in map(str.split, listed.splitlines())
        if len(parts) == 2 and parts[0] == "installed"
    }  # fmt: skip
    if set(PACKAGES.split()) - installed:
        # Only when something is missing: a card prepared offline never needs a registry.
        _root(c, "apt-get update -qq && DEBIAN_FRONTEND=noninteractive "
                 f"apt-get install -y -qq --no-install-recommends {PACKAGES}")  # fmt: skip
    key_upload = _upload(c, trusted_key, "kiosk-release-key.pub")
    config = (
        "# Written once by provisioning; edit it, then: sudo kiosk services render --out /\n"
        f'device_name = "{kiosk.name}"\n'
        f'data_dir = "{DATA}"\n'
        f'trusted_keys = ["{ETC}/release-key.pub"]\n'
    )
    _root(c, f"""
        # The Debian dnsmasq and hostapd services would fight NetworkManager's own, and
        # Debian's nginx (its welcome page on port 80) kiosk-proxy's.
        for unit in dnsmasq.service hostapd.service nginx.service; do
            systemctl disable --now "$unit" 2>/dev/null || true
        done
        id {USER} >/dev/null 2>&1 || useradd --system --user-group --home-dir {DATA} \
            --no-create-home --shell /usr/sbin/nologin {USER}
        for group in {" ".join(GROUPS)}; do
            if getent group "$group" >/dev/null; then usermod -aG "$group" {USER}; fi
        done
        install -d -o {USER} -g {USER} -m 750 {DATA}
        install -d -o root -g {USER} -m 750 {ETC}
        install -o root -g root -m 644 {key_upload} {ETC}/release-key.pub
        rm -f {key_upload}
        if [ ! -e {ETC}/kiosk.toml ]; then
            printf %s {shlex.quote(config)} > {ETC}/kiosk.toml
            chown root:{USER} {ETC}/kiosk.toml
            chmod 640 {ETC}/kiosk.toml
        fi
    """)  # fmt: skip
    deploy(c, kiosk, artifact)
    _root(c, f"""
        /usr/local/bin/kiosk services render --out /
        systemctl daemon-reload
        systemctl enable {UNITS}
        systemctl restart nftables.service systemd-sysctl.service
        nmcli connection reload
        systemctl restart kiosk-web.service kiosk-proxy.service
        systemctl start kiosk-sync.timer
    """)  # fmt: skip
    return "provisioned; reboot to start the screen and the hotspot"


def restart(c: Connection, kiosk: Kiosk) -> str:
    _root(c, "systemctl restart kiosk-web.service kiosk-display.service")
    return "restarted"


def status(c: Connection, kiosk: Kiosk) -> dict:
    """The kiosk's own heartbeat: version, release, last sync, disk, temperature, uptime."""
    result = _sh(c, "sudo -n /usr/local/bin/kiosk doctor --json", warn=True)
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
