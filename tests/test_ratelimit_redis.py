"""GEOSERVICE_REDIS_URL: rate-limit counters shared by several app servers, on a real redis-server."""

from __future__ import annotations

import logging
import os
import shutil
import socket
import subprocess
import time

import pytest

from geoservice.config import Settings
from geoservice.serving import ratelimit

REDIS_SERVER = shutil.which("redis-server") or ("/usr/bin/redis-server" if os.path.exists("/usr/bin/redis-server")
                                                 else None)
if REDIS_SERVER is None and os.environ.get("CI") != "true":
    pytest.skip("redis-server ontbreekt (apt-get install redis-server, of scripts/install-system-deps)",
                allow_module_level=True)

BAARN = {"lat": 52.2165, "lon": 5.2878}
CONTACT = {"name": "Aanmelder", "email": "aanmelder@example.nl", "phone": "0612345678"}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def redis_url(tmp_path_factory):
    """A private redis-server on a free loopback port, without persistence, stopped after the module."""
    assert REDIS_SERVER, "redis-server ontbreekt: scripts/install-system-deps installeert het"
    import redis

    folder = tmp_path_factory.mktemp("redis")
    port = free_port()
    proc = subprocess.Popen([REDIS_SERVER, "--port", str(port), "--bind", "127.0.0.1", "--dir", str(folder),
                             "--save", "", "--appendonly", "no", "--daemonize", "no"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"redis://127.0.0.1:{port}/0"
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                redis.Redis.from_url(url).ping()
                break
            except redis.ConnectionError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise AssertionError("redis-server did not start") from None
                time.sleep(0.05)
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=10)


@pytest.fixture
def store(redis_url):
    limiter = ratelimit.RedisRateLimiter(redis_url)
    limiter.reset()
    return limiter


def submit(client, n: int):
    return client.post("/api/v1/submissions", json={
        "name": f"Buurttafel {n}", "kind": "bewonersinitiatief", **BAARN, "contact": CONTACT})


def test_settings_read_the_redis_url():
    assert Settings.from_env({"GEOSERVICE_REDIS_URL": "redis://cache:6379/2"}).redis_url == "redis://cache:6379/2"
    assert Settings.from_env({}).redis_url is None
    with pytest.raises(ValueError, match="GEOSERVICE_REDIS_URL"):
        Settings(redis_url="http://cache:6379")


def test_two_app_servers_share_one_limit(redis_url, store, empty_db_url, app_for):
    first = app_for(empty_db_url, redis_url=redis_url, geocoder="offline")
    second = app_for(empty_db_url, redis_url=redis_url, geocoder="offline")
    assert isinstance(first.extensions[ratelimit.EXTENSION], ratelimit.RedisRateLimiter)
    clients = [first.test_client(), second.test_client()]
    limit = ratelimit.SUBMIT.limit
    statuses = [submit(clients[n % 2], n).status_code for n in range(limit)]
    assert statuses == [201] * limit  # spread over both servers
    for client in clients:  # the limit is reached on both, though neither counted `limit` itself
        refused = submit(client, limit)
        assert refused.status_code == 429
        assert refused.get_json()["code"] == "TooManyRequests"
        assert 0 < int(refused.headers["Retry-After"]) <= ratelimit.SUBMIT.window_s


def test_without_redis_each_server_counts_for_itself(empty_db_url, app_for):
    first, second = (app_for(empty_db_url, geocoder="offline").test_client() for _ in range(2))
    limit = ratelimit.SUBMIT.limit
    assert [submit(first, n).status_code for n in range(limit + 1)] == [201] * limit + [429]
    assert submit(second, 0).status_code == 201


def test_a_window_ends_and_counts_again(store):
    decisions = [store.hit("proef:127.0.0.1", 2, 1) for _ in range(3)]
    assert [d.allowed for d in decisions] == [True, True, False]
    assert [d.remaining for d in decisions] == [1, 0, 0]
    assert decisions[-1].retry_after == 1
    time.sleep(1.2)
    assert store.hit("proef:127.0.0.1", 2, 1).allowed
    store.reset("proef:127.0.0.1")
    assert store.hit("proef:127.0.0.1", 2, 1).remaining == 1


def test_redis_gone_counts_in_the_process_meanwhile(caplog):
    gone = ratelimit.RedisRateLimiter(f"redis://127.0.0.1:{free_port()}/0")
    caplog.set_level(logging.WARNING, logger="geoservice.serving.ratelimit")
    decisions = [gone.hit("proef:10.0.0.1", 2, 60) for _ in range(3)]
    assert [d.allowed for d in decisions] == [True, True, False]  # still limited, not open, not an error
    assert len([r for r in caplog.records if "Redis unavailable" in r.getMessage()]) == 1
