"""What the librarian's pages share: the blueprint and its guard, sessions, the page frame.

Sessions live in memory only (admin_sessions.py); the session id is renewed at sign-in and
forgotten at sign-out, after ``admin_idle_minutes`` of quiet (on the kiosk's own screen: after
``idle_seconds``, when the screen starts over) and ``admin_session_hours`` after sign-in. Every
POST carries the session's CSRF token and, when the browser says where it comes from, must come
from this kiosk (Origin). Every response is no-store. From the hotspot, every admin URL and
method is the same 404 as an unknown page unless ``admin_over_hotspot`` is on.
"""

from __future__ import annotations

import functools
import time
import tomllib
from pathlib import Path

from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    g,
    redirect,
    render_template,
    request,
    url_for,
)

from kiosk.config import Settings
from kiosk.device.admin import Auth, mounted_sticks, strip_bidi
from kiosk.device.library import Release
from kiosk.device.web.admin_sessions import AdminSession, Sessions, post_allowed
from kiosk.device.web.common import page_context
from kiosk.device.web.state import current_kiosk
from kiosk.errors import KioskError
from kiosk.vocabulary import LOOPBACK

COOKIE = "admin"
MAX_NOTICE = 1000
# Seconds a screen session outlives the screen's own idle reset: kiosk.js says "still here" at
# most every 5 s while the librarian touches the page, so the server never ends it first.
SCREEN_GRACE = 8
PERIODS = {"today": 1, "week": 7, "month": 30}
STARTED = time.monotonic()

admin = Blueprint("admin", __name__, url_prefix="/admin")
FALLBACK_WORDS = tomllib.loads(
    (Path(__file__).parent.parent / "admin_words.toml").read_text(encoding="utf-8")
)["admin"]


def kiosk_settings() -> Settings:
    return current_kiosk().settings


def auth() -> Auth:
    return current_kiosk().auth


def sessions() -> Sessions:
    return current_kiosk().admin_sessions


def source() -> str:
    return "screen" if request.remote_addr in LOOPBACK else "hotspot"


def idle_limit(where: str) -> float:
    """Seconds of quiet that end a session: on the screen, the screen's own idle reset."""
    settings = kiosk_settings()
    if where == "screen":
        # Holds even when the page's script fails: the next person at the screen finds the
        # dashboard, but every click on it asks for the password again.
        return settings.idle_seconds + SCREEN_GRACE
    return settings.admin_idle_minutes * 60


@admin.before_request
def guard():
    where = source()
    g.channel = "screen" if where == "screen" else "phone"
    if where == "hotspot" and not kiosk_settings().admin_over_hotspot:
        abort(404)
    g.librarian = sessions().get(request.cookies.get(COOKIE), where, idle_limit(where))
    if request.method == "POST" and not post_allowed(
        g.librarian, request.form.get("csrf", ""), request.headers.get("Origin"), request.host
    ):
        abort(403)


@admin.after_request
def never_store(response: Response) -> Response:
    response.headers["Cache-Control"] = "no-store"
    response.headers["Pragma"] = "no-cache"
    return response


def set_cookie(response: Response, session: AdminSession) -> Response:
    response.set_cookie(COOKIE, session.token, httponly=True, samesite="Strict", path="/admin")
    return response


def live_release() -> Release | None:
    try:
        return current_kiosk().library.release()
    except KioskError:
        return None


def page(template: str, status: int = 200, **extra):
    release = live_release()
    if release is None:
        return Response("No guides are installed; the librarian's page needs them.", 503)
    lang = g.librarian.lang if g.librarian else release.reference
    ctx = page_context(release, lang, **extra)
    words = ctx["words"]
    ctx.update(
        a=lambda key: words.get(f"admin.{key}") or FALLBACK_WORDS.get(key, key),
        csrf=g.librarian.csrf if g.librarian else "",
        languages=release.languages,
    )
    response = Response(render_template(template, **ctx), status=status, mimetype="text/html")
    return response


def signed_in() -> bool:
    return g.librarian is not None and g.librarian.signed_in


def login_required(view):
    """A page for the signed-in librarian only; anyone else is sent to sign in again."""

    @functools.wraps(view)
    def wrapper(**kwargs):
        need_sign_in()
        return view(**kwargs)

    return wrapper


def need_sign_in():
    if not signed_in():
        abort(redirect(url_for("admin.home", m="expired"), code=303))


def clean_text(text: str, limit: int, newlines: bool) -> str | None:
    """Text a librarian typed, or None when it cannot be used (control characters, size)."""
    if newlines:  # a notice: shown on screen and read aloud, which must say the same thing
        text = strip_bidi(text)
    text = text.replace("\r\n", "\n").strip()
    allowed = "\n" if newlines else ""
    if not text or len(text) > limit or any(ord(c) < 32 and c not in allowed for c in text):
        return None
    return text


def bump() -> None:
    """Notices or settings changed: pages kept with the release must be drawn again."""
    release = live_release()
    if release is not None:
        release.pages.clear()
    for redraw in current_kiosk().pages_changed:
        redraw()  # the front server's copies (kiosk.device.web.front.Pages)


def sticks() -> list[str]:
    return mounted_sticks(kiosk_settings().usb_root, current_app.config["MOUNTS_FILE"])
