"""Output-edge helpers shared by the query modules."""

from __future__ import annotations

from sqlalchemy import func

from ..models import WGS84

POLYGON_DECIMALS = 6  # about 10 cm: enough for boundaries, half the bytes of full precision
SIMPLIFY_M = 1.0  # output geometry only: vertices within 1 m of a straight line are dropped


def geojson_wgs84(geom):
    """GeoJSON text of an RD geometry in WGS84, exterior rings counter-clockwise (RFC 7946)."""
    return func.ST_AsGeoJSON(func.ST_ForcePolygonCCW(func.ST_Transform(geom, WGS84)), POLYGON_DECIMALS)


def data_version(session) -> str:
    """The current data version (migration 0006) as a token: changes with every committed write of map data.

    The version number with the moment it was bumped: a restore brings back an older number, and the
    writes after it count up through numbers used before; their moments are new, so no token repeats
    for other data (ETags and cached tables stay right across a restore).
    """
    from sqlalchemy import text

    return session.execute(text(
        "SELECT version || '.' || CAST(floor(extract(epoch FROM changed_at) * 1000000) AS bigint) "
        "FROM data_version")).scalar_one()


def plan_each_page(session) -> None:
    """For the rest of this transaction (the request's): a plan made for these parameters, and no parallel query.

    psycopg prepares a statement on its 5th run, and PostgreSQL then soon switches to a generic plan, which
    for a bbox page has no idea how many rows the box holds: 30 ms instead of 2.5 ms (bench/peer.py). And a
    page matches a few thousand rows at most, yet PostGIS's high ST_Intersects cost estimate makes the planner
    start a parallel worker, whose start-up took ~20 ms of a 5 ms query here. One round trip for both.
    """
    from sqlalchemy import Connection, text

    conn = session if isinstance(session, Connection) else session.connection()
    if conn.connection.driver_connection.autocommit:
        return  # a connection of db.read_connection(): made with these settings, and no transaction to set them in
    conn.execute(text(
        "SELECT set_config('plan_cache_mode', 'force_custom_plan', true), "
        "set_config('max_parallel_workers_per_gather', '0', true)"))
