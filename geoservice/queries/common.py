"""Output-edge helpers shared by the query modules."""

from __future__ import annotations

from sqlalchemy import func

from ..models import WGS84

POLYGON_DECIMALS = 6  # about 10 cm: enough for boundaries, half the bytes of full precision
SIMPLIFY_M = 1.0  # output geometry only: vertices within 1 m of a straight line are dropped


def geojson_wgs84(geom):
    """GeoJSON text of an RD geometry in WGS84, exterior rings counter-clockwise (RFC 7946)."""
    return func.ST_AsGeoJSON(func.ST_ForcePolygonCCW(func.ST_Transform(geom, WGS84)), POLYGON_DECIMALS)


def data_version(session) -> int:
    """The current data version (migration 0006): changes with every committed write of map data."""
    from sqlalchemy import text

    return int(session.execute(text("SELECT version FROM data_version")).scalar_one())
