"""Fabric tasks for technicians: `fab -f deploy/fabfile.py <task> --inventory kiosks.toml`.

    provision   a fresh Raspberry Pi OS: packages, user, folders, system files, units, key
    deploy      send the code and install it
    rollout     deploy to every kiosk in the inventory, then restart the services
    status      each kiosk's version, release, last sync, disk, temperature

Every task works on every kiosk in the inventory and reports each one; a failure at one
library never stops the rest. See docs/technician.md.
"""

from __future__ import annotations

import sys
from pathlib import Path

from invoke import task

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from kiosk import deploy as fleet


def _run(inventory: str, action, *args) -> None:
    results = fleet.rollout(fleet.read_inventory(inventory), action, *args)
    print(fleet.summary(results))
    if not all(ok for _, ok, _ in results):
        sys.exit(1)


@task(help={"inventory": "TOML file of [[kiosk]] entries", "key": "release public key"})
def provision(c, inventory, key):
    """Prepare fresh Raspberry Pis to be kiosks."""
    _run(inventory, fleet.provision, key)


@task(help={"inventory": "TOML file of [[kiosk]] entries"})
def deploy(c, inventory):
    """Send the code to every kiosk and install it."""
    _run(inventory, fleet.deploy)


@task(help={"inventory": "TOML file of [[kiosk]] entries"})
def rollout(c, inventory):
    """Deploy to every kiosk, then restart its services."""

    def deploy_and_restart(conn, kiosk):
        done = fleet.deploy(conn, kiosk)
        conn.run(
            "sudo -n systemctl restart kiosk-web.service kiosk-display.service",
            hide=True,
            in_stream=False,
        )
        return done + "; restarted"

    _run(inventory, deploy_and_restart)


@task(help={"inventory": "TOML file of [[kiosk]] entries"})
def status(c, inventory):
    """Ask every kiosk how it is."""
    results = fleet.rollout(fleet.read_inventory(inventory), fleet.status)
    for name, ok, message in results:
        if ok:
            beat = message
            print(f"{name}: release {beat.get('release')}, app {beat.get('app_version')}, "
                  f"last sync {beat.get('last_sync')}, disk {beat.get('disk_free')}, "
                  f"temperature {beat.get('temperature')}")  # fmt: skip
        else:
            print(f"{name}: unreachable or failing: {message}")
