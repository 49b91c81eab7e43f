"""Signing in and out of headquarters' app."""

from __future__ import annotations

from flask import g, redirect, request, url_for

from kiosk.device.admin import Throttled
from kiosk.hq.web import common

MESSAGES = ("wrong", "throttled", "expired", "signed_out")


@common.hq.get("/")
def home():
    if common.signed_in():
        return redirect(url_for("hq.fleet"), code=303)
    if g.staff is None:
        g.staff = common.sessions().new(common.CHANNEL, "en")
    message = request.args.get("m", "")
    page = common.page(
        "hq/sign_in.html",
        no_accounts=not common.accounts().has_password(),
        message=message if message in MESSAGES else "",
    )
    return common.set_cookie(page, g.staff)


@common.hq.post("/sign-in")
def sign_in():
    name = request.form.get("user", "")[:100].strip()
    password = request.form.get("password", "")[:1000]
    try:
        role = common.accounts().sign_in(name, password)
    except Throttled:
        return redirect(url_for("hq.home", m="throttled"), code=303)
    if role is None:
        return redirect(url_for("hq.home", m="wrong"), code=303)
    common.sessions().end(g.staff.token)  # a new id at sign-in: a planted one is worthless
    session = common.sessions().new(common.CHANNEL, "en", signed_in=True, user=name, role=role)
    return common.set_cookie(redirect(url_for("hq.fleet"), code=303), session)


@common.hq.post("/sign-out")
def sign_out():
    common.sessions().end(g.staff.token)
    response = redirect(url_for("hq.home", m="signed_out"), code=303)
    response.delete_cookie(common.COOKIE, path="/")
    return response
