"""Signing in and out, the language of the page, and the screen's 'still here'."""

from __future__ import annotations

from flask import (
    Response,
    g,
    redirect,
    request,
    url_for,
)

from kiosk.device.admin import Throttled
from kiosk.device.web.admin import common
from kiosk.device.web.admin.dashboard import dashboard_page


@common.admin.get("/")
def home():
    if not common.signed_in():
        if g.librarian is None:
            g.librarian = common.sessions().new(common.source(), _lang_choice())
        session = g.librarian
        message = request.args.get("m", "")
        page = common.page(
            "admin/sign_in.html",
            no_password=not common.auth().has_password(),
            message=message if message in ("wrong", "throttled", "expired") else "",
        )
        return common.set_cookie(page, session)
    return dashboard_page()


def _lang_choice() -> str:
    release = common.live_release()
    lang = request.args.get("lang", "")
    if release is not None and lang in release.languages:
        return lang
    return release.reference if release else "en"


@common.admin.post("/sign-in")
def sign_in():
    user = request.form.get("user", "")[:200]
    password = request.form.get("password", "")[:1000]
    try:
        ok = common.auth().check(user, password, common.source())
    except Throttled:
        return redirect(url_for("admin.home", m="throttled"), code=303)
    if not ok:
        return redirect(url_for("admin.home", m="wrong"), code=303)
    common.sessions().end(g.librarian.token)  # a new id at sign-in: a planted one is worthless
    session = common.sessions().new(common.source(), g.librarian.lang, signed_in=True)
    return common.set_cookie(redirect(url_for("admin.home"), code=303), session)


@common.admin.post("/sign-out")
def sign_out():
    common.sessions().end(g.librarian.token)
    response = redirect(url_for("admin.home"), code=303)
    response.delete_cookie(common.COOKIE, path="/admin", httponly=True, samesite="Strict")
    return response


@common.admin.post("/language")
def language():
    release = common.live_release()
    lang = request.form.get("lang", "")
    if release is not None and lang in release.languages:
        g.librarian.lang = lang
    return redirect(url_for("admin.home"), code=303)


@common.admin.get("/alive")
def alive():
    """The screen's page says the librarian is still touching it (the guard noted the time)."""
    return Response(status=204)
