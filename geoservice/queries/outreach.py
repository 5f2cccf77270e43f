"""Outreach regions in PostGIS: selected gap units clustered by distance, unioned and ranked. No Flask here."""

from __future__ import annotations

from sqlalchemy import Connection, text

from ..params import MAX_DB_ID
from .common import POLYGON_DECIMALS

# DBSCAN with minpoints 1 puts every unit in a cluster, and two units in the same cluster when a chain
# of units links them with gaps of at most eps metres (0: touching). Distances are between the polygons
# themselves (RD New, metres), not their centroids. Ranked by inhabitants, then the larger area, then
# the first code, so equal regions always come out in the same order.
_REGIONS = text("""
WITH active AS (SELECT jaar FROM cbs_jaar WHERE is_active),
selected AS (
    SELECT s.code, coalesce(b.geom, w.geom) AS geom, coalesce(b.aantal_inwoners, w.aantal_inwoners) AS inwoners
    FROM unnest(CAST(:codes AS text[]), CAST(:levels AS text[])) AS s(code, level)
    CROSS JOIN active AS a
    LEFT JOIN buurt AS b ON s.level = 'buurt' AND b.jaar = a.jaar AND b.code = s.code
    LEFT JOIN wijk AS w ON s.level = 'wijk' AND w.jaar = a.jaar AND w.code = s.code
),
clustered AS (
    SELECT code, geom, inwoners,
           ST_ClusterDBSCAN(geom, eps := CAST(:cluster_m AS float8), minpoints := 1) OVER () AS cluster
    FROM selected
    WHERE geom IS NOT NULL
),
regions AS (
    SELECT array_agg(code ORDER BY code) AS codes,
           count(*) AS n_units,
           coalesce(sum(inwoners), 0) AS aantal_inwoners,
           ST_Multi(ST_CollectionExtract(ST_Union(geom ORDER BY code), 3)) AS geom
    FROM clustered
    GROUP BY cluster
),
ranked AS (
    SELECT codes, n_units, aantal_inwoners, geom, ST_Area(geom) AS area_m2,
           row_number() OVER (ORDER BY aantal_inwoners DESC, ST_Area(geom) DESC, codes[1]) AS rank
    FROM regions
)
SELECT rank, codes, n_units, aantal_inwoners, area_m2,
       CASE WHEN :with_geometry
            THEN ST_AsGeoJSON(ST_ForcePolygonCCW(ST_Transform(geom, 4326)), :decimals) END AS geometry
FROM ranked
ORDER BY rank
""")


def cluster_regions(conn: Connection, units: list[tuple[str, str]], *, cluster_m: float,
                    with_geometry: bool = True) -> list[dict]:
    """Regions of (code, level) units of the active year: rank, codes, n_units, aantal_inwoners, area_m2, geometry.

    area_m2 is the area of the union (RD New), which equals the sum of the units' areas since CBS
    areas of one year do not overlap; geometry is WGS84 GeoJSON text (None unless asked), not simplified.
    """
    if not units:
        return []
    rows = conn.execute(_REGIONS, {
        "codes": [code for code, _ in units], "levels": [level for _, level in units],
        "cluster_m": float(cluster_m), "with_geometry": with_geometry, "decimals": POLYGON_DECIMALS,
    })
    return [{**row._mapping, "codes": list(row.codes), "n_units": int(row.n_units),
             "aantal_inwoners": int(row.aantal_inwoners), "area_m2": float(row.area_m2), "rank": int(row.rank)}
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

