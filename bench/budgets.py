#!/usr/bin/env python3
"""Benchmark: the scale budgets of issue #7, each with PASS/FAIL, on the national buurt-level scale data.

Usage: .venv/bin/python bench/budgets.py [--cbs-file PATH] [--workers N] [--warmup-seconds 20] [--skip-load]
Runs on the database `geoservice_scale` (bench/scale_data.py: synthetic national buurten, 100,000
synthetic initiatives, 1,000 synthetic service areas; built first when missing). With --cbs-file, the
same budgets run a second time on `geoservice_scale_real`, built from that real national CBS GeoPackage
(e.g. wijkenbuurten_2024_v1.gpkg) with the same synthetic initiatives and partners.

Budgets: national buurt-level gap analysis <= 3 s (analysis.gaps.gap_units, median of 3 after one warm
run); `nearby` p50 <= 5 ms (in the service, as bench/api.py); `geoservice load-cbs` of the national file
into a fresh, migrated scratch database <= 60 s; resident set size (VmRSS) per gunicorn worker <= 250 MB
after a warm-up of mixed requests; a buurt vector tile at zoom 12 <= 50 ms p50 (only once
geoservice/tiles.py exists). HTTP traffic goes to 127.0.0.1 only and is bounded in time.
"""

from __future__ import annotations

import argparse
import http.client
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

from _common import (
    ROOT,
    bbox_path,
    counts_refresh_after_one_move,
    default_workers,
    machine,
    nearby_path,
    nearby_times,
    percentile,
    percentiles,
    run_load,
    sample_points,
    scratch_databases,
    start_gunicorn,
    stop_gunicorn,
    worker_rss_mb,
)
from scale_data import SCALE_FILE, build_file, scale_database_url
from sqlalchemy import text
from sqlalchemy.orm import Session

from geoservice import db
from geoservice.analysis import gaps
from geoservice.tiles import tile_at

LOAD_DB = "geoservice_scale_load"
BUDGETS = {"gaps": 3.0, "nearby": 5.0, "load": 60.0, "rss": 250.0, "tile": 50.0}


def verdict(name: str, value: float, budget: float, unit: str, detail: str = "") -> str:
    ok = value <= budget
    over = "" if ok else f", {value / budget:.1f}× the budget ({value - budget:+.1f} {unit})"
    line = f"  {'PASS' if ok else 'FAIL'}  {name}: {value:.1f} {unit} (budget {budget:g} {unit}{over})"
    print(line + (f"; {detail}" if detail else ""), flush=True)
    return "PASS" if ok else "FAIL"


def gap_budget(url: str) -> str:
    """The analysis as the service answers it (figures kept on write), and, for reference, from scratch."""
    from geoservice.queries import gaps as queries

    engine = db.make_engine(url)
    try:
        with engine.connect() as conn:
            params = gaps.make_params(level="buurt")
            units = gaps.gap_units(conn, params)  # warm: caches, plans
            times = []
            for _ in range(3):
                started = time.perf_counter()
                units = gaps.gap_units(conn, params)
                times.append(time.perf_counter() - started)
            white = sum(u["status"] == "white_spot" for u in units)
            kept = queries.kept_fresh(conn)
            fresh = {"coverage": kept.coverage, "counts": kept.counts}
            scratch = []
            for _ in range(2):
                started = time.perf_counter()
                queries.unit_rows(conn, queries.UnitQuery(jaar=queries.active_year(conn), level="buurt",
                                                          walk_m=params.walk_m))
                scratch.append(time.perf_counter() - started)
        refresh = counts_refresh_after_one_move(engine)
    finally:
        engine.dispose()
    stored = ", ".join(f"{name} {'kept on write' if ok else 'STALE: computed on the fly'}" for name, ok in fresh.items())
    result = verdict("national gap analysis, level buurt", statistics.median(times), BUDGETS["gaps"], "s",
                     f"{len(units)} buurten, {white} white spots, runs {', '.join(f'{t:.2f}' for t in times)} s; "
                     f"{stored}")
    print(f"        for reference: the same analysis from scratch (counts and coverage computed in the statement) "
          f"{', '.join(f'{t:.2f}' for t in scratch)} s; keeping the counts after one initiative moved "
          f"{refresh * 1000:.0f} ms", flush=True)
    return result


def nearby_budget(url: str, points) -> str:
    engine = db.make_engine(url)
    try:
        with Session(engine) as session:
            count = session.execute(text("SELECT count(*) FROM initiative WHERE status = 'published'")).scalar()
            times = nearby_times(session, points)
    finally:
        engine.dispose()
    return verdict(f"nearby p50 at {count:,} initiatives (in the service)", percentile(times, 0.5) * 1000,
                   BUDGETS["nearby"], "ms", f"{percentiles(times)}, {len(times)} points")


def load_budget(cbs_file: Path) -> list[str]:
    server = scratch_databases()
    url = server.create(LOAD_DB)
    try:
        db.upgrade(url)  # the schema is in place, as in a deployment; the load alone is timed
        command = [str(Path(sys.executable).with_name("geoservice")), "load-cbs", str(cbs_file)]
        env = {**os.environ, "DATABASE_URL": url}
        results = []
        for label in ("first load", "reload, unchanged"):
            started = time.perf_counter()
            done = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
            seconds = time.perf_counter() - started
            if done.returncode != 0:
                print(f"  FAIL  load-cbs exited {done.returncode}: {done.stderr.strip()[-500:]}")
                return ["FAIL"]
            lines = [" ".join(ln.split()) for ln in done.stdout.splitlines() if "geladen (" in ln]
            if label == "first load":
                results.append(verdict(f"geoservice load-cbs {cbs_file.name} ({label})", seconds, BUDGETS["load"],
                                       "s", " / ".join(lines)))
            else:
                print(f"  info  the same file again ({label}): {seconds:.1f} s")
        return results
    finally:
        server.drop(LOAD_DB)


def tile_budget(port: int, points) -> str | None:
    if not (ROOT / "geoservice" / "tiles.py").exists():
        print("  ----  buurt tile at z 12: not built yet (geoservice/tiles.py does not exist)")
        return None
    tiles = list(dict.fromkeys(tile_at(lon, lat, 12) for lon, lat in points))[:200]
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    times, statuses, sizes = [], {}, []
    for x, y in tiles:
        started = time.perf_counter()
        conn.request("GET", f"/tiles/buurten/12/{x}/{y}.mvt")
        response = conn.getresponse()
        body = response.read()
        times.append(time.perf_counter() - started)
        statuses[response.status] = statuses.get(response.status, 0) + 1
        sizes.append(len(body))
    conn.close()
    if set(statuses) - {200, 204}:
        print(f"  FAIL  buurt tile at z 12: answers {statuses} (expected 200) for /tiles/buurten/12/x/y.mvt")
        return "FAIL"
    return verdict("buurt tile at z 12 p50 (HTTP, one connection, distinct tiles)", percentile(times, 0.5) * 1000,
                   BUDGETS["tile"], "ms", f"{percentiles(times)}, {len(tiles)} tiles, "
                   f"median {statistics.median(sizes) / 1024:.0f} KiB")


def warmup_paths(url: str, points) -> list[tuple[str, str]]:
    engine = db.make_engine(url)
    with engine.connect() as conn:
        buurten = list(conn.execute(text("SELECT code FROM buurt ORDER BY md5(code) LIMIT 200")).scalars())
        gemeenten = list(conn.execute(text("SELECT code FROM gemeente ORDER BY md5(code) LIMIT 40")).scalars())
        ids = list(conn.execute(text("SELECT id FROM initiative ORDER BY md5(id::text) LIMIT 200")).scalars())
    engine.dispose()
    paths = []
    for i, (lon, lat) in enumerate(points[:400]):
        paths += [("nearby", nearby_path(lon, lat)), ("bbox", bbox_path(lon, lat)),
                  ("lookup", f"/api/v1/areas/lookup?lat={lat:.5f}&lon={lon:.5f}"),
                  ("area", f"/api/v1/areas/{buurten[i % len(buurten)]}"),
                  ("initiative", f"/api/v1/initiatives/{ids[i % len(ids)]}"),
                  ("ogc", (f"/ogc/collections/buurten/items?bbox={lon - 0.02:.4f},{lat - 0.02:.4f},"
                           f"{lon + 0.02:.4f},{lat + 0.02:.4f}&limit=100"))]
        if i % 10 == 0:
            g = gemeenten[(i // 10) % len(gemeenten)]
            paths += [("gaps", f"/api/v1/gaps?gemeente={g}&level=buurt"), ("page", f"/gemeente/{g}"),
                      ("page", "/"), ("summary", "/api/v1/gaps/summary?level=buurt")]
    return paths


def http_budgets(url: str, points, workers: int, warmup_s: float) -> list[str]:
    results = []
    (ROOT / "bench" / "out").mkdir(exist_ok=True)
    with open(ROOT / "bench" / "out" / "budgets-gunicorn.log", "w") as log:
        proc, port = start_gunicorn(url, workers, log=log)
        try:
            tile = tile_budget(port, points)
            if tile:
                results.append(tile)
            paths = warmup_paths(url, points)
            samples, elapsed = run_load(port, paths, warmup_s, connections=2 * workers, timeout_s=30)
            bad = [s for s in samples if s.status != 200]
            by_kind = {}
            for sample in samples:
                by_kind.setdefault(sample.label, []).append(sample.seconds)
            kinds = ", ".join(f"{kind} {len(times)}× p50 {percentile(times, 0.5) * 1000:.0f} ms"
                              for kind, times in sorted(by_kind.items()))
            print(f"  warm-up: {len(samples)} requests in {elapsed:.0f} s over {workers} workers "
                  f"({kinds}), {len(bad)} not 200"
                  + (f" (e.g. {bad[0].label} {bad[0].status})" if bad else ""))
            rss = worker_rss_mb(proc.pid)
        finally:
            stop_gunicorn(proc)
    if not rss:
        print("  FAIL  no gunicorn workers found")
        return results + ["FAIL"]
    worst = max(rss.values(), key=lambda v: v[0])
    results.append(verdict("resident set size per gunicorn worker (largest, VmRSS)", worst[0], BUDGETS["rss"], "MB",
                           "workers " + ", ".join(f"{now:.0f} MB (peak {peak:.0f})" for now, peak in rss.values())))
    return results


def run_all(label: str, url: str, cbs_file: Path, args) -> list[str]:
    engine = db.make_engine(url)
    with engine.connect() as conn:
        counts = conn.execute(text(
            "SELECT (SELECT count(*) FROM buurt b JOIN cbs_jaar y ON y.jaar = b.jaar AND y.is_active), "
            "(SELECT count(*) FROM initiative), (SELECT count(*) FROM service_area)")).one()
    engine.dispose()
    print(f"\n{label}: {counts[0]:,} buurten, {counts[1]:,} initiatives (synthetic), "
          f"{counts[2]:,} service areas (synthetic); {url.rsplit('/', 1)[-1]}")
    points = sample_points(url, 1000, seed=7)
    results = [gap_budget(url), nearby_budget(url, points)]
    if args.skip_load:
        print("  ----  load-cbs: skipped (--skip-load)")
    else:
        results += load_budget(cbs_file)
    results += http_budgets(url, points, args.workers, args.warmup_seconds)
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cbs-file", type=Path, help="a real national CBS GeoPackage, measured as well")
    parser.add_argument("--workers", type=int, default=default_workers(), help="gunicorn sync workers")
    parser.add_argument("--warmup-seconds", type=float, default=20, help="mixed requests before reading RSS")
    parser.add_argument("--skip-load", action="store_true", help="do not time load-cbs")
    args = parser.parse_args()
    print(f"machine: {machine()}")
    server = scratch_databases()
    if not SCALE_FILE.exists():
        build_file(SCALE_FILE, 14_500, 150, 1)
    results = run_all("synthetic national buurten (bench/scale_data.py)", scale_database_url(server),
                      SCALE_FILE, args)
    if args.cbs_file:
        results += run_all(f"real CBS file {args.cbs_file.name}", scale_database_url(server, args.cbs_file),
                           args.cbs_file, args)
    print(f"\n{results.count('PASS')} PASS, {results.count('FAIL')} FAIL")
    sys.exit(1 if "FAIL" in results else 0)


if __name__ == "__main__":
    main()
