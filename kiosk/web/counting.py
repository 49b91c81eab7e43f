"""Counting from the web app: after each response, a few in-memory increments. Nothing else.

A visit is a random token in a session cookie, known only to this process's memory (token →
last seen, languages used) and forgotten after ``visit_minutes``; the cookie is never read
into anything that is stored. No address, agent, referrer or query is ever handed on.
"""

from __future__ import annotations

import contextlib
import logging
import re
import secrets
import socket
import threading
import time
from collections import OrderedDict
from pathlib import Path

from flask import Blueprint, Flask, Response, abort, current_app, g, redirect, request

from kiosk.errors import ReleaseNotFound
from kiosk.text import unmet_term
from kiosk.usage import Usage

log = logging.getLogger(__name__)
COOKIE = "visit"
VISIT_HEADER = "X-Kiosk-Visit"  # set by the front server only (kiosk.device.nginx.nginx_conf)
PRERENDER = "kiosk.prerender"  # in a request's environ: drawn for the front server's folder
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

    def touch(self, token: str | None, adopt: bool = False) -> tuple[str, bool, set[str]]:
        """Return (token, is this a new visit, languages already chosen in it). A token this
        table does not know starts a new visit under a fresh token, or under the same one when
        ``adopt`` (the front server gave it out, and the phone keeps it)."""
        now = time.monotonic()
        with self._lock:
            entry = self._seen.pop(token or "", None)
            if entry is None or entry[0] <= now - self.seconds:
                if not (adopt and token):
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
    from kiosk.web.common import guide_or_404, language_or_404, release_or_503

    language_or_404(lang)
    guide_or_404(release_or_503(), gid)


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


def count_page(
    usage: Usage,
    visits: Visits,
    channel: str,
    token: str | None,
    *,
    lang: str | None,
    gid: str | None = None,
    adopt: bool = False,
) -> tuple[str, bool, set[str]]:
    """Count one page seen: the visit (if new), the page, its language (once a visit) and the
    guide. Shared by the app's own responses and the front server's pre-drawn pages."""
    token, new, langs = visits.touch(token, adopt=adopt)
    if new:
        usage.count_visit(channel)
    usage.count_page(channel)
    if lang and lang not in langs:
        langs.add(lang)
        usage.count_language(lang, channel)
    if gid:
        usage.count_view(gid, lang, channel)
    return token, new, langs


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
        if request.environ.get(PRERENDER):
            return response  # drawn for the front server, not seen by anyone yet
        # Behind the front server, a phone's visit is the cookie nginx gives out (its userid
        # module), handed on in this header whatever the phone sent; the app sets none.
        given = request.headers.get(VISIT_HEADER) if app.config.get("KIOSK_PROXIED") else None
        token = given or request.cookies.get(COOKIE)
        if endpoint.endswith((".languages", ".attract")):
            # The language choice starts afresh: on the touchscreen it is where the idle reset
            # lands, so the visit ends here and the next touch starts a new one.
            if token:
                visits.end(token)
            if COOKIE in request.cookies:
                response.delete_cookie(COOKIE, path="/", httponly=True, samesite="Lax")
            return response
        args = request.view_args or {}
        lang = args.get("lang")
        gid = args.get("gid") if endpoint.endswith(".guide") else None
        if gid is not None and not _translated(app, gid, lang):
            gid = None  # a page saying the guide is not in this language yet: not a view
        token, new, _ = count_page(
            usage, visits, channel, token, lang=lang, gid=gid, adopt=given is not None
        )
        if new and given is None:
            response.set_cookie(COOKIE, token, httponly=True, samesite="Lax", path="/")
        if endpoint.endswith(".search") and "search_found" in g:
            term = None
            if not g.search_found:
                term = unmet_term(g.search_query, g.search_known_words)
            # Only a visit the server already knew (its cookie came back) counts toward k: a
            # phone that keeps no cookies, or makes them up, is a "new visit" on every request
            # and would otherwise reach k alone.
            usage.count_search(lang, channel, g.search_found, term, visit=None if new else token)
        return response


def _translated(app: Flask, gid: str, lang: str | None) -> bool:
    try:
        guide = app.extensions["kiosk.library"].release().guide_by_id.get(gid)
    except ReleaseNotFound:
        return False
    return guide is not None and lang in guide.text


# The front server's pre-drawn pages, as nginx reports each one sent: "GET /ne/guide/visa 200
# visit=…" in a syslog datagram (kiosk.device.nginx.nginx_conf). Nothing else is in it.
FRONT_LINE = re.compile(
    r"kiosk: (?P<method>GET|HEAD) /(?P<lang>[^/\s]+)/(?:guide/(?P<gid>[^/\s]+))? "
    r"(?P<status>\d{3}) (?P<visit>\S*)\Z"
)


def count_front_lines(app: Flask, lines: list[str]) -> int:
    """Count the pages the front server sent by itself; how many of ``lines`` were one."""
    try:
        release = app.extensions["kiosk.library"].release()
    except ReleaseNotFound:
        return 0
    usage, visits = app.extensions["kiosk.usage"], app.extensions["kiosk.visits"]
    counted = 0
    for line in lines:
        found = FRONT_LINE.search(line.strip())
        if not found or found["method"] != "GET" or found["status"] not in ("200", "304"):
            continue
        lang, gid = found["lang"], found["gid"]
        if lang not in release.languages or (gid is not None and gid not in release.guide_by_id):
            continue
        if gid is not None and lang not in release.guide_by_id[gid].text:
            gid = None  # the page that says the guide is not in this language yet
        visit = found["visit"].strip("-") or None
        count_page(usage, visits, "phone", visit, lang=lang, gid=gid, adopt=True)
        counted += 1
    return counted


def listen_to_front(
    app: Flask, path: Path, batch: int = 256, settle: float = 0.2
) -> threading.Thread:
    """Receive the front server's page reports on a Unix datagram socket at ``path``, in a
    thread: counting stays in memory, off every request's path (nginx sends and moves on).

    The socket's queue is short (net.unix.max_dgram_qlen, raised on the device by
    kiosk.device.services), so each wake-up first empties it, up to ``batch`` reports, and
    only then counts them: a report that finds the queue full is a page never counted.

    Waking costs more than counting (on a busy hotspot, about 85 µs of CPU a wake-up against
    10 µs a report, benchmarks/load_bench.py), so after a report wakes it the thread lets
    ``settle`` seconds of reports gather first. The queue holds about 270 reports, so this
    keeps every report up to some 1,300 pages a second, far beyond what a Pi's nginx sends;
    and when a wake-up finds a full ``batch`` it goes round again at once."""
    path.unlink(missing_ok=True)
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(str(path))
    path.chmod(0o600)  # nginx runs as the kiosk's user

    def receive() -> None:
        full = False
        while True:
            reports = [sock.recv(4096)]
            if not full:
                time.sleep(settle)
            with contextlib.suppress(BlockingIOError):
                while len(reports) < batch:
                    reports.append(sock.recv(4096, socket.MSG_DONTWAIT))
            full = len(reports) == batch
            try:
                count_front_lines(app, [r.decode("utf-8", "replace") for r in reports])
            except Exception as exc:  # the next pages must still be counted
                log.warning("pages the front server sent could not be counted: %r", exc)

    thread = threading.Thread(target=receive, name="front-counts", daemon=True)
    thread.start()
    return thread
