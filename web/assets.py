"""Static files at fingerprinted URLs (…/map.js?v=3f9c2a1b7d0e) that browsers and proxies may keep for a year.

url_for("web.static", filename=…) adds v=, a hash of the file's content; an answer to a URL with the current hash
is immutable, so a returning visitor asks for nothing again until the file (and so its URL) changes. Without v=
or with an old hash the answer stays revalidated (no-cache), as before.
"""

from __future__ import annotations

import hashlib
import os

from flask import request
from werkzeug.security import safe_join

from . import pages

IMMUTABLE = "public, max-age=31536000, immutable"
_fingerprints: dict[str, tuple[float, int, str]] = {}  # path -> (mtime, size, hash)


def fingerprint(filename: str) -> str | None:
    """A short hash of a static file's content (cached per modification time), None when there is no such file."""
    path = safe_join(pages.static_folder, filename)
    if path is None:
        return None
    try:
        stat = os.stat(path)
    except OSError:
        return None
    known = _fingerprints.get(path)
    if known and known[:2] == (stat.st_mtime, stat.st_size):
        return known[2]
    with open(path, "rb") as handle:
        digest = hashlib.sha256(handle.read()).hexdigest()[:12]
    _fingerprints[path] = (stat.st_mtime, stat.st_size, digest)
    return digest


@pages.url_defaults
def add_fingerprint(endpoint: str, values: dict) -> None:
    if endpoint == "web.static" and "filename" in values and "v" not in values:
        digest = fingerprint(values["filename"])
        if digest:
            values["v"] = digest


@pages.after_request
def cache_fingerprinted(response):
    if request.endpoint == "web.static" and response.status_code in (200, 304):
        filename = (request.view_args or {}).get("filename", "")
        if request.args.get("v") and request.args.get("v") == fingerprint(filename):
            response.headers["Cache-Control"] = IMMUTABLE
    return response
