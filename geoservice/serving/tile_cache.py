"""Made tiles kept by layer, tile and data version: a tile can only change when the data version does.

Each worker process keeps the most recently used tiles up to GEOSERVICE_TILE_CACHE_MB (0: off). With
GEOSERVICE_REDIS_URL set they are also shared through Redis (kept TILE_TTL_S), so a tile made by one worker
or server is there for all; when Redis does not answer, each worker goes on with its own. The key holds the
data version the request's ETag is made from (caching.DataVersionCache): that version was read before the
tile's query ran, so a kept tile is never older than its key says; a write makes a new version, and the
old tiles are simply no longer asked for (they age out of the LRU and expire in Redis).
"""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict

log = logging.getLogger(__name__)
EXTENSION = "geoservice.tile_cache"
REDIS_PREFIX = "geoservice:tile:"
TILE_TTL_S = 3600
REDIS_TIMEOUT_S = 0.2  # a tile is made in tens of milliseconds: never wait longer than that for Redis


class TileCache:
    """An LRU of tile bytes bounded by their total size, optionally backed by Redis."""

    def __init__(self, max_bytes: int, redis_client=None):
        self.max_bytes = max_bytes
        self._tiles: OrderedDict[tuple, bytes] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()  # gthread workers share one cache
        self._redis = redis_client
        self._redis_down = False
        self.hits = self.misses = 0

    @staticmethod
    def _redis_key(key: tuple) -> str:
        return REDIS_PREFIX + "/".join(map(str, key))

    def get(self, key: tuple) -> bytes | None:
        with self._lock:
            data = self._tiles.get(key)
            if data is not None:
                self._tiles.move_to_end(key)
                self.hits += 1
                return data
        if self._redis is not None:
            data = self._redis_call(lambda r: r.get(self._redis_key(key)))
            if data is not None:
                self._keep(key, data)
                self.hits += 1
                return data
        self.misses += 1
        return None

    def put(self, key: tuple, data: bytes) -> None:
        self._keep(key, data)
        if self._redis is not None:
            self._redis_call(lambda r: r.set(self._redis_key(key), data, ex=TILE_TTL_S))

    def _keep(self, key: tuple, data: bytes) -> None:
        if len(data) > self.max_bytes // 8:  # one huge tile must not empty the cache
            return
        with self._lock:
            old = self._tiles.pop(key, None)
            self._bytes += len(data) - (len(old) if old is not None else 0)
            self._tiles[key] = data
            while self._bytes > self.max_bytes:
                _, dropped = self._tiles.popitem(last=False)
                self._bytes -= len(dropped)

    def _redis_call(self, call):
        import redis

        try:
            result = call(self._redis)
        except redis.RedisError as exc:
            if not self._redis_down:
                self._redis_down = True
                log.warning("Redis unavailable, tiles are kept per process meanwhile: %s", exc)
            return None
        if self._redis_down:
            self._redis_down = False
            log.warning("Redis answers again: tiles are shared")
        return result


def init_app(app, settings) -> None:
    """A TileCache for the app when GEOSERVICE_TILE_CACHE_MB > 0 (Redis too with GEOSERVICE_REDIS_URL)."""
    max_bytes = int(settings.tile_cache_mb * 2**20)
    if max_bytes <= 0:
        return
    client = None
    if settings.redis_url:
        import redis

        client = redis.Redis.from_url(settings.redis_url, socket_timeout=REDIS_TIMEOUT_S,
                                      socket_connect_timeout=REDIS_TIMEOUT_S)
    app.extensions[EXTENSION] = TileCache(max_bytes, client)


def for_app(app) -> TileCache | None:
    return app.extensions.get(EXTENSION)
