"""Outreach regions in PostGIS: selected gap units clustered by distance, unioned and ranked. No Flask here."""

from __future__ import annotations

from sqlalchemy import Connection, text

from ..params import MAX_DB_ID
from .common import POLYGON_DECIMALS

# DBSCAN with minpoints 1 puts every unit in a cluster, and two units in the same cluster when a chain
# of units links them with gaps of at most eps metres (0: touching). Distances are between the polygons
# themselves (RD New, metres), not their centroids. Ranked by priority (the sum of the units' priority),
# then inhabitants, then the larger area, then the first code, so equal regions always come out in the same order.
#
# The outline is cleaned of what the union of generalised neighbours leaves over (they do not share their
# borders exactly): a closing by CLOSE_M metres fills the slivers between them, and holes and parts smaller
# than MIN_PIECE_M2 are dropped (a region keeps its largest part whatever its size).
CLOSE_M = 10.0
MIN_PIECE_M2 = 10_000.0  # 1 ha
_REGIONS = text("""
WITH active AS (SELECT jaar FROM cbs_jaar WHERE is_active),
selected AS (
    SELECT s.code, coalesce(b.geom, w.geom) AS geom, coalesce(b.aantal_inwoners, w.aantal_inwoners) AS inwoners,
           s.priority
    FROM unnest(CAST(:codes AS text[]), CAST(:levels AS text[]), CAST(:priorities AS float8[]))
         AS s(code, level, priority)
    CROSS JOIN active AS a
    LEFT JOIN buurt AS b ON s.level = 'buurt' AND b.jaar = a.jaar AND b.code = s.code
    LEFT JOIN wijk AS w ON s.level = 'wijk' AND w.jaar = a.jaar AND w.code = s.code
),
clustered AS (
    SELECT code, geom, inwoners, priority,
           ST_ClusterDBSCAN(geom, eps := CAST(:cluster_m AS float8), minpoints := 1) OVER () AS cluster
    FROM selected
    WHERE geom IS NOT NULL
),
regions AS (
    SELECT array_agg(code ORDER BY code) AS codes,
           count(*) AS n_units,
           coalesce(sum(inwoners), 0) AS aantal_inwoners,
           coalesce(sum(priority), 0) AS priority,
           ST_Multi(ST_CollectionExtract(ST_Union(geom ORDER BY code), 3)) AS geom
    FROM clustered
    GROUP BY cluster
),
ranked AS (
    SELECT codes, n_units, aantal_inwoners, priority, geom, ST_Area(geom) AS area_m2,
           row_number() OVER (ORDER BY priority DESC, aantal_inwoners DESC, ST_Area(geom) DESC, codes[1]) AS rank
    FROM regions
)
SELECT rank, codes, n_units, aantal_inwoners, priority, area_m2,
       CASE WHEN :with_geometry THEN ST_AsGeoJSON(ST_ForcePolygonCCW(ST_Transform((
           SELECT ST_Multi(ST_Collect(p.clean ORDER BY p.area DESC))
           FROM (SELECT d.geom AS piece, ST_Area(d.geom) AS area,
                        row_number() OVER (ORDER BY ST_Area(d.geom) DESC) AS nth,
                        ST_MakePolygon(ST_ExteriorRing(d.geom), ARRAY(
                            SELECT ST_InteriorRingN(d.geom, k)
                            FROM generate_series(1, ST_NumInteriorRings(d.geom)) AS k
                            WHERE ST_Area(ST_MakePolygon(ST_InteriorRingN(d.geom, k))) >= :min_piece_m2)) AS clean
                 FROM ST_Dump(ST_Buffer(ST_Buffer(geom, :close_m, 'join=mitre'), -:close_m, 'join=mitre')) AS d
                 ) AS p
           WHERE p.nth = 1 OR p.area >= :min_piece_m2), 4326)), :decimals) END AS geometry
FROM ranked
ORDER BY rank
""")


def cluster_regions(conn: Connection, units: list[tuple[str, str]], *, cluster_m: float,
                    with_geometry: bool = True, priorities: list[float | None] | None = None) -> list[dict]:
    """Regions of (code, level) units of the active year: rank, codes, n_units, aantal_inwoners, priority,
    area_m2, geometry.

    priorities: each unit's priority (None counts as 0), in the order of units; regions are ranked by their
    sum. area_m2 is the area of the union (RD New), which equals the sum of the units' areas since CBS areas
    of one year do not overlap; geometry is WGS84 GeoJSON text (None unless asked), not simplified, cleaned
    of slivers, holes and parts under 1 ha (see CLOSE_M).
    """
    if not units:
        return []
    rows = conn.execute(_REGIONS, {
        "codes": [code for code, _ in units], "levels": [level for _, level in units],
        "priorities": [float(p) if p is not None else None for p in (priorities or [None] * len(units))],
        "cluster_m": float(cluster_m), "with_geometry": with_geometry, "decimals": POLYGON_DECIMALS,
        "close_m": CLOSE_M, "min_piece_m2": MIN_PIECE_M2,
    })
    return [{**row._mapping, "codes": list(row.codes), "n_units": int(row.n_units),
             "aantal_inwoners": int(row.aantal_inwoners), "priority": round(float(row.priority), 1),
             "area_m2": float(row.area_m2), "rank": int(row.rank)}
            for row in rows]


def partner_with_area_count(conn: Connection, partner_id: int) -> dict | None:
    """id, name and the number of service areas of a partner; None when there is no such partner."""
    if not 0 < partner_id <= MAX_DB_ID:
        return None
    row = conn.execute(text("""
        SELECT p.id, p.name, count(sa.id) AS n_service_areas
        FROM partner AS p LEFT JOIN service_area AS sa ON sa.partner_id = p.id
        WHERE p.id = :id
        GROUP BY p.id, p.name
    """), {"id": partner_id}).first()
    return dict(row._mapping) if row else None

