"""New guides from a USB stick or headquarters, going back, and the figures going out."""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
import threading
from pathlib import Path

from flask import (
    abort,
    request,
    send_file,
)

from kiosk.device.install import ReleaseStore
from kiosk.device.stats import csv_rows
from kiosk.device.sync.stick import save_on_stick
from kiosk.device.web.admin import common
from kiosk.device.web.admin.dashboard import dashboard_page
from kiosk.device.web.state import current_kiosk
from kiosk.errors import KioskError
from kiosk.formats.manifest import trusted_keys


def _chosen_stick() -> Path:
    """The mounted stick the form chose, or the dashboard with one sentence (400).

    The form sends a name from the list the page offered; it is compared with the sticks
    mounted now and never used as a path itself, so no typed value can reach the file system.
    """
    sticks = common.sticks()
    name = request.form.get("stick", "")
    if name not in sticks:
        abort(dashboard_page(message="usb_unknown" if sticks else "usb_none", status=400))
    return Path(common.kiosk_settings().usb_root) / name


@common.admin.post("/usb-install")
@common.login_required
def usb_install():
    settings = common.kiosk_settings()
    path = _chosen_stick()
    source = path if (path / "manifest.json").exists() else path / "release"
    try:
        trusted = trusted_keys(settings)
        manifest = ReleaseStore(settings.data_dir).install(source, trusted)
    except KioskError as exc:
        return dashboard_page(message=exc.message, status=400)
    return dashboard_page(message=f"installed:{manifest.version}")


@common.admin.post("/rollback")
@common.login_required
def rollback():
    settings = common.kiosk_settings()
    try:
        trusted = trusted_keys(settings)
        ReleaseStore(settings.data_dir).rollback(trusted)
    except KioskError as exc:
        return dashboard_page(message=exc.message, status=400)
    return dashboard_page(message="rolled_back")


_sync_lock = threading.Lock()


@common.admin.post("/sync")
@common.login_required
def sync_now():
    """Start a sync with headquarters in the background; the page never waits for it."""
    settings = common.kiosk_settings()
    if not settings.hq_host:
        return dashboard_page(message="no_hq", status=400)
    if not _sync_lock.acquire(blocking=False):
        return dashboard_page(message="sync_running")
    trusted = trusted_keys(settings)

    def run() -> None:
        from kiosk.device import sync as syncing

        try:
            syncing.run(settings, trusted)  # the lock every sync shares; it records the outcome
        except KioskError:
            pass  # recorded in sync-state.json, which the dashboard shows; busy: the other sync
        finally:
            _sync_lock.release()

    thread = threading.Thread(target=run, name="sync-now", daemon=True)
    current_kiosk().sync_thread = thread
    thread.start()
    return dashboard_page(message="sync_started")


def _csv_bytes() -> bytes:
    db = current_kiosk().usage.path
    out = io.StringIO()
    writer = csv.writer(out)
    for row in csv_rows(db, 366):
        writer.writerow(row)
    return out.getvalue().encode("utf-8")


@common.admin.get("/export.csv")
@common.login_required
def export():
    name = f"usage-{_safe(common.kiosk_settings().device_name)}-{dt.date.today().isoformat()}.csv"
    return send_file(
        io.BytesIO(_csv_bytes()), mimetype="text/csv", as_attachment=True, download_name=name
    )


@common.admin.post("/export-to-stick")
@common.login_required
def export_to_stick():
    settings = common.kiosk_settings()
    folder = _chosen_stick()
    name = f"usage-{_safe(settings.device_name)}-{dt.date.today().isoformat()}.csv"
    try:
        save_on_stick(folder, [], {name: _csv_bytes()}, what="the usage CSV")  # no links
    except OSError:
        return dashboard_page(message="usb_write_failed", status=400)
    return dashboard_page(message="exported")


def _safe(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_-]", "-", name)[:40] or "kiosk"
