"""The settings a librarian may change on the page."""

from __future__ import annotations

from flask import (
    redirect,
    request,
    url_for,
)

from kiosk.config import write_device_settings
from kiosk.device.web.admin import common
from kiosk.device.web.admin.dashboard import dashboard_page
from kiosk.device.web.state import current_kiosk


@common.admin.post("/settings")
@common.login_required
def save_settings():
    release = common.live_release()
    form = request.form
    ssid = common.clean_text(form.get("wifi_ssid", ""), 32, newlines=False)
    try:
        idle = int(form.get("idle_seconds", ""))
        k = int(form.get("k_anonymity", ""))
    except ValueError:
        idle = k = -1
    order = [t for t in form.get("language_order", "").replace(",", " ").split() if t]
    if (
        ssid is None
        or not 15 <= idle <= 3600
        or not 2 <= k <= 100
        or len(order) != len(set(order))
        or any(t not in release.languages for t in order)
    ):
        return dashboard_page(message="invalid_setting", status=400)
    changes = {
        "wifi_ssid": ssid,
        "idle_seconds": idle,
        "k_anonymity": k,
        "language_order": order,
        "admin_over_hotspot": form.get("admin_over_hotspot") == "on",
    }
    settings = common.kiosk_settings()
    write_device_settings(settings.data_dir, changes)
    kiosk = current_kiosk()
    kiosk.settings = settings.replace(**changes)
    kiosk.usage.k = k
    common.bump()
    return redirect(url_for("admin.dashboard", m="saved"), code=303)
