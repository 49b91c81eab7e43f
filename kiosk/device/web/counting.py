"""Counting from the web app: after each response, a few in-memory increments. Nothing else.

A visit is a random token in a session cookie, known only to this process's memory (token →
last seen, languages used: kiosk.device.web.state.Visits) and forgotten after ``visit_minutes``; the
cookie is never read into anything that is stored. No address, agent, referrer or query is
ever handed on.
"""

from __future__ import annotations

import contextlib
import logging
import re
import socket
import threading
from pathlib import Path

from flask import Blueprint, Flask, Response, abort, g, redirect, request

from kiosk.device.usage import Usage
from kiosk.device.web.state import Visits, current_kiosk, kiosk_of
from kiosk.errors import ReleaseNotFound
from kiosk.text import unmet_term

log = logging.getLogger(__name__)
COOKIE = "visit"
VISIT_HEADER = "X-Kiosk-Visit"  # set by the front server only (kiosk.device.nginx.nginx_conf)
PRERENDER = "kiosk.prerender"  # in a request's environ: drawn for the front server's folder
counting = Blueprint("counting", __name__)


def _usage() -> Usage:
    return current_kiosk().usage


def _known(lang: str, gid: str) -> None:
    """404 unless the live release has this language and guide."""
    from kiosk.device.web.common import guide_or_404, language_or_404, release_or_503

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


def install(app: Flask) -> None:
    app.register_blueprint(counting)

    @app.after_request
    def count(response: Response) -> Response:
        kiosk = kiosk_of(app)
        usage, visits = kiosk.usage, kiosk.visits
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
        guide = kiosk_of(app).library.release().guide_by_id.get(gid)
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
        release = kiosk_of(app).library.release()
    except ReleaseNotFound:
        return 0
    kiosk = kiosk_of(app)
    usage, visits = kiosk.usage, kiosk.visits
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


class FrontCounts:
    """The front server's page reports, received on a Unix datagram socket at ``path`` by a
    thread: counting stays in memory, off every request's path (nginx sends and moves on).

    The socket's queue is short (net.unix.max_dgram_qlen, raised on the device by
    kiosk.device.services), so each wake-up first empties it, up to ``batch`` reports, and
    only then counts them: a report that finds the queue full is a page never counted.

    Waking costs more than counting (on a busy hotspot, about 85 µs of CPU a wake-up against
    10 µs a report, benchmarks/load_bench.py), so after a report wakes it the thread lets
    ``settle`` seconds of reports gather first. The queue holds about 270 reports, so this
    keeps every report up to some 1,300 pages a second, far beyond what a Pi's nginx sends;
    and when a wake-up finds a full ``batch`` it goes round again at once. ``drain()``, as
    the app stops, counts whatever is still waiting, so stopping loses none of it.
    """

    def __init__(self, app: Flask, path: Path, batch: int = 256, settle: float = 0.2) -> None:
        self.app, self.batch, self.settle = app, batch, settle
        path.unlink(missing_ok=True)
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(str(path))
        path.chmod(0o600)  # nginx runs as the kiosk's user
        self._held: list[bytes] = []  # received, not counted yet
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self.thread = threading.Thread(target=self._receive, name="front-counts", daemon=True)
        self.thread.start()

    def _receive(self) -> None:
        full = False
        while not self._stopping.is_set():
            try:
                first = self.sock.recv(4096)
            except OSError:  # closed by drain(): the app is stopping
                return
            with self._lock:
                self._held.append(first)
            if not full:
                self._stopping.wait(self.settle)
            full = self.count_waiting()

    def count_waiting(self) -> bool:
        """Count what was received and what waits in the queue, up to ``batch`` reports;
        True when that many were there (more may be waiting)."""
        with self._lock:
            reports, self._held = self._held, []
            with contextlib.suppress(OSError):  # the queue is empty (or the socket closed)
                while len(reports) < self.batch:
                    reports.append(self.sock.recv(4096, socket.MSG_DONTWAIT))
            try:
                count_front_lines(self.app, [r.decode("utf-8", "replace") for r in reports])
            except Exception as exc:  # the next pages must still be counted
                log.warning("pages the front server sent could not be counted: %r", exc)
            return len(reports) >= self.batch

    def drain(self) -> None:
        """Count every report still waiting, then close the socket (the app is stopping)."""
        self._stopping.set()
        while self.count_waiting():
            pass
        with self._lock:
            self.sock.close()


def listen_to_front(app: Flask, path: Path, batch: int = 256, settle: float = 0.2) -> FrontCounts:
    """Count the pages the front server reports on the socket at ``path`` (``FrontCounts``)."""
    return FrontCounts(app, path, batch, settle)
