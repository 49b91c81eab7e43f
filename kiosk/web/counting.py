"""Counting from the web app: after each response, a few in-memory increments. Nothing else.

A visit is a random token in a session cookie, known only to this process's memory (token →
last seen, languages used) and forgotten after ``visit_minutes``; the cookie is never read
into anything that is stored. No address, agent, referrer or query is ever handed on.
"""

from __future__ import annotations

import secrets
import threading
import time
from collections import OrderedDict

from flask import Blueprint, Flask, Response, abort, current_app, g, redirect, request

from kiosk.text import unmet_term
from kiosk.usage import Usage

COOKIE = "visit"
counting = Blueprint("counting", __name__)


class Visits:
    """Open visits, in memory only, ordered by when each was last seen.

    Every request costs the same whatever the day's traffic: a lookup, a move to the young end,
    and dropping visits that ended from the old end (each visit is dropped once). Phones that
    keep no cookie start a new visit on every page, so the table is also capped: past
    ``limit`` open visits the oldest is forgotten (its next page counts as a new visit).
    """

    def __init__(self, minutes: int, limit: int = 20_000) -> None:
        self.seconds = minutes * 60
        self.limit = limit
        self._seen: OrderedDict[str, tuple[float, set[str]]] = OrderedDict()
        self._lock = threading.Lock()

    def _expire(self, now: float) -> None:
        seen, oldest = self._seen, now - self.seconds
        while seen:
            last, _ = next(iter(seen.values()))
            if last > oldest and len(seen) <= self.limit:
                return
            seen.popitem(last=False)

    def touch(self, token: str | None) -> tuple[str, bool, set[str]]:
        """Return (token, is this a new visit, languages already chosen in it)."""
        now = time.monotonic()
        with self._lock:
            entry = self._seen.pop(token or "", None)
            if entry is None or entry[0] <= now - self.seconds:
                token = secrets.token_urlsafe(16)
                langs: set[str] = set()
                new = True
            else:
                langs, new = entry[1], False
            self._seen[token] = (now, langs)
            self._expire(now)
            return token, new, langs

    def end(self, token: str | None) -> None:
        with self._lock:
            self._seen.pop(token or "", None)

    def __len__(self) -> int:
        with self._lock:
            self._expire(time.monotonic())
            return len(self._seen)


def _usage() -> Usage:
    return current_app.extensions["kiosk.usage"]


def _known(lang: str, gid: str) -> None:
    """404 unless the live release has this language and guide."""
    from kiosk.web.pages import _guide, _language, _release

    _language(lang)
    _guide(_release(), gid)


@counting.post("/<lang>/guide/<gid>/listen")
def listen(lang: str, gid: str):
    """A Listen button started or finished (sent by the page's script with sendBeacon)."""
    _known(lang, gid)
    channel = "screen" if request.form.get("channel") == "screen" else "phone"
    _usage().count_listen(gid, lang, channel, finished=request.form.get("event") == "finish")
    return Response(status=204)


@counting.post("/<lang>/guide/<gid>/helpful")
def helpful(lang: str, gid: str):
    """The "Was this helpful?" buttons: a plain form, so it works without script."""
    _known(lang, gid)
    answer = request.form.get("answer")
    if answer not in ("yes", "no"):
        abort(400)
    screen = request.form.get("channel") == "screen" and request.remote_addr in ("127.0.0.1", "::1")
    _usage().count_helpful(gid, lang, "screen" if screen else "phone", answer == "yes")
    prefix = "/screen" if screen else ""
    return redirect(f"{prefix}/{lang}/guide/{gid}?thanks=1#helpful", code=303)


def install(app: Flask, usage: Usage, visit_minutes: int) -> None:
    app.extensions["kiosk.usage"] = usage
    visits = Visits(visit_minutes)
    app.extensions["kiosk.visits"] = visits
    app.register_blueprint(counting)

    @app.after_request
    def count(response: Response) -> Response:
        endpoint = request.endpoint or ""
        channel = getattr(g, "channel", None)
        if channel is None or response.status_code not in (200, 304) or request.method != "GET":
            return response
        if endpoint.endswith((".languages", ".attract")):
            # The language choice starts afresh: on the touchscreen it is where the idle reset
            # lands, so the visit ends here and the next touch starts a new one.
            if COOKIE in request.cookies:
                visits.end(request.cookies[COOKIE])
                response.delete_cookie(COOKIE, path="/", httponly=True, samesite="Lax")
            return response
        token, new, langs = visits.touch(request.cookies.get(COOKIE))
        if new:
            usage.count_visit(channel)
            response.set_cookie(COOKIE, token, httponly=True, samesite="Lax", path="/")
        usage.count_page(channel)
        args = request.view_args or {}
        lang = args.get("lang")
        if lang and lang not in langs:
            langs.add(lang)
            usage.count_language(lang, channel)
        if endpoint.endswith(".guide"):
            usage.count_view(args["gid"], lang, channel)
        elif endpoint.endswith(".search") and "search_found" in g:
            term = None
            if not g.search_found:
                term = unmet_term(g.search_query, g.search_known_words)
            # Only a visit the server already knew (its cookie came back) counts toward k: a
            # phone that keeps no cookies, or makes them up, is a "new visit" on every request
            # and would otherwise reach k alone.
            usage.count_search(lang, channel, g.search_found, term, visit=None if new else token)
        return response
