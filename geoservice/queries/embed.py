"""What the embeddable map lists: published initiatives of a gemeente, or in a partner's service areas."""

from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.orm import Session

from .initiatives import PUBLIC_COLUMNS, _as_dict

_COLUMNS = ", ".join(f"i.{name}" for name in PUBLIC_COLUMNS)
_IN_GEMEENTE = f"""
SELECT {_COLUMNS}, ST_X(ST_Transform(i.location, 4326)) AS lon, ST_Y(ST_Transform(i.location, 4326)) AS lat
FROM initiative AS i
WHERE i.status = 'published' AND i.gemeentecode = :gemeente
ORDER BY i.name, i.id LIMIT :limit"""
_IN_PARTNER_AREAS = f"""
SELECT {_COLUMNS}, ST_X(ST_Transform(i.location, 4326)) AS lon, ST_Y(ST_Transform(i.location, 4326)) AS lat
FROM initiative AS i
WHERE i.status = 'published'
  AND EXISTS (SELECT 1 FROM service_area AS sa WHERE sa.partner_id = :partner_id AND ST_Intersects(sa.geom, i.location))
ORDER BY i.name, i.id LIMIT :limit"""
_COUNT = "SELECT count(*) FROM ({query}) AS q"
_PARTNER_BOUNDS = """
SELECT ST_XMin(b), ST_YMin(b), ST_XMax(b), ST_YMax(b)
FROM (SELECT ST_Transform(ST_SetSRID(ST_Extent(geom), 28992), 4326) AS b FROM service_area
      WHERE partner_id = :partner_id) AS e WHERE b IS NOT NULL"""


def in_gemeente(session: Session, gemeente: str, *, limit: int) -> list[dict]:
    rows = session.connection().execute(text(_IN_GEMEENTE), {"gemeente": gemeente, "limit": limit})
    return [_as_dict(row) for row in rows]


def in_partner_areas(session: Session, partner_id: int, *, limit: int) -> list[dict]:
    rows = session.connection().execute(text(_IN_PARTNER_AREAS), {"partner_id": partner_id, "limit": limit})
    return [_as_dict(row) for row in rows]


def partner_bounds(session: Session, partner_id: int) -> tuple[float, float, float, float] | None:
    """(min_lon, min_lat, max_lon, max_lat) of a partner's service areas; None without any."""
    row = session.connection().execute(text(_PARTNER_BOUNDS), {"partner_id": partner_id}).first()
    return tuple(row) if row else None
