"""Rate limits per client: fixed-window counters in this process, or in Redis shared by every app server.

The in-process store counts per worker: with N gunicorn workers a client gets up to N times the limit.
With GEOSERVICE_REDIS_URL set the counters live in Redis (INCR the key, EXPIRE it on the first hit, TTL for
Retry-After, atomically in one script), so the limit holds across workers and machines. When Redis cannot be
reached a worker counts in its own memory meanwhile (logged once) rather than refusing or waving everyone through.
"""

from __future__ import annotations

import ipaddress
import logging
import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from flask import current_app, request

from ..errors import TooManyRequests

EXTENSION = "geoservice.ratelimiter"
REDIS_PREFIX = "geoservice:ratelimit:"
REDIS_TIMEOUT_S = 1.0  # a rate-limit check must not hold a request up when Redis is slow or gone
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Limit:
    """At most `limit` hits per `window_s` seconds for one client, counted under `name`."""

    name: str
    limit: int
    window_s: int


@dataclass(frozen=True)
class Decision:
    allowed: bool
    remaining: int
    retry_after: int  # seconds until the window ends (when not allowed: until a hit counts again)


LOGIN = Limit("inloggen", 10, 15 * 60)
SUBMIT = Limit("aanmelden", 5, 60 * 60)  # public submissions (form and API together) per client


class RateLimiter(Protocol):
    """Counts hits per key; one call counts one hit and says whether it is allowed."""

    def hit(self, key: str, limit: int, window_s: int) -> Decision: ...

    def reset(self, key: str | None = None) -> None: ...


class MemoryRateLimiter:
    """Fixed windows that start at a key's first hit; thread-safe; forgets expired windows as it goes."""

    def __init__(self, clock: Callable[[], float] = time.monotonic, max_keys: int = 100_000):
        self._clock = clock
        self._max_keys = max_keys
        self._windows: dict[str, tuple[float, int]] = {}  # key -> (window end, hits)
        self._lock = threading.Lock()

    def hit(self, key: str, limit: int, window_s: int) -> Decision:
        now = self._clock()
        with self._lock:
            end, hits = self._windows.get(key, (0.0, 0))
            if end <= now:
                if len(self._windows) >= self._max_keys:
                    self._forget_expired(now)
                end, hits = now + window_s, 0
            hits += 1
            self._windows[key] = (end, hits)
        retry_after = max(1, math.ceil(end - now))
        return Decision(allowed=hits <= limit, remaining=max(0, limit - hits), retry_after=retry_after)

    def reset(self, key: str | None = None) -> None:
        with self._lock:
            if key is None:
                self._windows.clear()
            else:
                self._windows.pop(key, None)

    def _forget_expired(self, now: float) -> None:
        for key in [k for k, (end, _) in self._windows.items() if end <= now]:
            del self._windows[key]
        if len(self._windows) >= self._max_keys:  # a flood of distinct keys: start afresh rather than grow
            self._windows.clear()


# One hit, atomically: count, start the window on the first hit (or when a key lost its expiry), say how long is left.
_HIT_SCRIPT = """
local hits = redis.call('INCR', KEYS[1])
local ttl = redis.call('TTL', KEYS[1])
if hits == 1 or ttl < 0 then
  redis.call('EXPIRE', KEYS[1], ARGV[1])
  ttl = tonumber(ARGV[1])
end
return {hits, ttl}
"""


class RedisRateLimiter:
    """Fixed windows in Redis, shared by every process that uses the same server and prefix."""

    def __init__(self, url: str, prefix: str = REDIS_PREFIX, client=None):
        if client is None:
            import redis

            client = redis.Redis.from_url(url, socket_timeout=REDIS_TIMEOUT_S,
                                          socket_connect_timeout=REDIS_TIMEOUT_S)
        self._redis = client
        self._prefix = prefix
        self._hit = client.register_script(_HIT_SCRIPT)
        self._fallback = MemoryRateLimiter()
        self._down = False

    def hit(self, key: str, limit: int, window_s: int) -> Decision:
        import redis

        try:
            hits, ttl = self._hit(keys=[self._prefix + key], args=[int(window_s)])
        except redis.RedisError as exc:
            if not self._down:
                self._down = True
                log.warning("Redis unavailable, rate limits count per process meanwhile: %s", exc)
            return self._fallback.hit(key, limit, window_s)
        if self._down:
            self._down = False
            log.warning("Redis answers again: rate limits are shared")
        hits = int(hits)
        return Decision(allowed=hits <= limit, remaining=max(0, limit - hits), retry_after=max(1, int(ttl)))

    def reset(self, key: str | None = None) -> None:
        self._fallback.reset(key)
        if key is not None:
            self._redis.delete(self._prefix + key)
            return
        batch = list(self._redis.scan_iter(match=self._prefix + "*", count=1000))
        for start in range(0, len(batch), 1000):
            self._redis.delete(*batch[start:start + 1000])


def client_address(remote_addr: str | None, forwarded_for: list[str], trusted_proxies: int) -> str:
    """The client's address: remote_addr, or with `trusted_proxies` proxies in front the address the
    outermost trusted proxy saw (counted from the right of X-Forwarded-For, which clients can prepend to)."""
    if trusted_proxies > 0:
        hops = [part.strip() for header in forwarded_for for part in header.split(",") if part.strip()]
        if len(hops) >= trusted_proxies:
            candidate = hops[-trusted_proxies]
            try:
                return str(ipaddress.ip_address(candidate))
            except ValueError:
                pass  # not an address: fall back to the peer rather than trust odd text
    return remote_addr or "unknown"


def current_client() -> str:
    settings = current_app.extensions["geoservice.settings"]
    return client_address(request.remote_addr, request.headers.getlist("X-Forwarded-For"),
                          settings.trusted_proxies)


def limiter() -> RateLimiter:
    return current_app.extensions[EXTENSION]


def enforce(limit: Limit, key: str | None = None) -> Decision:
    """Count one hit of the current client (or `key`) against `limit`; TooManyRequests when over it."""
    decision = limiter().hit(f"{limit.name}:{key or current_client()}", limit.limit, limit.window_s)
    if not decision.allowed:
        minutes = math.ceil(decision.retry_after / 60)
        raise TooManyRequests(
            f"Te veel pogingen. Probeer het over {minutes} {'minuut' if minutes == 1 else 'minuten'} opnieuw.",
            retry_after=decision.retry_after)
    return decision


def init_app(app, store: RateLimiter | None = None) -> None:
    """`store`, else Redis when the settings name GEOSERVICE_REDIS_URL, else counters in this process."""
    if store is None:
        redis_url = getattr(app.extensions.get("geoservice.settings"), "redis_url", None)
        store = RedisRateLimiter(redis_url) if redis_url else MemoryRateLimiter()
    app.extensions[EXTENSION] = store
