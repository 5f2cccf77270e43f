"""Who supports a plan at a point (partners by service, theme and service area), and the anonymous demand counts."""

from __future__ import annotations

from functools import lru_cache

from sqlalchemy import Connection, text
from sqlalchemy.orm import Session

from ..params import LonLat

# Partners with a service area within reach_m of the point: whether one contains it, metres (RD New) to the
# nearest one, and whether a containing one was made from the code of the point's whole gemeente.
# One statement per combination of filters, every value a bound parameter.
_SUPPORTING = """
WITH here AS (SELECT ST_Transform(ST_SetSRID(ST_MakePoint(:lon, :lat), 4326), 28992) AS pt),
near AS (
    SELECT sa.partner_id,
           bool_or(ST_Intersects(sa.geom, here.pt)) AS covers,
           min(ST_Distance(sa.geom, here.pt)) AS distance_m,
           coalesce(bool_or(sa.definition_type = 'codes' AND ST_Intersects(sa.geom, here.pt)
                            AND sa.definition -> 'codes' @> jsonb_build_array(CAST(:gemeentecode AS text))),
                    false) AS whole_gemeente
    FROM service_area AS sa CROSS JOIN here
    WHERE ST_DWithin(sa.geom, here.pt, :reach_m)
    GROUP BY sa.partner_id
)
SELECT p.id, p.name, p.kind, p.services, p.themes, p.website, p.email, p.phone, p.source,
       near.covers, CASE WHEN near.covers THEN 0.0 ELSE near.distance_m END AS distance_m, near.whole_gemeente
FROM near JOIN partner AS p ON p.id = near.partner_id
WHERE cardinality(p.services) > 0 {filters}
ORDER BY near.covers DESC, CASE WHEN near.covers THEN 0.0 ELSE near.distance_m END, p.name, p.id
LIMIT :limit
"""
_FILTERS = {
    "services": " AND p.services && CAST(:services AS text[])",
    # a partner without themes helps with every theme
    "theme": " AND (cardinality(p.themes) = 0 OR CAST(:theme AS text) = ANY(p.themes))",
}


@lru_cache(maxsize=None)
def _supporting_statement(services: bool, theme: bool):
    filters = (_FILTERS["services"] if services else "") + (_FILTERS["theme"] if theme else "")
    return text(_SUPPORTING.format(filters=filters))


def supporting_partners(session: Session, point: LonLat, *, services: tuple[str, ...], theme: str | None,
                        reach_m: float, limit: int, gemeentecode: str | None = None) -> list[dict]:
    """Partners offering any of `services` (any service when empty) for `theme`, whose service areas contain the
    point or lie within reach_m of it: containing ones first, then by distance, then by name.

    Each dict: id, name, kind, services, themes, website, email, phone, source, covers, distance_m (RD metres;
    0 when it covers) and whole_gemeente (a containing service area was made from gemeentecode).
    """
    rows = session.connection().execute(_supporting_statement(bool(services), theme is not None), {
        "lon": point.lon, "lat": point.lat, "reach_m": reach_m, "limit": limit, "services": list(services),
        "theme": theme, "gemeentecode": gemeentecode})
    return [{**row._mapping, "services": list(row.services), "themes": list(row.themes),
             "distance_m": float(row.distance_m)} for row in rows]


# --- demand: /hulp searches per day, buurt (or wijk) and service ---------------------------------------

_COUNT = text("""
INSERT INTO support_demand AS d (day, jaar, code, service, n)
SELECT current_date, :jaar, :code, service, 1 FROM unnest(CAST(:services AS text[])) AS service
ON CONFLICT (day, jaar, code, service) DO UPDATE SET n = d.n + 1
""")
_FORGET = text("DELETE FROM support_demand WHERE day <= current_date - CAST(:days AS integer)")

# A unit counts for a partner when a point inside it (ST_PointOnSurface) lies in one of its service areas.
_DEMAND = text("""
SELECT d.service, CAST(sum(d.n) AS integer) AS n
FROM support_demand AS d
JOIN LATERAL (
    SELECT geom FROM buurt WHERE jaar = d.jaar AND code = d.code
    UNION ALL
    SELECT geom FROM wijk WHERE jaar = d.jaar AND code = d.code
) AS unit ON true
WHERE d.day > current_date - CAST(:days AS integer)
  AND EXISTS (SELECT 1 FROM service_area AS sa
              WHERE sa.partner_id = :partner_id AND ST_Intersects(sa.geom, ST_PointOnSurface(unit.geom)))
GROUP BY d.service
""")


def count_demand(conn: Connection, *, jaar: int, code: str, services: list[str], keep_days: int) -> None:
    """One more search for each service in this unit today; counts older than keep_days go."""
    conn.execute(_COUNT, {"jaar": jaar, "code": code, "services": services})
    conn.execute(_FORGET, {"days": keep_days})


def demand_in_partner_areas(session: Session, partner_id: int, *, days: int) -> dict[str, int]:
    """service -> searches of the last `days` days (today included) in units inside the partner's service areas."""
    rows = session.execute(_DEMAND, {"partner_id": partner_id, "days": days})
    return {row.service: row.n for row in rows}
