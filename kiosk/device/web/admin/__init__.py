"""The librarian's page, one module per part:

- ``common``: the blueprint, its guard (sessions, CSRF, Origin, no-store), the page frame;
- ``sign_in``: signing in and out, the page's language, the screen's "still here";
- ``dashboard``: usage in pictures and the kiosk's health;
- ``notices``: local notices, read by the kiosk or in the librarian's own voice;
- ``updates``: new guides from a stick or headquarters, going back, figures going out;
- ``leaflets``: the guides on paper, printed on the library's printer through CUPS;
- ``settings``: what a librarian may change.
"""

from __future__ import annotations

from flask import Flask, abort, request

from kiosk.device.admin import MIN_PASSWORD, MOUNTS_FILE
from kiosk.device.web.admin import (  # noqa: F401
    common,
    dashboard,
    leaflets,
    notices,
    settings,
    sign_in,
    updates,
)
from kiosk.device.web.admin.notices import NOTICE_UPLOAD, notice_audio

__all__ = ["MIN_PASSWORD", "NOTICE_UPLOAD", "install"]


def _hidden_from_phones() -> None:
    """Phones get an unknown page's 404 for every /admin path and method, when not allowed.

    This runs before routing answers, which would otherwise tell a phone that the page exists
    (308 from /admin to /admin/, 405 for a GET of /admin/sign-in).
    """
    path = request.path
    if path != "/admin" and not path.startswith("/admin/"):
        return
    if common.source() == "hotspot" and not common.kiosk_settings().admin_over_hotspot:
        abort(404)


def install(app: Flask) -> None:
    app.before_request(_hidden_from_phones)
    app.config.setdefault("MOUNTS_FILE", MOUNTS_FILE)  # tests name their own
    app.register_blueprint(common.admin)
    app.add_url_rule("/notice/<int:notice_id>.mp3", "notice_audio", notice_audio)
    # A notice may carry the librarian's own reading (a WAV from the page's recorder).
    app.config.setdefault("KIOSK_UPLOADS", {})["admin.add_notice"] = NOTICE_UPLOAD
