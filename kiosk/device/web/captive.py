"""The app's side of the captive portal: answer connectivity probes, land phones on the guides.

Which clients pressed Continue is kept in memory only (address → time), never on disk, and
forgotten after ``online_minutes`` (kiosk.device.web.state.OnlineClients).
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from urllib.parse import urlsplit

from flask import Blueprint, Flask, Response, redirect, render_template, request

from kiosk.device.web.state import current_kiosk, kiosk_of

PROBES_FILE = Path(__file__).with_name("probes.toml")
LOCAL_HOSTS = {"localhost", "127.0.0.1", "::1"}

captive = Blueprint("captive", __name__)


def load_probes() -> dict[str, dict]:
    data = tomllib.loads(PROBES_FILE.read_text(encoding="utf-8"))
    return {path: probe for probe in data["probe"] for path in probe["paths"]}


def _portal() -> str:
    return current_kiosk().settings.portal_url.rstrip("/")


def _own_hosts() -> set[str]:
    settings = current_kiosk().settings
    return LOCAL_HOSTS | {urlsplit(settings.portal_url).hostname or "", settings.host}


@captive.get("/portal")
def landing():
    from kiosk.device.web.common import g, page_context, release_or_503

    g.channel = "phone"
    release = release_or_503()
    return render_template("portal.html", **page_context(release, None, portal=_portal()))


@captive.post("/portal/continue")
def carry_on():
    current_kiosk().online.allow(request.remote_addr or "")
    return redirect("/", code=303)


def install(app: Flask) -> None:
    probes = load_probes()
    app.register_blueprint(captive)

    @app.before_request
    def probe_or_foreign_host():
        probe = probes.get(request.path)
        if probe is not None:
            if request.remote_addr in kiosk_of(app).online:
                return Response(probe["body"], status=probe["status"], mimetype=probe["type"])
            return redirect(f"{_portal()}/portal", code=302)
        host = (
            (request.host or "").rsplit(":", 1)[0]
            if "]" not in (request.host or "")
            else (request.host.rsplit("]", 1)[0] + "]")
        )
        if host.lower() not in _own_hosts():
            return redirect(f"{_portal()}/portal", code=302)
        return None
