#!/usr/bin/env python3
"""Benchmark: the national wijk-level gap analysis in PostGIS versus the in-memory geopandas way.

Usage: .venv/bin/python bench/gaps.py [--repeat 3]
Uses the database from bench/generate.py (100,000 synthetic initiatives, 500 synthetic service
areas; built first when missing). Both ways compute, for all 3,475 wijken, n_initiatives, n_nearby
(walk_m = 1000), nearest_m, coverage, n_partners and status; the script checks that they agree.
"""

from __future__ import annotations

import argparse
import statistics
import time

import geopandas as gpd
import numpy as np
import pandas as pd
from _common import machine, scratch_databases
from generate import bench_database_url
from sqlalchemy import text

from geoservice import db
from geoservice.analysis.gaps import GapParams, gap_units

WALK_M, MIN_INWONERS, FAR_M = 1000, 50, 50_000


def postgis(engine) -> tuple[float, pd.DataFrame]:
    started = time.perf_counter()
    with engine.connect() as conn:
        units = gap_units(conn, GapParams(level="wijk"))
    return time.perf_counter() - started, pd.DataFrame(units).set_index("code")


def read_frames(engine):
    with engine.connect() as conn:
        units = gpd.read_postgis(text(
            "SELECT w.code, w.aantal_inwoners, w.geom FROM wijk w JOIN cbs_jaar y ON y.jaar = w.jaar AND y.is_active"),
            conn, geom_col="geom")
        points = gpd.read_postgis(text("SELECT id, location FROM initiative WHERE status = 'published'"),
                                  conn, geom_col="location")
        areas = gpd.read_postgis(text("SELECT partner_id, geom FROM service_area"), conn, geom_col="geom")
    return units, points, areas


def in_memory(units: gpd.GeoDataFrame, points: gpd.GeoDataFrame, areas: gpd.GeoDataFrame) -> pd.DataFrame:
    """The same definitions with geopandas/shapely, all in this process."""
    out = pd.DataFrame(index=units["code"])
    inside = gpd.sjoin(points, units[["code", "geom"]], predicate="within")
    out["n_initiatives"] = inside.groupby("code").size().reindex(out.index, fill_value=0)
    near = gpd.sjoin(points, units[["code", "geom"]], predicate="dwithin", distance=WALK_M)
    out["n_nearby"] = near.groupby("code").size().reindex(out.index, fill_value=0)
    nearest = gpd.sjoin_nearest(units[["code", "geom"]], points[["location"]], max_distance=FAR_M,
                                distance_col="d").groupby("code")["d"].min()
    out["nearest_m"] = nearest.reindex(out.index)
    unit_area = units.set_index("code").area
    union = areas.union_all()
    covered = units.set_index("code").intersection(union).area
    out["coverage"] = (covered / unit_area).clip(upper=1.0)
    per_partner = areas.dissolve(by="partner_id").reset_index()
    pieces = gpd.overlay(units[["code", "geom"]], per_partner[["partner_id", "geom"]], how="intersection",
                         keep_geom_type=True)
    shares = pieces.assign(a=pieces.area).groupby(["code", "partner_id"])["a"].sum()
    shares = shares / unit_area.reindex(shares.index.get_level_values(0)).to_numpy()
    out["n_partners"] = (shares >= 0.5).groupby(level=0).sum().reindex(out.index, fill_value=0)
    pop = units.set_index("code")["aantal_inwoners"]
    status = np.select(
        [pop.isna(), pop < MIN_INWONERS,
         (out["n_nearby"] == 0) & (out["coverage"] < 0.5), (out["n_nearby"] == 0),
         out["coverage"] < 0.5],
        ["unknown", "low_population", "white_spot", "no_initiative", "no_support"], default="ok")
    out["status"] = status
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    print(f"machine: {machine()}")
    url = bench_database_url(scratch_databases())
    engine = db.make_engine(url)
    with engine.connect() as conn:
        counts = conn.execute(text("SELECT (SELECT count(*) FROM initiative), (SELECT count(*) FROM service_area), "
                                   "(SELECT count(*) FROM wijk)")).one()
    print(f"data: {counts[0]} initiatives, {counts[1]} service areas (synthetic), {counts[2]} wijken")
    postgis(engine)  # warm-up: caches and plans
    pg_runs = [postgis(engine) for _ in range(args.repeat)]
    pg_time = statistics.median(t for t, _ in pg_runs)
    result = pg_runs[0][1]
    mem_runs = []
    for _ in range(args.repeat):
        started = time.perf_counter()
        frames = read_frames(engine)
        loaded = time.perf_counter()
        memory = in_memory(*frames)
        mem_runs.append((loaded - started, time.perf_counter() - loaded))
    read_s = statistics.median(r for r, _ in mem_runs)
    compute_s = statistics.median(c for _, c in mem_runs)
    engine.dispose()

    agree = {
        column: float((result[column].reindex(memory.index) == memory[column]).mean())
        for column in ("n_initiatives", "n_nearby", "n_partners", "status")
    }
    coverage_diff = float(np.nanmax(np.abs(result["coverage"].reindex(memory.index).astype(float)
                                           - memory["coverage"].astype(float))))
    print(f"PostGIS (gap_units, national wijken):  median {pg_time:.2f} s")
    print(f"in memory (geopandas):                 median {read_s + compute_s:.2f} s "
          f"({read_s:.2f} s reading from PostGIS + {compute_s:.2f} s computing)")
    print(f"ratio: PostGIS is {(read_s + compute_s) / pg_time:.1f}x faster "
          f"({compute_s / pg_time:.1f}x counting the in-memory computation alone)")
    print("agreement per unit: " + ", ".join(f"{k} {v:.1%}" for k, v in agree.items())
          + f"; max coverage difference {coverage_diff:.2e}")


if __name__ == "__main__":
    main()
