"""Mapbox vector tiles (MVT) of the CBS areas and the published initiatives, made by PostGIS.

Everything is found, clipped and drawn in Web Mercator, from the columns PostgreSQL generates from the stored
RD geometries (initiative.location_web_mercator, migration 0012; gemeente, wijk and buurt .geom_web_mercator,
0014): no transform per request. Areas are clipped to the tile with its buffer, simplified with a tolerance of
about one screen pixel at that zoom (Douglas-Peucker keeping collapsed parts: ST_AsMVTGeom makes the result
valid; preserving topology cost 1.5-2.5× as much for the same bytes at one pixel) and encoded by
ST_AsMVTGeom/ST_AsMVT; both are found by a GiST index scan on the tile with its buffer.
"""

from __future__ import annotations

from sqlalchemy import text

EXTENT = 4096  # MVT grid units per tile side
BUFFER = 64  # grid units around the tile, so that strokes do not end at tile edges
WEB_MERCATOR_WORLD_M = 40_075_016.685578488
AREA_TABLES = {"gemeenten": "gemeente", "wijken": "wijk", "buurten": "buurt"}

# The tile, and the tile with its buffer: what finds the rows and clips the outlines.
_ENVELOPE = """
    SELECT ST_TileEnvelope(:z, :x, :y) AS merc, ST_TileEnvelope(:z, :x, :y, margin => :margin) AS wide"""

_AREA_FIGURES = """
WITH env AS ({envelope})
SELECT a.code, a.aantal_inwoners, {counts}, {coverage} AS coverage
FROM {table} AS a CROSS JOIN env{counts_join}
WHERE a.jaar = :jaar AND a.geom_web_mercator && env.wide AND ST_Intersects(a.geom_web_mercator, env.wide)"""

# Initiative counts (every published one, walk_m) from gap_counts when it is up to date
# (queries.gaps.stored_counts_are_fresh), else counted here for the units of this tile only.
STORED_COUNTS = {"counts": "coalesce(gn.n_inside, 0) AS n_initiatives, coalesce(gn.n_nearby, 0) AS n_nearby",
                 "join": " LEFT JOIN gap_counts AS gn ON gn.jaar = :jaar AND gn.code = a.code"}
COMPUTED_COUNTS = {"counts": """
       (SELECT count(*) FROM initiative AS i
        WHERE i.status = 'published' AND i.areas_jaar = :jaar
          AND (i.buurtcode = a.code OR i.wijkcode = a.code)) AS n_initiatives,
       (SELECT count(*) FROM initiative AS i
        WHERE i.status = 'published' AND ST_DWithin(i.location, a.geom, :walk_m)) AS n_nearby""", "join": ""}

# Coverage when gap_coverage is up to date (queries.gaps.stored_coverage_is_fresh), else the share of
# the unit inside the union of all service areas, rounded as the gap analysis rounds it.
STORED_COVERAGE = "coalesce((SELECT gc.coverage FROM gap_coverage AS gc WHERE gc.jaar = :jaar AND gc.code = a.code), 0)"
COMPUTED_COVERAGE = """coalesce(round(CAST(ST_Area(ST_Intersection(a.geom, (
        SELECT ST_Union(sa.geom ORDER BY sa.id) FROM service_area AS sa WHERE ST_Intersects(sa.geom, a.geom)
    ))) / nullif(ST_Area(a.geom), 0) AS numeric), :share_decimals), 0)"""

_AREA_TILE = """
WITH env AS ({envelope}),
status AS (SELECT * FROM unnest(CAST(:codes AS text[]), CAST(:statuses AS text[]), CAST(:n_initiatives AS int[]),
                                CAST(:n_nearby AS int[]), CAST(:coverage AS float8[]), CAST(:need AS float8[]),
                                CAST(:priority AS float8[]))
                   AS s(code, status, n_initiatives, n_nearby, coverage, need, priority)),
features AS (
    SELECT a.code, a.naam, a.aantal_inwoners{status_column},
           ST_AsMVTGeom(ST_Simplify(ST_ClipByBox2D(a.geom_web_mercator, env.wide), :tolerance, true),
                        env.merc, :extent, :buffer, true) AS geom
    FROM {table} AS a CROSS JOIN env{status_join}
    WHERE a.jaar = :jaar AND a.geom_web_mercator && env.wide AND ST_Intersects(a.geom_web_mercator, env.wide)
)
SELECT ST_AsMVT(features.*, :layer, :extent, 'geom') FROM features WHERE geom IS NOT NULL"""

# The key gap figures from the tables kept on write, in the tile's one statement, when all three are fresh (else
# the tile is made the other way: area_figures, analysis.need, area_tile): the status as analysis.gaps.status_of
# defines it, coverage clamped to 0..1 and rounded half up to 3 decimals as tiles.gap_figures rounds it, need
# with the default weights and the priority of a white spot as analysis.need.add_need makes them (gap_need).
STORED_STATUS = """CASE WHEN a.aantal_inwoners IS NULL THEN 'unknown'
         WHEN a.aantal_inwoners < :min_inwoners THEN 'low_population'
         WHEN coalesce(gn.n_nearby, 0) = 0 THEN
              CASE WHEN coalesce(gc.coverage, 0) < :covered THEN 'white_spot' ELSE 'no_initiative' END
         WHEN coalesce(gc.coverage, 0) < :covered THEN 'no_support' ELSE 'ok' END"""
_AREA_TILE_STORED = """
WITH ctx AS (
    SELECT (SELECT jaar FROM cbs_jaar WHERE is_active) AS jaar,
           NOT EXISTS (SELECT 1 FROM gap_coverage_stale) AND NOT EXISTS (SELECT 1 FROM gap_counts_stale)
           AND NOT EXISTS (SELECT 1 FROM gap_need_stale) AS fresh
),
env AS ({envelope}),
units AS (
    SELECT a.code, a.naam, a.aantal_inwoners, """ + STORED_STATUS + """ AS status,
           coalesce(gn.n_inside, 0) AS n_initiatives, coalesce(gn.n_nearby, 0) AS n_nearby,
           CAST(round(CAST(least(greatest(coalesce(gc.coverage, 0), 0), 1) AS numeric), 3) AS float8) AS coverage,
           nd.need, nd.white_spot_priority,
           ST_AsMVTGeom(ST_Simplify(ST_ClipByBox2D(a.geom_web_mercator, env.wide), :tolerance, true),
                        env.merc, :extent, :buffer, true) AS geom
    FROM {table} AS a CROSS JOIN env CROSS JOIN ctx
    LEFT JOIN gap_counts AS gn ON gn.jaar = ctx.jaar AND gn.code = a.code
    LEFT JOIN gap_coverage AS gc ON gc.jaar = ctx.jaar AND gc.code = a.code
    LEFT JOIN gap_need AS nd ON nd.jaar = ctx.jaar AND nd.code = a.code
    WHERE ctx.fresh AND a.jaar = ctx.jaar AND a.geom_web_mercator && env.wide
      AND ST_Intersects(a.geom_web_mercator, env.wide)
),
features AS (
    SELECT code, naam, aantal_inwoners, status, n_initiatives, n_nearby, coverage, need,
           CASE WHEN status = 'white_spot' THEN white_spot_priority END AS priority, geom
    FROM units WHERE geom IS NOT NULL
)
SELECT ctx.jaar, ctx.fresh, (SELECT ST_AsMVT(features.*, :layer, :extent, 'geom') FROM features)
FROM ctx"""

# Points are found and drawn in Web Mercator (the generated column and its index, migration 0012): neither the
# tile nor the points are transformed per request.
_INITIATIVE_TILE = """
WITH features AS (
    SELECT i.id AS fid, i.id, i.name, i.kind, array_to_string(i.themes, ';') AS themes,
           ST_AsMVTGeom(i.location_web_mercator, ST_TileEnvelope(:z, :x, :y), :extent, :buffer, true) AS geom
    FROM initiative AS i
    WHERE i.status = 'published' AND i.location_web_mercator && ST_TileEnvelope(:z, :x, :y, margin => :margin)
)
SELECT ST_AsMVT(features.*, :layer, :extent, 'geom', 'fid') FROM features WHERE geom IS NOT NULL"""
_INITIATIVE_TILE_SQL = text(_INITIATIVE_TILE)


def tolerance_m(z: int) -> float:
    """About one 256-pixel screen pixel at zoom z, in Web Mercator metres (0.0 would mean: no simplification)."""
    return WEB_MERCATOR_WORLD_M / (256 * 2**z)


def _tile_params(z: int, x: int, y: int) -> dict:
    return {"z": z, "x": x, "y": y, "margin": BUFFER / EXTENT, "extent": EXTENT, "buffer": BUFFER}


def area_figures(conn, layer: str, z: int, x: int, y: int, *, jaar: int, walk_m: int, stored_coverage: bool,
                 stored_counts: bool, share_decimals: int) -> list[dict]:
    """Per unit (wijk or buurt) in the tile: code, aantal_inwoners, n_initiatives, n_nearby, coverage.

    stored_counts only for the default question (queries.gaps.counts_are_stored_for).
    """
    counts = STORED_COUNTS if stored_counts else COMPUTED_COUNTS
    sql = _AREA_FIGURES.format(envelope=_ENVELOPE, table=AREA_TABLES[layer], counts=counts["counts"],
                               counts_join=counts["join"],
                               coverage=STORED_COVERAGE if stored_coverage else COMPUTED_COVERAGE)
    rows = conn.execute(text(sql), {**_tile_params(z, x, y), "jaar": jaar, "walk_m": walk_m,
                                    "share_decimals": share_decimals})
    return [dict(row._mapping) for row in rows]


def area_tile(conn, layer: str, z: int, x: int, y: int, *, jaar: int, tolerance: float,
              figures: dict[str, dict] | None = None) -> bytes:
    """The MVT bytes of one layer of CBS areas: attributes code, naam, aantal_inwoners, and with figures
    (by code: status, n_initiatives, n_nearby, coverage, need, priority) those as well (null ones left out)."""
    with_figures = figures is not None
    sql = _AREA_TILE.format(
        envelope=_ENVELOPE, table=AREA_TABLES[layer],
        status_column=", s.status, s.n_initiatives, s.n_nearby, s.coverage, s.need, s.priority" if with_figures else "",
        status_join=" LEFT JOIN status AS s ON s.code = a.code" if with_figures else "")
    figures = figures or {}
    codes = list(figures)
    columns = {key: [figures[c][key] for c in codes]
               for key in ("status", "n_initiatives", "n_nearby", "coverage", "need", "priority")}
    data = conn.execute(text(sql), {**_tile_params(z, x, y), "jaar": jaar, "tolerance": tolerance,
                                    "layer": layer, "codes": codes, "statuses": columns["status"],
                                    "n_initiatives": columns["n_initiatives"], "n_nearby": columns["n_nearby"],
                                    "coverage": columns["coverage"], "need": columns["need"],
                                    "priority": columns["priority"]}).scalar()
    return bytes(data or b"")


def area_tile_stored(conn, layer: str, z: int, x: int, y: int, *, tolerance: float, min_inwoners: int,
                     covered: float) -> tuple[int | None, bool, bytes]:
    """(the active year, fresh, the tile): area_tile of the active year with the key gap figures read from the
    tables kept on write, all in one round trip. Only for the default question, and only when those tables are
    fresh: else the tile is b"" and must be made the other way."""
    sql = _AREA_TILE_STORED.format(envelope=_ENVELOPE, table=AREA_TABLES[layer])
    jaar, fresh, data = conn.execute(text(sql), {**_tile_params(z, x, y), "tolerance": tolerance, "layer": layer,
                                                 "min_inwoners": min_inwoners, "covered": covered}).one()
    return jaar, bool(fresh), bytes(data or b"")


def initiative_tile(conn, z: int, x: int, y: int) -> bytes:
    """The MVT bytes of the published initiatives (attributes id, name, kind, themes joined by ';')."""
    data = conn.execute(_INITIATIVE_TILE_SQL, {"z": z, "x": x, "y": y, "margin": BUFFER / EXTENT, "extent": EXTENT,
                                               "buffer": BUFFER, "layer": "initiatives"}).scalar()
    return bytes(data or b"")
