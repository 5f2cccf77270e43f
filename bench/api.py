#!/usr/bin/env python3
"""Benchmark: `nearby` and bbox listing at 100,000 initiatives, in the service and through HTTP.

Usage: .venv/bin/python bench/api.py [--seconds 10] [--connections 16] [--workers N]
Uses the database from bench/generate.py (built first when missing). "In the service" times the
query functions on one connection; "HTTP" runs gunicorn on 127.0.0.1 and a bounded load generator
(threads with keep-alive connections) for a fixed time per scenario. Loopback only.
"""

from __future__ import annotations

import argparse
import http.client
import os
import random
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

from _common import machine, scratch_databases
from generate import bench_database_url
from sqlalchemy import text
from sqlalchemy.orm import Session

from geoservice import db
from geoservice.params import BBox, LonLat
from geoservice.queries import initiatives as q

CITY_BOX = (0.07, 0.045)  # degrees lon/lat: about 4.8 × 5 km, a city district to a small city


def percentiles(samples: list[float]) -> str:
    ordered = sorted(samples)
    pick = lambda p: ordered[min(len(ordered) - 1, int(p * len(ordered)))] * 1000  # noqa: E731
    return f"p50 {pick(0.50):.1f} ms, p95 {pick(0.95):.1f} ms, p99 {pick(0.99):.1f} ms"


def sample_points(url: str, n: int, seed: int) -> list[tuple[float, float]]:
    """Points near real (synthetic) initiatives, so searches land where people live."""
    engine = db.make_engine(url)
    with engine.connect() as conn:
        conn.execute(text("SELECT setseed(:s)"), {"s": seed / 1000})
        rows = conn.execute(text(
            "SELECT ST_X(p), ST_Y(p) FROM (SELECT ST_Transform(location, 4326) AS p FROM initiative "
            "ORDER BY random() LIMIT :n) s"), {"n": n}).all()
    engine.dispose()
    rng = random.Random(seed)
    return [(lon + rng.uniform(-0.005, 0.005), lat + rng.uniform(-0.003, 0.003)) for lon, lat in rows]


def in_service(url: str, points) -> None:
    engine = db.make_engine(url)
    with Session(engine) as session:
        for p in points[:20]:  # warm caches
            q.nearby(session, LonLat(*p), radius_m=2000, limit=10)
        times = []
        for lon, lat in points:
            t = time.perf_counter()
            q.nearby(session, LonLat(lon, lat), radius_m=2000, limit=10)
            times.append(time.perf_counter() - t)
        print(f"  in the service  nearby (2 km, 10 nearest):     {percentiles(times)}")
        times = []
        for lon, lat in points:
            box = BBox(lon - CITY_BOX[0] / 2, lat - CITY_BOX[1] / 2, lon + CITY_BOX[0] / 2, lat + CITY_BOX[1] / 2)
            t = time.perf_counter()
            q.list_initiatives(session, q.InitiativeFilter(bbox=box), limit=100, offset=0)
            times.append(time.perf_counter() - t)
        print(f"  in the service  bbox listing (city box, 100):  {percentiles(times)}")
    engine.dispose()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_gunicorn(url: str, workers: int) -> tuple[subprocess.Popen, int]:
    port = free_port()
    gunicorn = Path(sys.executable).with_name("gunicorn")
    proc = subprocess.Popen(
        [str(gunicorn), "-w", str(workers), "-b", f"127.0.0.1:{port}", "--log-level", "warning",
         "geoservice:create_app()"],
        env={**os.environ, "DATABASE_URL": url}, start_new_session=True)
    deadline = time.time() + 30
    while time.time() < deadline:
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            conn.request("GET", "/healthz")
            if conn.getresponse().status == 200:
                return proc, port
        except OSError:
            time.sleep(0.2)
    proc.kill()
    raise SystemExit("gunicorn did not start")


def load(port: int, paths: list[str], seconds: float, connections: int) -> None:
    latencies: list[float] = []
    errors = [0]
    lock = threading.Lock()
    stop_at = time.perf_counter() + seconds

    def worker(offset: int) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        mine, i = [], offset
        while time.perf_counter() < stop_at:
            path = paths[i % len(paths)]
            i += connections
            t = time.perf_counter()
            try:
                conn.request("GET", path)
                response = conn.getresponse()
                response.read()
                ok = response.status == 200
            except OSError:
                ok = False
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
            mine.append(time.perf_counter() - t)
            if not ok:
                with lock:
                    errors[0] += 1
        with lock:
            latencies.extend(mine)

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(connections)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - started
    print(f"{len(latencies) / elapsed:7.0f} req/s, {percentiles(latencies)}, errors {errors[0]}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--workers", type=int, default=2 * (os.cpu_count() or 1) + 1)
    args = parser.parse_args()
    print(f"machine: {machine()}")
    url = bench_database_url(scratch_databases())
    engine = db.make_engine(url)
    with engine.connect() as conn:
        count = conn.execute(text("SELECT count(*) FROM initiative")).scalar()
    engine.dispose()
    print(f"initiatives: {count} (synthetic, source=bench)")
    points = sample_points(url, 1000, seed=7)
    in_service(url, points)
    proc, port = start_gunicorn(url, args.workers)
    try:
        nearby_paths = [f"/api/v1/initiatives/nearby?lat={lat:.5f}&lon={lon:.5f}&radius_m=2000" for lon, lat in points]
        bbox_paths = [f"/api/v1/initiatives?bbox={lon - 0.035:.5f},{lat - 0.0225:.5f},{lon + 0.035:.5f},"
                      f"{lat + 0.0225:.5f}&limit=100" for lon, lat in points]
        print(f"  HTTP ({args.workers} gunicorn workers, {args.connections} connections, {args.seconds:.0f} s each):")
        print("    nearby:       ", end="", flush=True)
        load(port, nearby_paths, args.seconds, args.connections)
        print("    bbox listing: ", end="", flush=True)
        load(port, bbox_paths, args.seconds, args.connections)
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=10)


if __name__ == "__main__":
    main()
