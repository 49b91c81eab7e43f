"""The files the app sends as they are: the live release's media, the CSS and JS, no favicon.

On the device nginx sends most of them itself from ``www/`` (kiosk.device.web.front); these answer
what it passes on, and everything when the app runs alone. A media file is sent only if the
live release's signed manifest lists it; files carry their version in the URL, so they are
cached for a year.
"""

from __future__ import annotations

from pathlib import Path

from flask import Response, abort, send_file

from kiosk.device.web.common import STATIC, release_or_503, static_names, static_version


def media(version: int, rel: str):
    """A file of the live release, only if its signed manifest lists it."""
    release = release_or_503()
    if version != release.version:
        abort(404)
    path = release.path_of(rel)
    if path is None or rel in ("catalog.json", "search.db") or rel.endswith(".json"):
        abort(404)
    response = send_file(path, conditional=True, max_age=31536000)
    response.headers["Cache-Control"] = "public, max-age=31536000, immutable"
    return response


def static_file(version: str, name: str):
    if version != static_version() or name not in static_names():
        abort(404)
    # Small files, read whole so that they are compressed like pages are.
    mimetype = {".css": "text/css", ".js": "text/javascript", ".svg": "image/svg+xml"}[
        Path(name).suffix
    ]
    response = Response((STATIC / name).read_bytes(), mimetype=mimetype)
    response.headers["Cache-Control"] = "public, max-age=31536000, immutable"
    return response


def favicon():
    """Browsers that ask for /favicon.ico whatever the page says get "none" (the pages link
    their icon, static/icon.svg), not a redirect and a 404 on every page."""
    return Response(status=204, headers={"Cache-Control": "public, max-age=86400"})
