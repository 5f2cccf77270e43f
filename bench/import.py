#!/usr/bin/env python3
"""Bulk import speed: `geoservice import initiatives` on synthetic files, rows/s and the machine.

Usage: .venv/bin/python bench/import.py [--rows 100000] [--postcode-rows 10000] [--dry-run-rows 20000]
                                        [--profile FILE.prof]
Builds a scratch database (`geoservice_bench_import`: the shipped CBS map, no initiatives) and three CSV files
of synthetic initiatives (named "(synthetisch)"): points inside populated wijken, and PC4 postcodes only.
Runs, in order: the coordinates file (all new), the same file again (all unchanged), the postcode file
(offline PC4 geocoder), and a dry run of a new coordinates file.
Targets (issue 14): ≤ 15 s, ≤ 10 s, ≤ 5 s, ≤ 8 s.
"""

from __future__ import annotations

import argparse
import cProfile
import csv
import os
import random
import tempfile
import time
from pathlib import Path

from _common import DATA, ROOT, machine, scratch_databases
from sqlalchemy import text

from geoservice import db
from geoservice.cbs.loader import load_cbs, shipped_files
from geoservice.config import Settings
from geoservice.geocode import pc4_table
from geoservice.imports import initiatives as importer
from geoservice.imports.initiatives import import_initiatives
from geoservice.queries.initiatives_write import place_points
from geoservice.vocab import INITIATIVE_KINDS, THEMES

BENCH_DB = "geoservice_bench_import"
TARGETS_S = {"new": 15.0, "unchanged": 10.0, "postcode": 5.0, "dry_run": 8.0}
HEADER = ["id", "naam", "soort", "themas", "beschrijving", "website", "email", "telefoon", "adres", "postcode",
          "lat", "lon"]


def points_in_wijken(engine, n: int, seed: int) -> list[tuple[float, float]]:
    """n WGS84 points inside populated wijken of the active year, about in proportion to their inhabitants."""
    with engine.connect() as conn:
        conn.execute(text("SELECT setseed(:s)"), {"s": (seed % 1000) / 1000})
        rows = conn.execute(text("""
            WITH w AS (SELECT geom, aantal_inwoners::float8 / sum(aantal_inwoners) OVER () AS share
                       FROM wijk WHERE aantal_inwoners > 0 AND gemeentecode <> 'GM0998')
            SELECT ST_X(p), ST_Y(p) FROM (
                SELECT ST_Transform((ST_Dump(ST_GeneratePoints(geom, greatest(1, ceil(share * :n)::int)))).geom,
                                    4326) AS p FROM w) AS s
        """), {"n": n}).all()
    random.Random(seed).shuffle(rows)
    return [(round(lon, 6), round(lat, 6)) for lon, lat in rows[:n]]


def synthetic_row(i: int, rng: random.Random, prefix: str) -> dict:
    kind = rng.choice(list(INITIATIVE_KINDS))
    themes = ";".join(rng.sample(list(THEMES.values()), rng.randint(1, 3)))
    return {"id": f"{prefix}-{i}", "naam": f"Initiatief {prefix} {i} (synthetisch)", "soort": kind,
            "themas": themes, "beschrijving": f"Synthetische testrij {i} voor de importbenchmark.",
            "website": f"https://voorbeeld.example/{prefix}/{i}", "email": f"info{i}@voorbeeld.example",
            "telefoon": f"035 {rng.randint(100, 999)} {rng.randint(1000, 9999)}", "adres": "", "postcode": "",
            "lat": "", "lon": ""}


def write_rows(path: Path, rows: list[dict]) -> Path:
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, HEADER, delimiter=";")
        writer.writeheader()
        writer.writerows(rows)
    return path


def coordinates_file(engine, path: Path, n: int, seed: int, prefix: str) -> Path:
    rng = random.Random(seed)
    rows = []
    for i, (lon, lat) in enumerate(points_in_wijken(engine, n, seed)):
        row = synthetic_row(i, rng, prefix)
        row["lat"], row["lon"] = f"{lat:.6f}".replace(".", ",") if i % 2 else f"{lat:.6f}", f"{lon:.6f}"
        rows.append(row)
    return write_rows(path, rows)


def postcode_file(engine, path: Path, n: int, seed: int) -> Path:
    """Postcodes whose PC4 centroid lies in the CBS map (a few coastal ones do not), as 1234 AB."""
    table = pc4_table(Settings().postcode_file)
    with engine.connect() as conn:
        placed = place_points(conn, [(row.lon, row.lat, 4326) for row in table.values()])
    usable = [pc for pc, where in zip(table, placed) if where.in_netherlands]
    rng = random.Random(seed)
    rows = []
    for i in range(n):
        row = synthetic_row(i, rng, "PC")
        letters = rng.choice("ABCDEFGHJKLMNPRSTVWXZ") + rng.choice("ABCDEHJKLMNPRSTVWXZ")
        row["postcode"] = f"{rng.choice(usable)} {letters}"
        rows.append(row)
    return write_rows(path, rows)


PHASES = {"read_records": "read", "_validate": "validate", "_locate": "geocode", "place_points": "place+areas",
          "upsert_staged": "copy+upsert", "refresh_counts": "gap counts"}
_spent: dict[str, float] = {}


def _measure_phases() -> None:
    """Wrap the importer's steps to add up the wall time each takes (printed after every run)."""
    for name in PHASES:
        original = getattr(importer, name)

        def timed_step(*args, _original=original, _name=name, **kwargs):
            started = time.perf_counter()
            try:
                return _original(*args, **kwargs)
            finally:
                _spent[_name] = _spent.get(_name, 0.0) + time.perf_counter() - started

        setattr(importer, name, timed_step)


def timed(label: str, engine, path: Path, rows: int, settings: Settings, profile, **options) -> float:
    started, cpu = time.perf_counter(), time.process_time()
    if profile is not None:
        profile.enable()
    report = import_initiatives(engine, path, settings=settings, **options)
    if profile is not None:
        profile.disable()
    elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
    target = TARGETS_S[label]
    load = os.getloadavg()[0]
    print(f"{label:10s} {rows:>7,} rows  {elapsed:6.2f} s  {rows / elapsed:>8,.0f} rows/s  (this process's CPU "
          f"{cpu:5.2f} s; load {load:.1f})  target ≤ {target:.0f} s: {'ok' if elapsed <= target else 'MISSED'}  "
          f"| {report.summary_line()}")
    print("           " + ", ".join(f"{PHASES[name]} {_spent.get(name, 0.0):.2f} s" for name in PHASES))
    _spent.clear()
    assert not report.problems, report.lines()[:5]
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000, help="rows of the coordinates file")
    parser.add_argument("--postcode-rows", type=int, default=10_000, help="rows of the postcode-only file")
    parser.add_argument("--dry-run-rows", type=int, default=20_000, help="rows of the dry-run file")
    parser.add_argument("--profile", type=Path, help="write a cProfile of the imports to this file")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    _measure_phases()
    print(f"machine: {machine()}")
    print(f"load average before: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    server = scratch_databases()
    if server.exists(BENCH_DB):
        server.drop(BENCH_DB)
    url = server.create(BENCH_DB)
    try:
        db.upgrade(url)
        engine = db.make_engine(url)
        load_cbs(engine, shipped_files(DATA))
        settings = Settings(database_url=url, geocoder="offline", postcode_file=ROOT / "data/postcodes/pc4_nl.tsv")
        with tempfile.TemporaryDirectory() as folder:
            folder = Path(folder)
            made = time.perf_counter()
            coords = coordinates_file(engine, folder / "coordinates.csv", args.rows, args.seed, "C")
            postcodes = postcode_file(engine, folder / "postcodes.csv", args.postcode_rows, args.seed)
            dry = coordinates_file(engine, folder / "dry.csv", args.dry_run_rows, args.seed + 1, "D")
            print(f"files written in {time.perf_counter() - made:.1f} s "
                  f"({coords.stat().st_size / 2**20:.1f} MiB for {args.rows:,} rows)")
            profile = cProfile.Profile() if args.profile else None
            timed("new", engine, coords, args.rows, settings, profile, source="bench")
            timed("unchanged", engine, coords, args.rows, settings, profile, source="bench")
            timed("postcode", engine, postcodes, args.postcode_rows, settings, profile, source="bench-pc")
            timed("dry_run", engine, dry, args.dry_run_rows, settings, profile, source="bench-dry", dry_run=True)
            if profile is not None:
                profile.dump_stats(args.profile)
                print(f"profile: {args.profile}")
        engine.dispose()
    finally:
        server.drop(BENCH_DB)
    print(f"load average after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
