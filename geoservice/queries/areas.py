"""CBS areas: the active year, counts, and which gemeente, wijk and buurt contain a point."""

from __future__ import annotations

import math

from sqlalchemy import Connection, func, select, text
from sqlalchemy.orm import Session

from ..models import RD_NEW, WGS84, AREA_MODELS, Buurt, CbsJaar, Gemeente, Wijk
from ..params import LonLat
from .common import geojson_wgs84


def active_year(session: Session) -> int | None:
    return session.scalar(select(CbsJaar.jaar).where(CbsJaar.is_active))


def area_counts(session: Session, jaar: int) -> dict[str, int]:
    return {
        level: session.scalar(select(func.count()).select_from(model).where(model.jaar == jaar))
        for level, model in AREA_MODELS.items()
    }


def _rd_point(point: LonLat):
    return func.ST_Transform(func.ST_SetSRID(func.ST_MakePoint(point.lon, point.lat), WGS84), RD_NEW)


def _containing(session: Session, model, jaar: int, point: LonLat):
    # ST_Intersects so a point exactly on a shared boundary still finds an area;
    # ordering by code makes that choice deterministic.
    return session.scalars(
        select(model)
        .where(model.jaar == jaar, func.ST_Intersects(model.geom, _rd_point(point)))
        .order_by(model.code)
        .limit(1)
    ).first()


def lookup_point(session: Session, point: LonLat, jaar: int) -> dict[str, object | None]:
    """The gemeente, wijk and buurt containing a point.

    Buurten are the finest (often full-resolution) level, so once a buurt is found its
    own parent codes decide the wijk and gemeente; the generalised national layers are
    only searched geometrically where no finer level answers.
    """
    buurt = _containing(session, Buurt, jaar, point)
    wijk = session.get(Wijk, (jaar, buurt.wijkcode)) if buurt else None
    if wijk is None:
        wijk = _containing(session, Wijk, jaar, point)
    gemeentecode = buurt.gemeentecode if buurt else wijk.gemeentecode if wijk else None
    gemeente = session.get(Gemeente, (jaar, gemeentecode)) if gemeentecode else None
    if gemeente is None:
        gemeente = _containing(session, Gemeente, jaar, point)
    return {"gemeente": gemeente, "wijk": wijk, "buurt": buurt}


# The areas of a point (the SQL expression {point}, RD New) in year :jaar, shared by every writer: the buurt that
# contains it decides its wijk and gemeente; the wijk and gemeente layers answer only where no buurt does.
AREA_LATERALS = """
    LEFT JOIN LATERAL (
        SELECT code, wijkcode, gemeentecode FROM buurt
        WHERE jaar = :jaar AND ST_Intersects(geom, {point}) ORDER BY code LIMIT 1) AS b ON true
    LEFT JOIN LATERAL (
        SELECT code, gemeentecode FROM wijk
        WHERE b.code IS NULL AND jaar = :jaar AND ST_Intersects(geom, {point}) ORDER BY code LIMIT 1) AS w ON true
    LEFT JOIN LATERAL (
        SELECT code FROM gemeente
        WHERE b.code IS NULL AND w.code IS NULL AND jaar = :jaar AND ST_Intersects(geom, {point})
        ORDER BY code LIMIT 1) AS g ON true"""
AREA_CODES = ("b.code AS buurtcode, coalesce(b.wijkcode, w.code) AS wijkcode, "
              "coalesce(b.gemeentecode, w.gemeentecode, g.code) AS gemeentecode")

_ASSIGN_SQL = text(f"""
UPDATE initiative AS i
SET buurtcode = a.buurtcode, wijkcode = a.wijkcode, gemeentecode = a.gemeentecode, areas_jaar = :jaar
FROM (
    SELECT i2.id, {AREA_CODES}
    FROM initiative AS i2
    {AREA_LATERALS.format(point="i2.location")}
    WHERE CAST(:ids AS integer[]) IS NULL OR i2.id = ANY(CAST(:ids AS integer[]))
) AS a
WHERE a.id = i.id
""")


def assign_initiative_areas(conn: Connection, ids: list[int] | None = None) -> int:
    """Set gemeente/wijk/buurt codes of initiatives (all, or those ids) from the active CBS year.

    Same rule as lookup_point: the buurt that contains the point decides its wijk and
    gemeente; the wijk and gemeente layers answer only where no buurt does.
    """
    jaar = conn.execute(select(CbsJaar.jaar).where(CbsJaar.is_active)).scalar()
    if jaar is None:
        return 0
    return conn.execute(_ASSIGN_SQL, {"jaar": jaar, "ids": ids}).rowcount


def get_area(session: Session, level: str, jaar: int, code: str) -> dict | None:
    """A gemeente, wijk or buurt of one year: all its columns and its WGS84 GeoJSON geometry text."""
    model = AREA_MODELS[level]
    columns = [c for c in model.__table__.columns if c.name not in ("geom", "geom_web_mercator")]
    row = session.execute(
        select(*columns, geojson_wgs84(model.geom).label("geometry"))
        .where(model.jaar == jaar, model.code == code)).first()
    return dict(row._mapping) if row else None


def area_names(session: Session, jaar: int, codes: dict[str, str | None]) -> dict[str, str | None]:
    """The names of areas of one year, e.g. {"buurt": code, "wijk": code} -> {"buurt": naam, "wijk": naam}.

    A level whose code is None or not in that year's map gets None.
    """
    names: dict[str, str | None] = {}
    for level, code in codes.items():
        model = AREA_MODELS[level]
        names[level] = None if code is None else session.scalar(
            select(model.naam).where(model.jaar == jaar, model.code == code))
    return names


_UNITS_NEAR_PARTNER = text("""
WITH partner_area AS (SELECT ST_Union(geom) AS geom FROM service_area WHERE partner_id = :partner),
units AS (
    SELECT s.code, coalesce(b.geom, w.geom) AS geom
    FROM unnest(CAST(:codes AS text[]), CAST(:levels AS text[])) AS s(code, level)
    LEFT JOIN buurt AS b ON s.level = 'buurt' AND b.jaar = :jaar AND b.code = s.code
    LEFT JOIN wijk AS w ON s.level = 'wijk' AND w.jaar = :jaar AND w.code = s.code
)
SELECT u.code,
       CASE WHEN ST_Intersects(u.geom, p.geom)
            THEN ST_Area(ST_Intersection(u.geom, p.geom)) / nullif(ST_Area(u.geom), 0) ELSE 0 END AS share,
       ST_Distance(u.geom, p.geom) AS distance_m
FROM units AS u CROSS JOIN partner_area AS p
WHERE u.geom IS NOT NULL AND p.geom IS NOT NULL
""")


def units_and_partner_areas(conn, partner_id: int, jaar: int, units: list[tuple[str, str]]) -> dict[str, dict]:
    """Per (code, level) unit of one year: the share (0..1) inside a partner's service areas and the distance to them.

    {code: {"share": float, "distance_m": float}}; metres and areas in RD New. Units missing from
    that year's map, or a partner without service areas, give no entry.
    """
    if not units:
        return {}
    rows = conn.execute(_UNITS_NEAR_PARTNER, {
        "partner": partner_id, "jaar": jaar,
        "codes": [code for code, _ in units], "levels": [level for _, level in units]})
    return {row.code: {"share": min(max(float(row.share or 0.0), 0.0), 1.0), "distance_m": float(row.distance_m)}
            for row in rows}


# --- gemeente outlines for maps -------------------------------------------------------------------

# Metres per pixel of a 256-pixel web-map tile at zoom 0 on the equator (Web Mercator).
EQUATOR_M_PER_PIXEL = 156_543.034
MAP_LATITUDE = 52.0  # the Netherlands: a pixel covers cos(52°) of its equatorial size
METRES_PER_DEGREE_LAT = 111_320.0


def zoom_tolerance_m(zoom: int) -> float:
    """Half a screen pixel at this web-map zoom at 52°N, in metres (RD New metres are ground metres here)."""
    return EQUATOR_M_PER_PIXEL * math.cos(math.radians(MAP_LATITUDE)) / 2 ** zoom / 2


def tolerance_decimals(tolerance_m: float) -> int:
    """Decimals of WGS84 degrees worth writing for a geometry simplified to tolerance_m (2 to 6)."""
    # one decimal more than the tolerance needs: rounding then moves a vertex by at most 1/20 of the tolerance
    return max(2, min(6, math.ceil(math.log10(METRES_PER_DEGREE_LAT / tolerance_m)) + 1))


def gemeente_outlines(session: Session, jaar: int, *, tolerance_m: float,
                      code: str | None = None) -> dict[str, str]:
    """Per gemeente code (all of a year, or one): its outline simplified to tolerance_m, WGS84 GeoJSON text.

    ST_SimplifyPreserveTopology keeps every part (a gemeente never vanishes at a low zoom). Coordinates
    get only the decimals the tolerance warrants (tolerance_decimals): ST_ReducePrecision snaps them to
    that grid and keeps the polygons valid, dropping a sliver that would collapse rather than writing a
    self-intersecting or inside-out ring. It needs valid input, hence ST_MakeValid first.
    """
    decimals = tolerance_decimals(tolerance_m)
    simplified = func.ST_Transform(func.ST_SimplifyPreserveTopology(Gemeente.geom, tolerance_m), WGS84)
    valid = func.ST_CollectionExtract(func.ST_MakeValid(simplified), 3)
    snapped = func.ST_Multi(func.ST_CollectionExtract(func.ST_ReducePrecision(valid, 10.0 ** -decimals), 3))
    geometry = func.ST_AsGeoJSON(func.ST_ForcePolygonCCW(snapped), decimals)
    query = select(Gemeente.code, geometry.label("geometry")).where(Gemeente.jaar == jaar)
    if code is not None:
        query = query.where(Gemeente.code == code)
    return {row.code: row.geometry for row in session.execute(query.order_by(Gemeente.code))}


def gemeente_code_by_name(session: Session, jaar: int, naam: str) -> str | None:
    """The code of the gemeente of a year with this name (case and surrounding space ignored), or None."""
    return session.scalar(select(Gemeente.code).where(
        Gemeente.jaar == jaar, func.lower(Gemeente.naam) == naam.strip().lower()).order_by(Gemeente.code).limit(1))


def gemeente_bounds(session: Session, jaar: int, code: str) -> tuple[float, float, float, float] | None:
    """(min_lon, min_lat, max_lon, max_lat) of a gemeente in WGS84, or None when there is no such gemeente."""
    box = func.ST_Transform(func.ST_Envelope(Gemeente.geom), WGS84)
    row = session.execute(select(func.ST_XMin(box), func.ST_YMin(box), func.ST_XMax(box), func.ST_YMax(box))
                          .where(Gemeente.jaar == jaar, Gemeente.code == code)).first()
    return None if row is None else tuple(float(v) for v in row)
