"""The librarian's sessions: in memory only, capped, each with an idle and an absolute limit.

Opening the sign-in page makes a session (it carries the sign-in form's CSRF token and the
chosen language), so anyone who can reach the page can make them: those waiting to sign in are
capped and the least recently seen is evicted first. Signed-in sessions, which only the
password makes, have a cap of their own, so a flood of sign-in pages never pushes the librarian
out. A session belongs to the channel (screen or hotspot) it was made on.
"""

from __future__ import annotations

import hmac
import secrets
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import urlsplit

MAX_WAITING = 256  # sign-in pages opened: about 200 KB at most, however many requests come
MAX_SIGNED_IN = 8  # one librarian, a few browsers; the oldest goes first


@dataclass
class AdminSession:
    token: str
    csrf: str
    channel: str  # "screen" or "hotspot"
    lang: str
    signed_in: bool
    created: float
    last_seen: float
    user: str = ""  # headquarters' staff sign in by name; the kiosk has one librarian
    role: str = ""


class Sessions:
    """Sessions by token; ``clock`` is monotonic seconds (tests pass their own)."""

    def __init__(
        self,
        idle_seconds: float,
        lifetime_seconds: float,
        clock: Callable[[], float] = time.monotonic,
        max_signed_in: int = MAX_SIGNED_IN,
    ) -> None:
        self.idle = idle_seconds
        self.max_signed_in = max_signed_in
        self.lifetime = lifetime_seconds
        self.clock = clock
        # Least recently seen first, so eviction and sweeping look only at the front.
        self._waiting: OrderedDict[str, AdminSession] = OrderedDict()
        self._signed_in: OrderedDict[str, AdminSession] = OrderedDict()
        self._lock = threading.Lock()

    def new(
        self, channel: str, lang: str, signed_in: bool = False, user: str = "", role: str = ""
    ) -> AdminSession:
        now = self.clock()
        token, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
        session = AdminSession(token, csrf, channel, lang, signed_in, now, now, user, role)
        items, cap = (
            (self._signed_in, self.max_signed_in) if signed_in else (self._waiting, MAX_WAITING)
        )
        with self._lock:
            while items and now - next(iter(items.values())).last_seen > self.idle:
                items.popitem(last=False)
            items[session.token] = session
            while len(items) > cap:
                items.popitem(last=False)
        return session

    def get(
        self, token: str | None, channel: str, idle: float | None = None
    ) -> AdminSession | None:
        """The live session for ``token`` on ``channel``; ``idle`` may shorten the idle limit."""
        now = self.clock()
        idle = self.idle if idle is None else min(idle, self.idle)
        with self._lock:
            for items in (self._signed_in, self._waiting):
                session = items.get(token or "")
                if session is None:
                    continue
                if session.channel != channel:
                    return None  # a screen cookie carried to a phone is worth nothing there
                if now - session.last_seen > idle or now - session.created > self.lifetime:
                    del items[session.token]
                    return None
                session.last_seen = now
                items.move_to_end(session.token)
                return session
        return None

    def end(self, token: str | None) -> None:
        with self._lock:
            self._signed_in.pop(token or "", None)
            self._waiting.pop(token or "", None)

    def __len__(self) -> int:
        with self._lock:
            return len(self._signed_in) + len(self._waiting)


def post_allowed(session: AdminSession | None, form_token: str, origin: str | None, host: str):
    """Whether a POST may go on: it carries its session's CSRF token and, when the browser
    says where it comes from (Origin), it comes from this same host. The librarian's page
    and headquarters' app both ask this before any form is acted on."""
    if origin is not None and urlsplit(origin).netloc != host:
        return False
    return session is not None and hmac.compare_digest(form_token.encode(), session.csrf.encode())
