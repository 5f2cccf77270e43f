"""Spatial checks of the initiative import: project points to RD New and test that they lie in the Netherlands."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Connection, text

from ..models import RD_NEW, WGS84

# GM0998 "Buitenland" is a CBS bookkeeping gemeente, not a place in the Netherlands.
NOT_A_PLACE = ("GM0998",)
# The national layers may be generalised (the shipped ones by ~35-55 m, with bits of lakes and
# coast missing), so a point this close to a gemeente or wijk, or inside a buurt, counts as inside.
AREA_MARGIN_M = 500.0
BATCH = 5000


@dataclass(frozen=True)
class PlacedPoint:
    """A point in RD New and WGS84, and whether it lies in the CBS areas of the active year."""

    x: float
    y: float
    lon: float
    lat: float
    in_netherlands: bool | None  # None: no CBS areas loaded, so only the coarse box can judge


_PLACE_SQL = text("""
WITH p AS (
    SELECT u.n,
           CASE WHEN u.srid = :wgs84
                THEN ST_Transform(ST_SetSRID(ST_MakePoint(u.a, u.b), :wgs84), :rd)
                ELSE ST_SetSRID(ST_MakePoint(u.a, u.b), :rd) END AS rd
    FROM unnest(CAST(:a AS float8[]), CAST(:b AS float8[]), CAST(:srid AS integer[]))
         WITH ORDINALITY AS u(a, b, srid, n)
)
SELECT p.n, ST_X(p.rd), ST_Y(p.rd), ST_X(ST_Transform(p.rd, :wgs84)), ST_Y(ST_Transform(p.rd, :wgs84)),
       EXISTS (SELECT 1 FROM gemeente AS g JOIN cbs_jaar AS j ON j.jaar = g.jaar AND j.is_active
               WHERE g.code <> ALL(CAST(:skip AS text[])) AND ST_DWithin(g.geom, p.rd, :margin))
       OR EXISTS (SELECT 1 FROM wijk AS w JOIN cbs_jaar AS j ON j.jaar = w.jaar AND j.is_active
                  WHERE w.gemeentecode <> ALL(CAST(:skip AS text[])) AND ST_DWithin(w.geom, p.rd, :margin))
       OR EXISTS (SELECT 1 FROM buurt AS b JOIN cbs_jaar AS j ON j.jaar = b.jaar AND j.is_active
                  WHERE b.gemeentecode <> ALL(CAST(:skip AS text[])) AND ST_Intersects(b.geom, p.rd))
FROM p
ORDER BY p.n
""")

_HAS_AREAS_SQL = text("""
SELECT EXISTS (SELECT 1 FROM gemeente AS g JOIN cbs_jaar AS j ON j.jaar = g.jaar AND j.is_active
               WHERE g.code <> ALL(CAST(:skip AS text[])))
    OR EXISTS (SELECT 1 FROM wijk AS w JOIN cbs_jaar AS j ON j.jaar = w.jaar AND j.is_active)
    OR EXISTS (SELECT 1 FROM buurt AS b JOIN cbs_jaar AS j ON j.jaar = b.jaar AND j.is_active)
""")


def place_points(conn: Connection, points: list[tuple[float, float, int]]) -> list[PlacedPoint]:
    """(a, b, srid) points, srid 4326 (lon, lat) or 28992 (x, y), placed in RD New and WGS84.

    Callers pass only points inside a coarse box around the Netherlands, where both
    projections are well defined.
    """
    has_areas = conn.execute(_HAS_AREAS_SQL, {"skip": list(NOT_A_PLACE)}).scalar()
    placed: list[PlacedPoint] = []
    for start in range(0, len(points), BATCH):
        batch = points[start:start + BATCH]
        rows = conn.execute(_PLACE_SQL, {
            "a": [p[0] for p in batch], "b": [p[1] for p in batch], "srid": [p[2] for p in batch],
            "wgs84": WGS84, "rd": RD_NEW, "skip": list(NOT_A_PLACE), "margin": AREA_MARGIN_M,
        }).all()
        placed += [PlacedPoint(x, y, lon, lat, inside if has_areas else None)
                   for _n, x, y, lon, lat, inside in rows]
    return placed
