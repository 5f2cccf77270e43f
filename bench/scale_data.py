#!/usr/bin/env python3
"""Build the scale benchmark data: a SYNTHETIC national buurt-level CBS map and the database `geoservice_scale`.

Usage: .venv/bin/python bench/scale_data.py [--buurten 14500] [--vertices 150] [--seed 1]
                                            [--initiatives 100000] [--partners 200] [--areas-per-partner 5]
                                            [--file-only] [--cbs-file PATH]

Each real wijk of data/cbs_wijken/wijken_2024.gpkg is split into n buurt-sized parts (a seeded Voronoi
split, relaxed twice towards equal parts; n >= 1 in proportion to the wijk's inhabitants and area, about
14,500 in all). Codes are BU + the wijk's digits + a 2-digit part number, names "<wijknaam> deel k
(synthetisch)", aantal_inwoners is the wijk's divided over its parts by area. The parts' borders are
densified to about --vertices vertices per buurt, as the full-resolution CBS buurten have (Baarn: ~150),
so loading and spatial joins handle a realistic amount of coordinates. The file has the official layout of
the Wijk- en Buurtkaart (one GeoPackage, layers gemeenten, wijken and buurten, snake_case columns,
sentinel -99995 for "unknown", EPSG:28992): bench/out/wijkenbuurten_2024_synthetisch.gpkg (git-ignored).
NONE OF IT IS REAL: never load it into a real deployment, never copy it to data/.

The database gets that map (through the same loader as `geoservice load-cbs`), 100,000 synthetic
initiatives spread by population over the buurten, and 1,000 synthetic partner service areas
(200 partners × 5 circles), all with source=bench. With --cbs-file the database `geoservice_scale_real`
is built the same way from a real national CBS GeoPackage instead.
"""

from __future__ import annotations

import argparse
import math
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pyogrio
import shapely
from _common import DATA, ROOT, ScratchDatabases, machine, scratch_databases
from shapely.geometry import MultiPolygon, Polygon

from geoservice import db
from geoservice.cbs.loader import load_cbs
from geoservice.demo import (
    SpreadPlan,
    allocate,
    generate_initiatives,
    generate_partners,
)
from geoservice.analysis.kept import refresh_all

OUT = ROOT / "bench" / "out"
SCALE_FILE = OUT / "wijkenbuurten_2024_synthetisch.gpkg"
SCALE_DB = "geoservice_scale"
REAL_DB = "geoservice_scale_real"
YEAR = 2024
SENTINEL = -99995  # CBS: "geheim / nog niet bekend"; the reader stores it as NULL
MARK = "(synthetisch)"
MAX_PARTS = 99  # two digits
# Counts divided over the parts by area; percentages and densities are the wijk's own.
DIVIDED = ["aantal_inwoners", "mannen", "vrouwen", "aantal_huishoudens", "personenautos"]
COPIED = ["percentage_personen_0_tot_15_jaar", "percentage_personen_15_tot_25_jaar",
          "percentage_personen_25_tot_45_jaar", "percentage_personen_45_tot_65_jaar",
          "percentage_personen_65_jaar_en_ouder", "gemiddelde_huishoudsgrootte",
          "bevolkingsdichtheid_inwoners_per_km2"]


def parts_per_wijk(wijken: pd.DataFrame, total: int) -> np.ndarray:
    """n >= 1 per wijk, the rest in proportion to 3/4 population share + 1/4 area share; sums to total."""
    pop = wijken["aantal_inwoners"].fillna(0).clip(lower=0).to_numpy()
    area = wijken.geometry.area.to_numpy()
    weight = 0.75 * pop / pop.sum() + 0.25 * area / area.sum()
    extra = allocate({i: int(w * 1e9) for i, w in enumerate(weight)}, max(0, total - len(wijken)))
    n = np.array([1 + extra[i] for i in range(len(wijken))])
    return np.minimum(n, MAX_PARTS)


def split(polygon, n: int, rng: np.random.Generator) -> list:
    """n parts of a (multi)polygon: Voronoi cells of seeded points inside it, two Lloyd relaxations."""
    if n <= 1:
        return [polygon]
    points = _points_inside(polygon, n, rng)
    cells = []
    for _ in range(3):
        voronoi = shapely.voronoi_polygons(shapely.multipoints(points), extend_to=polygon, ordered=True)
        cells = list(shapely.intersection(np.array(voronoi.geoms, dtype=object), polygon))
        moved = []
        for cell, point in zip(cells, points):
            if cell is None or cell.is_empty:
                moved.append(point)
                continue
            c = cell.centroid if cell.contains(cell.centroid) else cell.point_on_surface()
            moved.append((c.x, c.y))
        points = np.array(moved)
    parts = [_polygonal(c) for c in cells if c is not None]
    return [p for p in parts if p is not None and p.area > 0] or [polygon]


def _points_inside(polygon, n: int, rng: np.random.Generator) -> np.ndarray:
    minx, miny, maxx, maxy = polygon.bounds
    shapely.prepare(polygon)
    found: list[tuple[float, float]] = []
    while len(found) < n:
        xs = rng.uniform(minx, maxx, 4 * n + 16)
        ys = rng.uniform(miny, maxy, 4 * n + 16)
        inside = shapely.contains_xy(polygon, xs, ys)
        found += [p for p in zip(xs[inside], ys[inside]) if p not in found]
    return np.array(found[:n])


def _polygonal(geom):
    if isinstance(geom, (Polygon, MultiPolygon)):
        return geom
    polys = [g for g in getattr(geom, "geoms", []) if isinstance(g, (Polygon, MultiPolygon))]
    return shapely.union_all(polys) if polys else None


def divide(total, areas: np.ndarray) -> list:
    """An integer count divided over parts by area (largest remainder); sentinel stays sentinel."""
    if total is None or (isinstance(total, float) and math.isnan(total)) or total < 0:
        return [SENTINEL] * len(areas)
    shares = allocate({i: int(a * 1000) for i, a in enumerate(areas)}, round(total))
    return [shares[i] for i in range(len(areas))]


def build_file(target: Path, buurten: int, vertices: int, seed: int) -> Path:
    """Write the synthetic national GeoPackage (layers gemeenten, wijken, buurten); returns its path."""
    started = time.perf_counter()
    rng = np.random.default_rng(seed)
    gemeenten = pyogrio.read_dataframe(DATA / "gemeenten_2024.gpkg")
    wijken = pyogrio.read_dataframe(DATA / "wijken_2024.gpkg").sort_values("wijkcode").reset_index(drop=True)
    counts = parts_per_wijk(wijken, buurten)
    rows, geoms = [], []
    for wijk, n in zip(wijken.itertuples(index=False), counts):
        parts = split(shapely.make_valid(wijk.geometry), int(n), rng)
        areas = np.array([p.area for p in parts])
        divided = {col: divide(getattr(wijk, col), areas) for col in DIVIDED}
        digits = wijk.wijkcode[2:]
        for k, part in enumerate(parts, start=1):
            code = f"BU{digits}{k:02d}"
            row = {
                "buurtcode": code,
                "buurtnaam": f"{wijk.wijknaam} deel {k} {MARK}",
                "wijkcode": wijk.wijkcode,
                "gemeentecode": wijk.gemeentecode,
                "gemeentenaam": wijk.gemeentenaam,
                "water": "JA" if "water" in str(wijk.wijknaam).lower() and divided["aantal_inwoners"][0] == SENTINEL
                else "NEE",
            }
            for col in DIVIDED:
                row[col] = divided[col][k - 1]
            for col in COPIED:
                value = getattr(wijk, col)
                row[col] = SENTINEL if value is None or (isinstance(value, float) and math.isnan(value)) else value
            row["oppervlakte_land_in_ha"] = round(part.area / 10_000)
            row["jrstatcode"] = f"{YEAR}{code}"
            row["jaar"] = YEAR
            rows.append(row)
            geoms.append(MultiPolygon([part]) if isinstance(part, Polygon) else part)
    geoms = _densify(np.array(geoms, dtype=object), vertices)
    frame = pd.DataFrame(rows)
    import geopandas as gpd

    out = gpd.GeoDataFrame(frame, geometry=list(geoms), crs=28992)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.unlink(missing_ok=True)
    pyogrio.write_dataframe(gemeenten, target, layer="gemeenten", driver="GPKG")
    pyogrio.write_dataframe(wijken, target, layer="wijken", driver="GPKG")
    pyogrio.write_dataframe(out, target, layer="buurten", driver="GPKG")
    print(f"{target.relative_to(ROOT)}: {len(gemeenten)} gemeenten, {len(wijken)} wijken (real, shipped), "
          f"{len(out)} buurten (synthetic, {shapely.get_num_coordinates(geoms).mean():.0f} vertices each "
          f"on average, {int(frame['aantal_inwoners'].clip(lower=0).sum()):,} inhabitants) "
          f"in {time.perf_counter() - started:.0f} s")
    return target


def _densify(geoms: np.ndarray, vertices: int) -> np.ndarray:
    """Extra vertices on the borders until the average part has about `vertices` of them."""
    have = shapely.get_num_coordinates(geoms).sum()
    want = vertices * len(geoms)
    if vertices <= 0 or have >= want:
        return geoms
    perimeter = shapely.length(geoms).sum()
    return shapely.segmentize(geoms, perimeter / (want - have))


def build_database(server: ScratchDatabases, dbname: str, cbs_file: Path, *, initiatives: int, partners: int,
                   areas_per_partner: int, seed: int) -> str:
    """A fresh database with the CBS file, synthetic initiatives (by population, buurt level) and partners."""
    url = server.create(dbname)
    db.upgrade(url)
    engine = db.make_engine(url)
    try:
        started = time.perf_counter()
        summary = load_cbs(engine, [cbs_file])
        loaded = time.perf_counter()
        print(f"CBS map loaded in {loaded - started:.0f} s: " + "; ".join(summary.lines()))
        with engine.begin() as conn:
            # Statistics for the new map first: planned without them, placing 100,000 points in their
            # buurten scans the table per point (minutes instead of seconds).
            conn.exec_driver_sql("ANALYZE")
        with engine.begin() as conn:
            count = generate_initiatives(conn, [SpreadPlan("buurt", initiatives)], source="bench", seed=seed,
                                         status_mix=False)
            areas = generate_partners(conn, partners, areas_per_partner, source="bench", seed=seed)
            generated = time.perf_counter()
            refresh_all(conn)
            refreshed = time.perf_counter()
        with engine.begin() as conn:
            conn.exec_driver_sql("ANALYZE")
        print(f"{count} synthetic initiatives, {partners} synthetic partners with {areas} service areas "
              f"(source=bench) in {generated - loaded:.0f} s; coverage and counts per unit stored in "
              f"{refreshed - generated:.0f} s")
    finally:
        engine.dispose()
    return url


def scale_database_url(server: ScratchDatabases, cbs_file: Path | None = None, **options) -> str:
    """The synthetic scale database, built when missing, else migrated to head; with cbs_file the
    database of that real file, always rebuilt (it cannot tell which file built an existing one)."""
    dbname = REAL_DB if cbs_file else SCALE_DB
    if not cbs_file and server.exists(dbname):
        url = server.url(dbname)
        db.upgrade(url)
        return url
    source = cbs_file or (SCALE_FILE if SCALE_FILE.exists() else build_file(SCALE_FILE, 14_500, 150, 1))
    defaults = {"initiatives": 100_000, "partners": 200, "areas_per_partner": 5, "seed": 1}
    return build_database(server, dbname, source, **{**defaults, **options})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--buurten", type=int, default=14_500, help="about how many synthetic buurten")
    parser.add_argument("--vertices", type=int, default=150, help="average vertices per buurt (0: no densifying)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--initiatives", type=int, default=100_000)
    parser.add_argument("--partners", type=int, default=200)
    parser.add_argument("--areas-per-partner", type=int, default=5)
    parser.add_argument("--file-only", action="store_true", help="write the GeoPackage, build no database")
    parser.add_argument("--cbs-file", type=Path, help="a real national CBS GeoPackage: database geoservice_scale_real")
    args = parser.parse_args()
    print(f"machine: {machine()}")
    source = args.cbs_file or build_file(SCALE_FILE, args.buurten, args.vertices, args.seed)
    if args.file_only:
        return
    url = build_database(scratch_databases(), REAL_DB if args.cbs_file else SCALE_DB, source,
                         initiatives=args.initiatives, partners=args.partners,
                         areas_per_partner=args.areas_per_partner, seed=args.seed)
    print(f"database: {url}")


if __name__ == "__main__":
    main()
