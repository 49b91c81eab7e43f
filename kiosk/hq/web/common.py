"""What headquarters' pages share: the blueprint, its guard, roles and the page frame.

Sessions are in memory (a restart signs everyone out), renewed at sign-in, ended after
``IDLE_MINUTES`` of quiet and ``SESSION_HOURS`` after sign-in. Every POST carries the session's
CSRF token and, when the browser says where it comes from, must come from this app (Origin).
Every response is no-store and may not be framed. A page needs a role (kiosk.hq.accounts):
without one, the sign-in page; with too small a role, 403 and a sentence saying why.
"""

from __future__ import annotations

import functools
from pathlib import Path

from flask import (
    Blueprint,
    Response,
    abort,
    g,
    redirect,
    render_template,
    request,
    url_for,
)

from kiosk.device.web.admin_sessions import Sessions, post_allowed
from kiosk.hq.accounts import ROLES, Accounts, may
from kiosk.hq.web.state import current_hq

COOKIE = "hq"
CHANNEL = "staff"

hq = Blueprint("hq", __name__, static_folder="../static", static_url_path="/static")


def accounts() -> Accounts:
    return current_hq().accounts


def sessions() -> Sessions:
    return current_hq().sessions


def root() -> Path:
    return current_hq().root


@hq.before_request
def guard():
    g.staff = sessions().get(request.cookies.get(COOKIE), CHANNEL)
    if g.staff is not None and g.staff.signed_in:
        # The role is read afresh: a changed role or a removed account counts at once.
        g.staff.role = accounts().role_of(g.staff.user) or ""
        if not g.staff.role:
            sessions().end(g.staff.token)
            g.staff = None
    if request.method == "POST" and not post_allowed(
        g.staff, request.form.get("csrf", ""), request.headers.get("Origin"), request.host
    ):
        abort(403)


@hq.after_request
def protect(response: Response) -> Response:
    response.headers["Cache-Control"] = "no-store"
    response.headers["X-Frame-Options"] = "DENY"
    response.headers["X-Content-Type-Options"] = "nosniff"
    # "same-origin", not "no-referrer": with no-referrer a browser sends Origin: null on our own
    # forms, which the Origin check would refuse.
    response.headers["Referrer-Policy"] = "same-origin"
    response.headers.setdefault(
        "Content-Security-Policy",
        "default-src 'self'; img-src 'self' data:; style-src 'self'; frame-ancestors 'none'; "
        "form-action 'self'; base-uri 'none'",
    )
    return response


def set_cookie(response: Response, session) -> Response:
    response.set_cookie(COOKIE, session.token, httponly=True, samesite="Strict", path="/")
    return response


def signed_in() -> bool:
    return g.staff is not None and g.staff.signed_in


def needs(role: str):
    """A page for staff whose role is ``role`` or above (viewer < publisher < admin)."""
    if role not in ROLES:
        raise ValueError(f"unknown role {role!r}")

    def decorate(view):
        @functools.wraps(view)
        def wrapper(**kwargs):
            if not signed_in():
                abort(redirect(url_for("hq.home", m="expired"), code=303))
            if not may(g.staff.role, role):
                abort(page("hq/refused.html", status=403, needed=role))
            return view(**kwargs)

        return wrapper

    return decorate


def page(template: str, status: int = 200, **extra) -> Response:
    html = render_template(
        template,
        staff=g.staff if signed_in() else None,
        csrf=g.staff.csrf if g.staff else "",
        may=lambda needed: signed_in() and may(g.staff.role, needed),
        **extra,
    )
    return Response(html, status=status, mimetype="text/html")


def audit(action: str, detail: str) -> None:
    """One line in the audit log: the signed-in account did ``action`` (who, what, when)."""
    accounts().log(g.staff.user, action, detail)
