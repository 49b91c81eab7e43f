"""The dashboard: usage in pictures, the kiosk's health, notices, sticks, settings."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from flask import (
    request,
)

from kiosk.device import health
from kiosk.device.install import ReleaseStore
from kiosk.device.stats import totals
from kiosk.device.web.admin import common
from kiosk.device.web.state import current_kiosk
from kiosk.errors import KioskError


def dashboard_page(message: str = "", status: int = 200):
    settings = common.kiosk_settings()
    period = request.args.get("period", "today")
    period = period if period in common.PERIODS else "today"
    db = current_kiosk().usage.path
    figures = totals(db, common.PERIODS[period], settings.k_anonymity) if db.exists() else None
    release = common.live_release()
    store = ReleaseStore(settings.data_dir)
    manifest = _manifest_dates(store)
    usage = current_kiosk().usage
    state = {
        "release": store.current_version,
        "created": manifest[0],
        "expires": manifest[1],
        "previous": store.previous_version,
        "disk_free": health.disk_free(settings.data_dir),
        "temperature": health.cpu_temperature(),
        "throttled": health.throttled(),
        "uptime": health.uptime_seconds(),
        "phones": len(current_kiosk().online),
        "usage": usage.health(),
        "last_sync": _last_sync(settings.data_dir),
        "sticks": common.sticks(),
    }
    if manifest[0]:
        state["age_days"] = (dt.date.today() - dt.date.fromisoformat(manifest[0])).days
    titles = {g_.id: g_.text[release.reference]["title"] for g_ in release.guides}
    top_guides, language_bars, hour_bars = [], [], []
    if figures:
        top_guides = [(titles.get(gid, gid), n) for gid, n in figures["guides"].most_common(9)]
        names = {tag: lang["name"] for tag, lang in release.languages.items()}
        language_bars = [(names.get(t, t), n) for t, n in figures["languages"].most_common()]
        hour_bars = [(f"{h:02d}:00", n) for h, n in sorted(figures["hours"].most_common(6))]
    notices = common.auth().notices()
    return common.page(
        "admin/dashboard.html",
        status=status,
        period=period,
        figures=figures,
        state=state,
        notices=notices,
        settings=settings,
        message=message,
        today=dt.date.today(),
        top_guides=top_guides,
        language_bars=language_bars,
        hour_bars=hour_bars,
    )


def _manifest_dates(store: ReleaseStore):
    import json

    try:
        data = json.loads((store.active() / "manifest.json").read_text())
        return data["created"][:10], data["expires"][:10]
    except (KioskError, OSError, ValueError, KeyError):
        return None, None


def _last_sync(data_dir) -> str | None:
    import json

    try:
        return json.loads((Path(data_dir) / "sync-state.json").read_text()).get("summary")
    except (OSError, ValueError, AttributeError):
        return None


MESSAGES = ("notice_added", "saved")


@common.admin.get("/dashboard")
@common.login_required
def dashboard():
    message = request.args.get("m", "")
    return dashboard_page(message=message if message in MESSAGES else "")
