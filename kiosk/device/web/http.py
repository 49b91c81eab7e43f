"""What every response gets: compression, validators for caching, and security headers."""

from __future__ import annotations

import gzip
import hashlib

from flask import Flask, Response, abort, request

from kiosk.lru import LRU

COMPRESSIBLE = ("text/", "application/json", "application/javascript", "image/svg+xml")
CSP = (
    "default-src 'self'; img-src 'self' data:; media-src 'self'; style-src 'self'; "
    "script-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
)


def _gzipped(cache: LRU[str, bytes], key: str, body: bytes) -> bytes:
    """A body compressed once per content hash, so a busy page is not compressed again."""
    packed = cache.get(key)
    if packed is None:
        packed = gzip.compress(body, compresslevel=6, mtime=0)
        cache.put(key, packed)
    return packed


def install(app: Flask) -> None:
    cache: LRU[str, bytes] = LRU(256)

    @app.before_request
    def refuse_oversized_bodies():
        # A few forms take a file (the librarian's recorded notice): their own, larger limit.
        limit = app.config.get("KIOSK_UPLOADS", {}).get(request.endpoint)
        if limit is not None:
            request.max_content_length = limit
        limit = limit or app.config["MAX_CONTENT_LENGTH"]
        if request.content_length is not None and request.content_length > limit:
            abort(413)

    @app.after_request
    def finish(response: Response) -> Response:
        response.headers.setdefault("Content-Security-Policy", CSP)
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["Referrer-Policy"] = "no-referrer"
        response.headers.setdefault("X-Frame-Options", "DENY")
        if response.direct_passthrough or response.status_code != 200:
            return response
        mimetype = response.mimetype or ""
        if not mimetype.startswith(COMPRESSIBLE):
            return response
        body = response.get_data()
        digest = hashlib.sha256(body).hexdigest()[:20]
        response.headers.setdefault("Cache-Control", "no-cache")
        response.headers["Vary"] = "Accept-Encoding"
        gzip_ok = "gzip" in request.headers.get("Accept-Encoding", "").lower()
        if gzip_ok and len(body) > 600:
            response.set_data(_gzipped(cache, digest, body))
            response.headers["Content-Encoding"] = "gzip"
            response.set_etag(f"{digest}-gz")
        else:
            response.set_etag(digest)
        return response.make_conditional(request)
