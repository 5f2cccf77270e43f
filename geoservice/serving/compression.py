"""gzip for text answers (HTML, JSON, GeoJSON, CSS, JavaScript, CSV, SVG) when the client accepts it.

Every answer of a compressible type says `Vary: Accept-Encoding`, so a shared cache keeps both forms apart.
Left alone: bodies under MIN_SIZE, HEAD, 204/304, partial content (Range), streamed bodies (large exports:
their generator is never read into memory here) and anything already encoded. A strong ETag becomes weak, as
the compressed bytes differ from the uncompressed ones: caching.py and werkzeug compare If-None-Match weakly, so
304 answers keep working. Static files are compressed once per version and kept (STATIC_CACHE entries).
"""

from __future__ import annotations

import gzip
from collections import OrderedDict

from flask import request

MIN_SIZE = 1024  # smaller bodies gain less than the gzip header and the CPU cost
LEVEL = 6
STATIC_CACHE = 64  # compressed static files kept per process (keyed by path and ETag)
_static: OrderedDict[tuple[str, str], bytes] = OrderedDict()


def compressible(mimetype: str | None) -> bool:
    mimetype = (mimetype or "").lower()
    return (mimetype.startswith("text/") or mimetype.endswith(("/json", "+json", "/javascript", "+xml"))
            or mimetype in ("application/x-protobuf", "application/vnd.mapbox-vector-tile"))


def _gzip(data: bytes) -> bytes:
    return gzip.compress(data, compresslevel=LEVEL, mtime=0)


def compress(response):
    """The response gzipped when that is possible and worth it (see the module docstring)."""
    if not compressible(response.mimetype):
        return response
    response.vary.add("Accept-Encoding")
    if (request.method == "HEAD" or response.status_code in (204, 206, 304) or response.status_code < 200
            or "Content-Encoding" in response.headers or "Content-Range" in response.headers
            or request.accept_encodings["gzip"] <= 0):
        return response
    # send_file of our own static files: a file wrapper, read once here (they are small); any other file
    # wrapper or generator body is left to stream as it is
    static = response.direct_passthrough and (request.endpoint or "").endswith("static")
    if (response.is_streamed or response.direct_passthrough) and not static:
        return response
    etag, weak = response.get_etag()
    key = (request.path, etag or "")
    if static and etag and key in _static:
        _static.move_to_end(key)
        body = _static[key]
    else:
        response.direct_passthrough = False
        data = response.get_data()
        if len(data) < MIN_SIZE:
            return response
        body = _gzip(data)
        if static and etag:
            _static[key] = body
            while len(_static) > STATIC_CACHE:
                _static.popitem(last=False)
    response.direct_passthrough = False
    response.set_data(body)
    response.headers["Content-Encoding"] = "gzip"
    if etag and not weak:
        response.set_etag(etag, weak=True)
    return response


def init_app(app) -> None:
    """Register before the other after_request hooks: Flask runs them in reverse, so this one sees the final
    headers (ETag, Cache-Control) and body."""
    app.after_request(compress)
