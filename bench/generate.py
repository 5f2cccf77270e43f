#!/usr/bin/env python3
"""Build the benchmark database: shipped CBS map + synthetic initiatives and partners (source=bench).

Usage: .venv/bin/python bench/generate.py [--initiatives 100000] [--partners 100] [--areas-per-partner 5] [--seed 1]
The initiatives are spread over all populated wijken in proportion to their inhabitants
(Baarn at buurt level). They are synthetic: never load them into a real deployment.
Prints the database URL the other benchmarks use (database `geoservice_bench`).
"""

from __future__ import annotations

import argparse
import time

from _common import DATA, ScratchDatabases, machine, scratch_databases

from geoservice import db
from geoservice.cbs.loader import load_cbs, shipped_files
from geoservice.demo import SpreadPlan, generate_initiatives, generate_partners
from geoservice.analysis.kept import refresh_all

BENCH_DB = "geoservice_bench"


def build(server: ScratchDatabases, initiatives: int, seed: int, partners: int = 100, areas_per_partner: int = 5) -> str:
    url = server.create(BENCH_DB)
    db.upgrade(url)
    engine = db.make_engine(url)
    try:
        load_cbs(engine, shipped_files(DATA))
        started = time.perf_counter()
        with engine.begin() as conn:
            baarn = max(1, initiatives * 25065 // 17942715)
            plans = [SpreadPlan("buurt", baarn, gemeenten=["GM0308"]),
                     SpreadPlan("wijk", initiatives - baarn, exclude_gemeenten=["GM0308"])]
            count = generate_initiatives(conn, plans, source="bench", seed=seed, status_mix=False)
            areas = generate_partners(conn, partners, areas_per_partner, source="bench", seed=seed)
            generated = time.perf_counter()
            refresh_all(conn)  # the gap analysis' coverage, counts and need per unit, as every writer keeps them
            refreshed = time.perf_counter()
        # Fresh statistics, or the planner misjudges the new rows (ANALYZE in a committed transaction).
        with engine.begin() as conn:
            conn.exec_driver_sql("ANALYZE")
        print(f"{count} synthetic initiatives, {partners} partners with {areas} service areas "
              f"generated in {generated - started:.1f} s; their coverage and counts per unit stored in "
              f"{refreshed - generated:.1f} s")
    finally:
        engine.dispose()
    return url


def bench_database_url(server: ScratchDatabases) -> str:
    """The benchmark database, built with the defaults when it does not exist yet, else migrated to head."""
    if not server.exists(BENCH_DB):
        return build(server, 100_000, 1)
    url = server.url(BENCH_DB)
    db.upgrade(url)
    engine = db.make_engine(url)
    try:
        with engine.begin() as conn:
            refresh_all(conn)  # a no-op unless a migration or another writer left it stale
    finally:
        engine.dispose()
    return url


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--initiatives", type=int, default=100_000)
    parser.add_argument("--partners", type=int, default=100)
    parser.add_argument("--areas-per-partner", type=int, default=5)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    print(f"machine: {machine()}")
    url = build(scratch_databases(), args.initiatives, args.seed, args.partners, args.areas_per_partner)
    print(f"database: {url}")


if __name__ == "__main__":
    main()
