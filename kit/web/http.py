"""HTTP hygiene for every response: security headers, ETag/304, gzip for the crowd.

Browsers advertise Brotli only over HTTPS, so gzip is the one encoding that matters on
the hotspot. HTML is `no-cache` with an ETag: a phone revalidates and gets a 304.
"""
from __future__ import annotations

import gzip

from flask import request

from kit.web import common

CSP = (
    "default-src 'none'; style-src 'unsafe-inline'; img-src 'self' data:; "
    "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)
COMPRESSIBLE = ("text/", "application/json", "image/svg+xml")
MIN_GZIP_BYTES = 512


def init_app(app) -> None:
    common.init_app(app)
    app.after_request(finish_response)


def finish_response(response):
    headers = response.headers
    headers.setdefault("Content-Security-Policy", CSP)
    headers.setdefault("X-Content-Type-Options", "nosniff")
    headers.setdefault("Referrer-Policy", "no-referrer")
    if response.direct_passthrough or response.status_code in (204, 304):
        return response
    compress = _should_gzip(response)
    if response.status_code != 200:  # an error page (a form sent back with its errors): smaller,
        if compress:                 # like the others, but no ETag: it answers one request
            response.set_data(gzip.compress(response.get_data(), compresslevel=6, mtime=0))
            headers["Content-Encoding"] = "gzip"
        return response
    if request.method in ("GET", "HEAD"):
        headers.setdefault("Cache-Control", "no-cache")
        if "no-store" not in headers["Cache-Control"]:
            response.add_etag()
            if compress:  # the same entity in another encoding has another tag
                response.set_etag(response.get_etag()[0] + "-gz")
            response.make_conditional(request)
            if response.status_code == 304:
                return response
    if compress:
        response.set_data(gzip.compress(response.get_data(), compresslevel=6, mtime=0))
        headers["Content-Encoding"] = "gzip"
    return response


def _should_gzip(response) -> bool:
    content_type = response.headers.get("Content-Type", "")
    if not content_type.startswith(COMPRESSIBLE) or "Content-Encoding" in response.headers:
        return False
    response.vary.add("Accept-Encoding")
    return "gzip" in request.accept_encodings and (response.content_length or 0) >= MIN_GZIP_BYTES
