"""Releases: see a candidate exactly as kiosks would show it, then publish it; or withdraw.

Previews are the kiosk's own pages (kiosk.device.web) served from the candidate folder, verified
first, read-only: only GET and HEAD reach them, and nothing is counted. Publishing and
withdrawing need the publisher role, a confirmation, and go into the audit log.
"""

from __future__ import annotations

from flask import Response, abort, current_app, redirect, request, url_for

from kiosk.errors import KioskError
from kiosk.hq import releases as hq_releases
from kiosk.hq.web import common
from kiosk.hq.web.state import current_hq

PREVIEW_CSP = (
    "default-src 'self'; img-src 'self' data:; media-src 'self'; style-src 'self' "
    "'unsafe-inline'; script-src 'self'; frame-ancestors 'none'; form-action 'self'"
)


def trusted():
    return current_app.config.get("HQ_TRUSTED") or []


def releases_page(message: str = "", status: int = 200):
    root = common.root()
    rows = {ch: hq_releases.releases(root, ch, trusted()) for ch in hq_releases.channels(root)}
    return common.page("hq/releases.html", status=status, channels=rows, checked=bool(trusted()),
                       message=message, created=hq_releases.created,
                       expired=hq_releases.expired)  # fmt: skip


@common.hq.get("/releases")
@common.needs("viewer")
def releases():
    done = request.args.get("m", "")
    return releases_page(message=done if done.split(":")[0] in ("published", "withdrawn") else "")


@common.hq.route("/preview/<channel>/<int:version>/", defaults={"path": ""},
                 methods=["GET", "HEAD", "POST"])  # fmt: skip
@common.hq.route("/preview/<channel>/<int:version>/<path:path>", methods=["GET", "HEAD", "POST"])
@common.needs("viewer")
def preview(channel: str, version: int, path: str):
    if request.method == "POST":
        abort(405)  # a preview is read-only: no answers, no sign-ins, no counts
    if not trusted():
        abort(common.page("hq/refused.html", status=503, needed="", why="no_key"))
    try:
        app = current_hq().previews.app(common.root(), channel, version)
    except KioskError as exc:
        return releases_page(message=f"refused:{exc.message}", status=400)
    environ = dict(request.environ)
    environ["SCRIPT_NAME"] = f"/preview/{channel}/{version}"
    environ["PATH_INFO"] = "/" + path
    # As a phone on the hotspot sees it, or the kiosk's own screen (the loopback) for /screen/.
    environ["REMOTE_ADDR"] = "127.0.0.1" if path.startswith("screen") else "10.42.0.99"
    response = Response.from_app(app, environ, buffered=True)
    response.headers["Content-Security-Policy"] = PREVIEW_CSP
    response.headers.pop("Set-Cookie", None)  # a preview leaves no visit behind
    return response


@common.hq.route("/releases/<channel>/<int:version>/publish", methods=["GET", "POST"])
@common.needs("publisher")
def publish(channel: str, version: int):
    row = next((r for r in _rows(channel) if r.version == version), None)
    if row is None:
        abort(404)
    if request.method == "GET":
        return common.page("hq/confirm.html", action="publish", row=row,
                           latest=hq_releases.latest(common.root(), channel))  # fmt: skip
    try:
        hq_releases.publish_candidate(common.root(), channel, version, trusted())
    except KioskError as exc:
        return releases_page(message=f"refused:{exc.message}", status=400)
    common.audit("publish release", f"{channel} {version}")
    return redirect(url_for("hq.releases", m=f"published:{channel} {version}"), code=303)


@common.hq.route("/releases/<channel>/withdraw", methods=["GET", "POST"])
@common.needs("publisher")
def withdraw(channel: str):
    rows = _rows(channel)
    newest = hq_releases.latest(common.root(), channel)
    if not newest:
        abort(404)
    if request.method == "GET":
        row = next((r for r in rows if r.version == newest), None)
        return common.page("hq/confirm.html", action="withdraw", row=row, latest=newest)
    try:
        back = hq_releases.withdraw(common.root(), channel, trusted())
    except KioskError as exc:
        return releases_page(message=f"refused:{exc.message}", status=400)
    common.audit("withdraw release", f"{channel} {newest} (LATEST back to {back})")
    return redirect(url_for("hq.releases", m=f"withdrawn:{channel} {newest} → {back}"), code=303)


def _rows(channel: str):
    if channel not in hq_releases.channels(common.root()):
        abort(404)
    return hq_releases.releases(common.root(), channel, trusted())
