"""Headquarters' app's shared state: one typed ``Headquarters`` object, kept as
``app.extensions["hq"]``; read it with ``hq_of(app)``, or ``current_hq()`` inside a request."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from flask import Flask, current_app

from kiosk.device.web.admin_sessions import Sessions
from kiosk.hq.accounts import Accounts
from kiosk.hq.releases import Previews

KEY = "hq"  # the one key in app.extensions


@dataclass
class Headquarters:
    """Everything headquarters' pages share, built once by ``kiosk.hq.web.create_hq_app``."""

    root: Path  # headquarters' root (hq.db, releases/, staff.db)
    previews: Previews  # a kiosk's own app for each release opened in preview
    accounts: Accounts  # staff accounts (staff.db)
    sessions: Sessions  # staff sessions, in memory


def hq_of(app: Flask) -> Headquarters:
    return app.extensions[KEY]


def current_hq() -> Headquarters:
    """The running app's ``Headquarters`` (in a request, or with an app context pushed)."""
    return hq_of(current_app)
