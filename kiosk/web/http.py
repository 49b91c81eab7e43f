"""What every response gets: compression, validators for caching, and security headers."""

from __future__ import annotations

import gzip
import hashlib
import threading
from collections import OrderedDict

from flask import Flask, Response, abort, request

COMPRESSIBLE = ("text/", "application/json", "application/javascript", "image/svg+xml")
CSP = (
    "default-src 'self'; img-src 'self' data:; media-src 'self'; style-src 'self'; "
    "script-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
)


class _GzipCache:
    """Compressed bodies by content hash, so a busy page is compressed once."""

    def __init__(self, size: int = 256) -> None:
        self.size = size
        self.items: OrderedDict[str, bytes] = OrderedDict()
        self.lock = threading.Lock()

    def get(self, key: str, body: bytes) -> bytes:
        with self.lock:
            if key in self.items:
                self.items.move_to_end(key)
                return self.items[key]
        packed = gzip.compress(body, compresslevel=6, mtime=0)
        with self.lock:
            self.items[key] = packed
            while len(self.items) > self.size:
                self.items.popitem(last=False)
        return packed


def install(app: Flask) -> None:
    cache = _GzipCache()

    @app.before_request
    def refuse_oversized_bodies():
        limit = app.config["MAX_CONTENT_LENGTH"]
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
            response.set_data(cache.get(digest, body))
            response.headers["Content-Encoding"] = "gzip"
            response.set_etag(f"{digest}-gz")
        else:
            response.set_etag(digest)
        return response.make_conditional(request)
