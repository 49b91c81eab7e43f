"""Fabric tasks for technicians: `fab -r deploy <task> --inventory kiosks.toml ...`.

    provision   a fresh Raspberry Pi OS Lite: packages, user, folders, code, system files, key
    deploy      install a new artifact (the code) and make it live
    rollout     deploy to every kiosk in the inventory, then restart the services
    status      each kiosk's version, release, last sync, disk, temperature

The artifact is the one file built at headquarters by `./dev artifact` (the kiosk and its
pinned Python packages); kiosks never reach a package registry for it. Every task works on
every kiosk in the inventory and reports each one; a failure at one library never stops the
rest. See docs/technician.md.
"""

from __future__ import annotations

import sys
from pathlib import Path

from invoke import task

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from kiosk.hq import deploy as fleet

HELP = {
    "inventory": "TOML file of [[kiosk]] entries",
    "artifact": "the artifact from ./dev artifact",
    "key": "headquarters' release public key",
}


def _run(inventory: str, action, *args) -> None:
    results = fleet.rollout(fleet.read_inventory(inventory), action, *args)
    print(fleet.summary(results))
    if not all(ok for _, ok, _ in results):
        sys.exit(1)


@task(help=HELP)
def provision(c, inventory, key, artifact):
    """Prepare fresh Raspberry Pis to be kiosks (then reboot them)."""
    _run(inventory, fleet.provision, key, artifact)


@task(help={k: HELP[k] for k in ("inventory", "artifact")})
def deploy(c, inventory, artifact):
    """Install a new artifact on every kiosk."""
    _run(inventory, fleet.deploy, artifact)


@task(help={k: HELP[k] for k in ("inventory", "artifact")})
def rollout(c, inventory, artifact):
    """Deploy to every kiosk, then restart its services."""

    def deploy_and_restart(conn, kiosk, artifact):
        return f"{fleet.deploy(conn, kiosk, artifact)}; {fleet.restart(conn, kiosk)}"

    _run(inventory, deploy_and_restart, artifact)


@task(help={"inventory": HELP["inventory"]})
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
    if not all(ok for _, ok, _ in results):
        sys.exit(1)
