"""What the visitor's pages share: the blueprint and its two channels, the live release, the
page frame.

Both channels share every page: ``site`` is registered twice, as ``phone`` (``/``) and as
``screen`` (``/screen/``), and only the kiosk's own window gets the screen's. The views are in
kiosk.device.web.pages; the captive portal, the counting and the librarian's pages draw their pages
in the same frame (``page_context``).
"""

from __future__ import annotations

import hashlib
import re
from functools import lru_cache
from pathlib import Path

from flask import Blueprint, abort, g, redirect, request, url_for

from kiosk import __version__
from kiosk.config import Settings
from kiosk.device.library import Library, Release
from kiosk.device.web.state import current_kiosk
from kiosk.errors import ReleaseNotFound
from kiosk.vocabulary import LOOPBACK

STATIC = Path(__file__).parent / "static"
SAFE_ID = re.compile(r"^[a-z0-9][a-z0-9-]{0,63}\Z")  # \Z: "$" allows a final newline
SAFE_TAG = re.compile(r"^[A-Za-z]{2,3}(-[A-Za-z0-9]{2,8}){0,2}\Z")

site = Blueprint("site", __name__)


def library() -> Library:
    return current_kiosk().library


def settings() -> Settings:
    return current_kiosk().settings


@lru_cache(maxsize=1)
def static_names() -> frozenset[str]:
    return frozenset(path.name for path in STATIC.iterdir())


@lru_cache(maxsize=1)
def static_version() -> str:
    """A fingerprint of the CSS and JS, so their URLs change whenever their bytes do."""
    digest = hashlib.sha256(__version__.encode())
    for path in sorted(STATIC.iterdir()):
        digest.update(path.name.encode() + path.read_bytes())
    return digest.hexdigest()[:10]


# ---------------------------------------------------------------- request context


@site.url_value_preprocessor
def _pick_channel(endpoint, values):
    g.channel = "screen" if request.blueprint == "screen" else "phone"
    if g.channel == "screen" and request.remote_addr not in LOOPBACK:
        # Only the kiosk's own window is the touchscreen; phones get the phone pages.
        abort(redirect(request.full_path.replace("/screen", "", 1).rstrip("?") or "/"))


def release_or_503() -> Release:
    try:
        return library().release()
    except ReleaseNotFound:
        abort(503)


def language_or_404(lang: str) -> dict:
    release = release_or_503()
    if not SAFE_TAG.match(lang) or lang not in release.languages:
        abort(404)
    return release.languages[lang]


def guide_or_404(release: Release, gid: str):
    """The guide called ``gid`` in the live release, or a 404."""
    if not SAFE_ID.match(gid) or gid not in release.guide_by_id:
        abort(404)
    return release.guide_by_id[gid]


def page_context(release: Release, lang: str | None, **extra) -> dict:
    language = release.languages.get(lang or "", release.languages[release.reference])
    words = release.words(language["tag"])
    return {
        "release": release,
        "lang": language,
        "words": words,
        "say": release.ui_audio(language["tag"]),
        "channel": g.channel,
        "prefix": "screen." if g.channel == "screen" else "phone.",
        "static_version": static_version(),
        "idle_seconds": settings().idle_seconds,
        "media": lambda rel: url_for("media", version=release.version, rel=rel),
        **extra,
    }
