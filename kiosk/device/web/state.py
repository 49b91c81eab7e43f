"""The app's shared state: one typed ``Kiosk`` object, kept as ``app.extensions["kiosk"]``.

Read it with ``kiosk_of(app)``, or ``current_kiosk()`` inside a request. The two tables it
keeps in memory only (never on disk) are here too: open visits (``Visits``) and the phones
that pressed Continue on the captive portal (``OnlineClients``).
"""

from __future__ import annotations

import secrets
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field

from flask import Flask, current_app

from kiosk.config import Settings
from kiosk.device.admin import Auth
from kiosk.device.library import Library
from kiosk.device.usage import Usage
from kiosk.device.web.admin_sessions import Sessions

KEY = "kiosk"  # the one key in app.extensions


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


class OnlineClients:
    """Clients that chose to continue, and until when they are told they are online."""

    def __init__(self, minutes: int) -> None:
        self.seconds = minutes * 60
        self._until: dict[str, float] = {}
        self._lock = threading.Lock()

    def allow(self, client: str) -> None:
        now = time.monotonic()
        with self._lock:
            self._until = {c: t for c, t in self._until.items() if t > now}
            self._until[client] = now + self.seconds

    def __contains__(self, client: str) -> bool:
        with self._lock:
            return self._until.get(client, 0) > time.monotonic()

    def __len__(self) -> int:
        now = time.monotonic()
        with self._lock:
            return sum(1 for t in self._until.values() if t > now)


@dataclass
class Kiosk:
    """Everything the app's pages share, built once by ``kiosk.device.web.create_app``."""

    settings: Settings  # replaced when the librarian saves the settings page
    library: Library  # the live release
    usage: Usage  # the day's counts (usage.db)
    visits: Visits  # open visits, in memory
    online: OnlineClients  # phones told they are online (captive portal), in memory
    auth: Auth  # the librarian's password, sign-in throttle and notices (admin.db)
    admin_sessions: Sessions  # the librarian's sessions, in memory
    # Called when notices or settings change: the front server's pre-drawn pages
    # (kiosk.device.web.front.Pages.stale), when `kiosk serve` keeps a folder for nginx.
    pages_changed: list[Callable[[], None]] = field(default_factory=list)
    sync_thread: threading.Thread | None = None  # the last "sync now" from the admin page

    @classmethod
    def build(cls, settings: Settings, library: Library, usage: Usage) -> Kiosk:
        return cls(
            settings=settings,
            library=library,
            usage=usage,
            visits=Visits(settings.visit_minutes),
            online=OnlineClients(settings.online_minutes),
            auth=Auth(settings.data_dir),
            admin_sessions=Sessions(
                settings.admin_idle_minutes * 60, settings.admin_session_hours * 3600
            ),
        )


def kiosk_of(app: Flask) -> Kiosk:
    return app.extensions[KEY]


def current_kiosk() -> Kiosk:
    """The running app's ``Kiosk`` (in a request, or with an app context pushed)."""
    return kiosk_of(current_app)
