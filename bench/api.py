#!/usr/bin/env python3
"""Benchmark: `nearby` and bbox listing at 100,000 initiatives, in the service and through HTTP.

Usage: .venv/bin/python bench/api.py [--seconds 10] [--connections 16] [--workers N]
Uses the database from bench/generate.py (built first when missing). "In the service" times the
query functions on one connection; "HTTP" runs gunicorn on 127.0.0.1 and a bounded load generator
(threads with keep-alive connections) for a fixed time per scenario. Loopback only.
"""

from __future__ import annotations

import argparse
import time

from _common import (CITY_BOX, bbox_path, default_workers, machine, nearby_path, nearby_times, percentiles, run_load,
                     sample_points, scratch_databases, start_gunicorn, stop_gunicorn)
from generate import bench_database_url
from sqlalchemy import text
from sqlalchemy.orm import Session

from geoservice import db
from geoservice.params import BBox
from geoservice.queries import initiatives as q


def in_service(url: str, points) -> None:
    engine = db.make_engine(url)
    with Session(engine) as session:
        print(f"  in the service  nearby (2 km, 10 nearest):     {percentiles(nearby_times(session, points))}")
        times = []
        for lon, lat in points:
            box = BBox(lon - CITY_BOX[0] / 2, lat - CITY_BOX[1] / 2, lon + CITY_BOX[0] / 2, lat + CITY_BOX[1] / 2)
            t = time.perf_counter()
            q.list_initiatives(session, q.InitiativeFilter(bbox=box), limit=100, offset=0)
            times.append(time.perf_counter() - t)
        print(f"  in the service  bbox listing (city box, 100):  {percentiles(times)}")
    engine.dispose()


def load(port: int, paths: list[str], seconds: float, connections: int) -> None:
    samples, elapsed = run_load(port, [("", path) for path in paths], seconds, connections)
    errors = sum(sample.status != 200 for sample in samples)
    print(f"{len(samples) / elapsed:7.0f} req/s, {percentiles([s.seconds for s in samples])}, errors {errors}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--workers", type=int, default=default_workers())
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
        nearby_paths = [nearby_path(lon, lat) for lon, lat in points]
        bbox_paths = [bbox_path(lon, lat) for lon, lat in points]
        print(f"  HTTP ({args.workers} gunicorn workers, {args.connections} connections, {args.seconds:.0f} s each):")
        print("    nearby:       ", end="", flush=True)
        load(port, nearby_paths, args.seconds, args.connections)
        print("    bbox listing: ", end="", flush=True)
        load(port, bbox_paths, args.seconds, args.connections)
    finally:
        stop_gunicorn(proc)


if __name__ == "__main__":
    main()
