#!/usr/bin/env python3
"""Benchmark: the national wijk-level gap analysis in PostGIS versus the in-memory geopandas way.

Usage: .venv/bin/python bench/gaps.py [--repeat 3]
Uses the database from bench/generate.py (100,000 synthetic initiatives, 500 synthetic service
areas; built first when missing, migrated to the current schema). Both ways compute, for all 3,475
wijken, n_initiatives, n_nearby (walk_m = 1000), nearest_m, coverage, n_partners and status; the
script checks that they agree. PostGIS reads the figures it keeps on write (partner coverage in
gap_coverage, initiative counts in gap_counts), as the service answers; so the script also times what
keeping them costs (a full rebuild; the refresh after one service area changes, and after one
initiative moves) and the same analysis computed from scratch in one statement, which must give the
same rows. Both ratios are printed: as served, and from scratch.
On a machine shared with other work wall-clock times swing; when the database runs on this machine
the script also reports CPU seconds of both ways on one core each, which other load hardly changes.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
from _common import counts_refresh_after_one_move, machine, scratch_databases
from generate import bench_database_url
from sqlalchemy import text

from geoservice import db
from geoservice.analysis.gaps import GapParams, gap_units
from geoservice.partners.validation import AreaDefinition
from geoservice.queries import gaps as queries
from geoservice.queries.service_areas import build_service_area, stored_service_areas, update_service_area

WALK_M, MIN_INWONERS, FAR_M = 1000, 50, 50_000


def postgis(engine) -> tuple[float, pd.DataFrame]:
    started = time.perf_counter()
    with engine.connect() as conn:
        units = gap_units(conn, GapParams(level="wijk"))
    return time.perf_counter() - started, pd.DataFrame(units).set_index("code")


def server_cpu(conn):
    """A function giving the CPU seconds of this connection's server process; None unless it runs here."""
    pid = conn.execute(text("SELECT pg_backend_pid()")).scalar()
    proc = Path(f"/proc/{pid}")
    try:
        if proc.joinpath("comm").read_text().strip() != "postgres":
            return None
    except OSError:
        return None

    def seconds() -> float:
        fields = proc.joinpath("stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime + stime

    return seconds


def postgis_cpu(engine) -> float | None:
    """CPU seconds of the analysis from scratch on one core: the server process (no parallel workers) plus this one."""
    with engine.connect() as conn:
        cpu = server_cpu(conn)
        if cpu is None:
            return None
        conn.execute(text("SET LOCAL max_parallel_workers_per_gather = 0"))
        server, here = cpu(), time.process_time()
        queries.unit_rows(conn, queries.UnitQuery(jaar=queries.active_year(conn), level="wijk", walk_m=WALK_M))
        return cpu() - server + time.process_time() - here


def in_memory_run(engine) -> dict:
    """One run of the in-memory way: wall and CPU seconds of reading (both processes) and computing."""
    with engine.connect() as conn:
        cpu = server_cpu(conn) or (lambda: 0.0)
        started, server, here = time.perf_counter(), cpu(), time.process_time()
        frames = read_frames(conn)
        loaded, read_cpu = time.perf_counter(), cpu() - server + time.process_time() - here
    here = time.process_time()
    result = in_memory(*frames)
    return {"read": loaded - started, "compute": time.perf_counter() - loaded, "read_cpu": read_cpu,
            "compute_cpu": time.process_time() - here, "result": result}


def raw_rows(engine, stored: bool) -> tuple[float, list[dict]]:
    """The statement's rows with coverage and counts read from the tables kept on write, or computed now."""
    started = time.perf_counter()
    with engine.connect() as conn:
        jaar = queries.active_year(conn)
        rows = queries.unit_rows(conn, queries.UnitQuery(jaar=jaar, level="wijk", walk_m=WALK_M,
                                                         stored_coverage=stored, stored_counts=stored))
    return time.perf_counter() - started, rows


def refresh_times(engine) -> tuple[float, float, float, float]:
    """Seconds to rebuild the stored coverage and counts from scratch, and to refresh them after one
    service area changed and after one initiative moved 500 m."""
    with engine.begin() as conn:
        queries.mark_coverage_stale(conn)
        started = time.perf_counter()
        queries.refresh_coverage(conn)
        full = time.perf_counter() - started
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO gap_counts_stale (location, marked_xid) VALUES (NULL, txid_current())"))
        started = time.perf_counter()
        queries.refresh_counts(conn)
        full_counts = time.perf_counter() - started
    one_initiative = counts_refresh_after_one_move(engine)
    with engine.connect() as conn, conn.begin() as transaction:  # rolled back: the data stay as generated
        area_id, partner_id = conn.execute(text(
            "SELECT id, partner_id FROM service_area WHERE definition_type = 'radius' ORDER BY id LIMIT 1")).one()
        old = next(a for a in stored_service_areas(conn, [partner_id])[partner_id] if a.id == area_id)
        grown = AreaDefinition(old.name, "radius", {**old.definition, "radius_m": old.definition["radius_m"] * 1.1})
        update_service_area(conn, area_id, grown, build_service_area(conn, grown, queries.active_year(conn)))
        started = time.perf_counter()
        queries.refresh_coverage(conn)
        one = time.perf_counter() - started
        transaction.rollback()
    return full, one, full_counts, one_initiative


def read_frames(conn):
    units = gpd.read_postgis(text(
        "SELECT w.code, w.aantal_inwoners, w.geom FROM wijk w JOIN cbs_jaar y ON y.jaar = w.jaar AND y.is_active"),
        conn, geom_col="geom")
    # Points as coordinates: about twice as fast as read_postgis parsing 100,000 WKB points.
    # with the wijk each one is counted in: that of its CBS codes (queries.areas.assign_initiative_areas)
    xy = pd.read_sql(text("SELECT i.id, CASE WHEN i.areas_jaar = y.jaar THEN i.wijkcode END AS wijkcode, "
                          "ST_X(i.location) AS x, ST_Y(i.location) AS y FROM initiative AS i "
                          "JOIN cbs_jaar AS y ON y.is_active WHERE i.status = 'published'"), conn)
    points = gpd.GeoDataFrame(xy[["id", "wijkcode"]], geometry=gpd.points_from_xy(xy["x"], xy["y"]), crs=units.crs)
    points = points.rename_geometry("location")
    areas = gpd.read_postgis(text("SELECT partner_id, geom FROM service_area"), conn, geom_col="geom")
    return units, points, areas


def in_memory(units: gpd.GeoDataFrame, points: gpd.GeoDataFrame, areas: gpd.GeoDataFrame) -> pd.DataFrame:
    """The same definitions with geopandas/shapely, all in this process."""
    out = pd.DataFrame(index=units["code"])
    # each initiative counted once, in the wijk its CBS codes name; "inside" the outline decides nearest_m = 0
    out["n_initiatives"] = points.groupby("wijkcode").size().reindex(out.index, fill_value=0)
    inside = gpd.sjoin(points, units[["code", "geom"]], predicate="intersects")
    touching = inside.groupby("code").size().reindex(out.index, fill_value=0)
    near = gpd.sjoin(points, units[["code", "geom"]], predicate="dwithin", distance=WALK_M)
    out["n_nearby"] = near.groupby("code").size().reindex(out.index, fill_value=0)
    # The nearest initiative is 0 m away where one is inside; only the other units need a search.
    empty = units[units["code"].map(touching).eq(0).to_numpy()]
    nearest = gpd.sjoin_nearest(empty[["code", "geom"]], points[["location"]], max_distance=FAR_M,
                                distance_col="d").groupby("code")["d"].min()
    out["nearest_m"] = nearest.reindex(out.index).where(touching == 0, 0.0)
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
    print(f"load average at the start: {' '.join(f'{x:.1f}' for x in os.getloadavg())}")
    url = bench_database_url(scratch_databases())
    engine = db.make_engine(url)
    with engine.connect() as conn:
        counts = conn.execute(text("SELECT (SELECT count(*) FROM initiative), (SELECT count(*) FROM service_area), "
                                   "(SELECT count(*) FROM wijk)")).one()
    print(f"data: {counts[0]} initiatives, {counts[1]} service areas (synthetic), {counts[2]} wijken")
    refresh_runs = [refresh_times(engine) for _ in range(args.repeat)]
    postgis(engine)  # warm-up: caches and plans
    pg_runs = [postgis(engine) for _ in range(args.repeat)]
    pg_time = statistics.median(t for t, _ in pg_runs)
    result = pg_runs[0][1]
    fly_runs = [raw_rows(engine, stored=False) for _ in range(args.repeat)]
    fly_time = statistics.median(t for t, _ in fly_runs)
    same_rows = raw_rows(engine, stored=True)[1] == fly_runs[0][1]
    pg_cpu = [postgis_cpu(engine) for _ in range(args.repeat)]
    mem_runs = [in_memory_run(engine) for _ in range(args.repeat)]
    memory = mem_runs[0]["result"]
    engine.dispose()

    def median(key: str) -> float:
        return statistics.median(run[key] for run in mem_runs)

    read_s, compute_s = median("read"), median("compute")
    agree = {
        column: float((result[column].reindex(memory.index) == memory[column]).mean())
        for column in ("n_initiatives", "n_nearby", "n_partners", "status")
    }
    coverage_diff = float(np.nanmax(np.abs(result["coverage"].reindex(memory.index).astype(float)
                                           - memory["coverage"].astype(float))))
    nearest_diff = float(np.nanmax(np.abs(result["nearest_m"].reindex(memory.index).astype(float)
                                          - memory["nearest_m"].astype(float))))
    nearest_missing = int((result["nearest_m"].reindex(memory.index).isna() != memory["nearest_m"].isna()).sum())
    print(f"keeping figures on write: coverage (gap_overlap, gap_coverage) full rebuild median "
          f"{statistics.median(r[0] for r in refresh_runs):.2f} s, after one service area changed "
          f"{statistics.median(r[1] for r in refresh_runs):.3f} s; initiative counts (gap_counts) full rebuild "
          f"{statistics.median(r[2] for r in refresh_runs):.2f} s (both levels), after one initiative moved "
          f"{statistics.median(r[3] for r in refresh_runs):.3f} s")
    print(f"PostGIS as served (gap_units, national wijken, figures kept on write): median {pg_time:.2f} s "
          f"(min {min(t for t, _ in pg_runs):.2f})")
    print(f"PostGIS from scratch (the same statement computing counts and coverage): median {fly_time:.2f} s; "
          f"rows identical to the served way: {'yes' if same_rows else 'NO'}")
    print(f"in memory (geopandas):                 median {read_s + compute_s:.2f} s "
          f"({read_s:.2f} s reading from PostGIS + {compute_s:.2f} s computing)")
    print(f"ratio as served: PostGIS is {(read_s + compute_s) / pg_time:.1f}x faster "
          f"({compute_s / pg_time:.1f}x counting the in-memory computation alone)")
    print(f"ratio from scratch: PostGIS is {(read_s + compute_s) / fly_time:.1f}x faster "
          f"({compute_s / fly_time:.1f}x counting the in-memory computation alone)")
    if None not in pg_cpu:
        cpu_pg, cpu_read, cpu_compute = statistics.median(pg_cpu), median("read_cpu"), median("compute_cpu")
        print(f"CPU seconds on one core each, from scratch: PostGIS {cpu_pg:.2f} s; in memory {cpu_read + cpu_compute:.2f} s "
              f"({cpu_read:.2f} s reading, both processes, + {cpu_compute:.2f} s computing); "
              f"ratio {(cpu_read + cpu_compute) / cpu_pg:.1f}x ({cpu_compute / cpu_pg:.1f}x computation alone)")
    print("agreement per unit: " + ", ".join(f"{k} {v:.1%}" for k, v in agree.items())
          + f"; max coverage difference {coverage_diff:.2e}; max nearest_m difference {nearest_diff:.2f} m "
          f"(shown to 0.1 m), {nearest_missing} units with a nearest initiative in one way only")


if __name__ == "__main__":
    main()
