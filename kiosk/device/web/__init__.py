"""The web app: one Flask app, two channels (phones and the touchscreen), a captive portal."""

from __future__ import annotations

import logging
from pathlib import Path

from flask import Flask

from kiosk.config import Settings, load_settings
from kiosk.device.library import Library
from kiosk.device.usage import Usage
from kiosk.device.web.state import KEY, Kiosk


def create_app(
    settings: Settings | None = None, library: Library | None = None, usage: Usage | None = None
) -> Flask:
    """Build the app for ``settings`` (tests pass their own; nothing global is read then)."""
    settings = settings or load_settings()
    if usage is None:
        usage = Usage(
            Path(settings.data_dir) / "usage.db",
            flush_seconds=settings.usage_flush_seconds,
            k=settings.k_anonymity,
        )
    app = Flask(__name__, static_folder=None)
    app.config.update(
        MAX_CONTENT_LENGTH=64 * 1024,
        JSON_AS_ASCII=False,
        TEMPLATES_AUTO_RELOAD=False,
    )
    app.extensions[KEY] = Kiosk.build(settings, library or Library.from_settings(settings), usage)
    # Werkzeug's request log would write client addresses; nothing here may.
    logging.getLogger("werkzeug").disabled = True

    from kiosk.device.web import admin, captive, counting, http, pages

    http.install(app)
    captive.install(app)
    admin.install(app)
    pages.install(app)
    counting.install(app)
    return app
