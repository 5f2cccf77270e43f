"""HTTP caching of public reads: ETag from the data version and the URL, Cache-Control, 304 Not Modified.

Only anonymous GET/HEAD requests for the JSON/GeoJSON API (/api/v1/…), the vector tiles (/tiles/…) and the
Atom feeds (/feeds/…) take part: a request with an Authorization header or from a logged-in user never gets a public
Cache-Control, and never a 304. The ETag changes whenever the data version does (every committed write
of map data, see migration 0006) or the service's version does (a new release may answer differently).
A matching If-None-Match is answered before the view runs: one tiny query instead of the real one.
Each worker process keeps the data version for DATA_VERSION_TTL_S (per database), and forgets it whenever it
commits a transaction itself: ETags lag a write by another process (worker, server, CLI) by at most that long.
"""

from __future__ import annotations

import hashlib
import time
from importlib import metadata

from flask import Response, g, request, session
from sqlalchemy import Connection, Engine, event

from ..db import READ_YOUR_WRITES_COOKIE, get_session, read_connection
from ..queries.common import data_version

API_MAX_AGE_S = 60
TILES_MAX_AGE_S = 300  # tiles are the heaviest to make and change only with imports
FEEDS_MAX_AGE_S = 300  # feed readers poll; an initiative appears within minutes, not seconds
PREFIXES = {"/api/v1/": API_MAX_AGE_S, "/tiles/": TILES_MAX_AGE_S, "/feeds/": FEEDS_MAX_AGE_S}
CACHED_STATUSES = (200, 204, 304)
# Reading the data version was a round trip on every anonymous GET; a second of lag is far below max-age.
DATA_VERSION_TTL_S = 1.0
_commits = [0]  # commits made by this process, through any engine (bumped by _count_commit)


def _count_commit(_conn) -> None:
    _commits[0] += 1


class DataVersionCache:
    """The data version per engine, reused for DATA_VERSION_TTL_S and until this process commits anything."""

    def __init__(self, clock=time.monotonic):
        self.clock = clock
        self._entries: dict[Engine, tuple[str, float, int]] = {}  # engine -> (version, read at, commits then)

    def version(self, db_session) -> str:
        """db_session: a Session or a Connection (db.read_connection(): no transaction round trips)."""
        engine = db_session.engine if isinstance(db_session, Connection) else db_session.get_bind()
        now, commits = self.clock(), _commits[0]
        entry = self._entries.get(engine)
        if entry is not None and entry[2] == commits and now - entry[1] < DATA_VERSION_TTL_S:
            return entry[0]
        # commits is taken before the read: a commit during it makes the entry stale at once.
        version = data_version(db_session)
        self._entries[engine] = (version, now, commits)
        return version


def _release() -> str:
    try:
        return metadata.version("geoservice")
    except metadata.PackageNotFoundError:  # pragma: no cover - running from a bare checkout
        return "0"


def max_age_for(path: str) -> int | None:
    """Seconds a shared cache may keep an answer for this path; None: not cached by us."""
    for prefix, max_age in PREFIXES.items():
        if path.startswith(prefix):
            return max_age
    return None


def etag_for(version: str, url: str, release: str) -> str:
    """The (strong) entity tag of the answer to url at this data version and release."""
    digest = hashlib.sha256(f"{release}|{version}|{url}".encode("utf-8")).hexdigest()[:32]
    return f'"{digest}"'


def _anonymous() -> bool:
    if request.headers.get("Authorization"):
        return False
    from flask import current_app

    if current_app.config.get("SESSION_COOKIE_NAME", "session") not in request.cookies:
        return True  # no session cookie, nobody logged in: and the session is not touched (no Vary: Cookie)
    from ..auth import current_user

    return current_user() is None


def init_app(app) -> None:
    release = _release()
    if not event.contains(Engine, "commit", _count_commit):
        event.listen(Engine, "commit", _count_commit)
    versions = app.extensions["geoservice.data_version_cache"] = DataVersionCache()

    @app.before_request
    def answer_not_modified():
        max_age = max_age_for(request.path)
        if max_age is None or request.method not in ("GET", "HEAD") or not _anonymous():
            return None
        # Who just wrote (the read-your-writes cookie) gets the version as it is now.
        version = (data_version(get_session()) if READ_YOUR_WRITES_COOKIE in request.cookies
                   else versions.version(read_connection(generic_plans=True)))
        g.data_version = version  # what the answer is made from, at the latest (tile_cache keys on it)
        etag = etag_for(version, request.full_path, release)
        g.cache_headers = {"ETag": etag, "Cache-Control": f"public, max-age={max_age}"}
        if request.if_none_match and request.if_none_match.contains_weak(etag.strip('"')):
            return Response(status=304)
        return None

    @app.after_request
    def cache_headers(response):
        headers = g.pop("cache_headers", None)
        if headers is None or response.status_code not in CACHED_STATUSES or session.modified:
            return response
        if "Cache-Control" in response.headers:  # a view that decided for itself (e.g. private, no-store)
            return response
        response.headers.update(headers)
        return response
