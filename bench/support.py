#!/usr/bin/env python3
"""Benchmark: GET /api/v1/support's work (geoservice.partners.support.find_support) at points where people live.

Usage: .venv/bin/python bench/support.py [--points 300]
Uses the database from bench/generate.py (100,000 synthetic initiatives, 100 synthetic partners with 5
circular service areas each; built first when missing, migrated to the current schema). Times, per point,
the whole answer in the service (buurt lookup, partners by service, theme and service area, nearby
initiatives) for three questions: any service, financiering within 10 km, and advies for energie_klimaat
within the maximum 50 km.
"""

from __future__ import annotations

import argparse
import time

from _common import machine, percentiles, sample_points, scratch_databases
from generate import bench_database_url
from sqlalchemy import text
from sqlalchemy.orm import Session

from geoservice import db
from geoservice.partners import support
from geoservice.params import LonLat

QUESTIONS = {
    "any service, 10 km": support.Question(),
    "financiering, 10 km": support.Question(services=("financiering",)),
    "advies + energie_klimaat, 50 km": support.Question(services=("advies",), theme="energie_klimaat",
                                                        reach_m=50_000),
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--points", type=int, default=300, help="search points (near synthetic initiatives)")
    parser.add_argument("--seed", type=int, default=7, help="seed of the sampled points")
    args = parser.parse_args()
    print(f"machine: {machine()}")
    url = bench_database_url(scratch_databases())
    points = sample_points(url, args.points, args.seed)
    engine = db.make_engine(url)
    try:
        with Session(engine) as session:
            partners, areas = session.execute(text(
                "SELECT (SELECT count(*) FROM partner), (SELECT count(*) FROM service_area)")).one()
            print(f"data: {partners} partners, {areas} service areas; {len(points)} points")
            for label, question in QUESTIONS.items():
                for lon, lat in points[:20]:  # warm caches and plans
                    support.find_support(session, LonLat(lon, lat), question)
                times, listed = [], 0
                for lon, lat in points:
                    started = time.perf_counter()
                    found = support.find_support(session, LonLat(lon, lat), question)
                    times.append(time.perf_counter() - started)
                    listed += len(found["partners"])
                print(f"{label}: {percentiles(times)}; {listed / len(points):.1f} partners per answer")
    finally:
        engine.dispose()


if __name__ == "__main__":
    main()
