#!/usr/bin/env python3
"""Benchmark: how long loading the shipped CBS files takes (national wijken, and all of them).

Usage: .venv/bin/python bench/load_cbs.py [--repeat N]
Loads into a scratch database on the embedded cluster (or GEOSERVICE_BENCH_DATABASE_URL's server),
prints seconds per run and the machine, and drops the scratch database again.
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

from _common import DATA, ScratchDatabases, machine, scratch_databases

from geoservice import db
from geoservice.cbs.loader import load_cbs, shipped_files


def timed_load(server: ScratchDatabases, files: list[Path]) -> tuple[float, float]:
    """Seconds for a first load into an empty database, and for an unchanged reload."""
    url = server.create("geoservice_bench_load")
    try:
        db.upgrade(url)
        engine = db.make_engine(url)
        start = time.perf_counter()
        load_cbs(engine, files)
        first = time.perf_counter() - start
        start = time.perf_counter()
        load_cbs(engine, files)
        reload = time.perf_counter() - start
        engine.dispose()
        return first, reload
    finally:
        server.drop("geoservice_bench_load")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    server = scratch_databases()
    print(f"machine: {machine()}")
    for label, files in (("national wijken (3,475)", [DATA / "wijken_2024.gpkg"]),
                         ("all shipped files (4,357 areas)", shipped_files(DATA))):
        runs = [timed_load(server, files) for _ in range(args.repeat)]
        first = [r[0] for r in runs]
        again = [r[1] for r in runs]
        print(f"{label}: first load median {statistics.median(first):.2f} s "
              f"(min {min(first):.2f}), unchanged reload median {statistics.median(again):.2f} s")


if __name__ == "__main__":
    main()
