"""Reads for the OGC API collections: pages of features, single features and spatial extents."""

from __future__ import annotations

import json
from dataclasses import dataclass

from geoalchemy2 import Geometry
from sqlalchemy import Select, cast, false, func, literal, select, text
from sqlalchemy.orm import Session

from ..models import RD_NEW, WGS84, Buurt, Gemeente, Initiative, Partner, ServiceArea, Wijk
from ..params import BBox
from .areas import active_year
from .common import plan_each_page

# 6 decimals of a degree is about 10 cm: finer than any source geometry, half the bytes of full precision.
GEOJSON_DECIMALS = 6
# Where EPSG:28992 makes sense, with a wide margin. A bbox is clipped to it before it is projected
# to RD: RD New is a stereographic projection and far-away corners (the antipode) do not transform.
RD_WINDOW = (-2.0, 47.0, 13.0, 57.0)
# A bbox edge is a straight line in lon/lat but a curve in RD: cut it into this many pieces per side
# so the projected box follows the true edge to within centimetres for a city, metres for a country.
BBOX_SEGMENTS = 64


@dataclass(frozen=True)
class Feature:
    id: int | str
    geometry: dict | None
    properties: dict


@dataclass(frozen=True)
class Page:
    number_matched: int
    features: list[Feature]


@dataclass(frozen=True)
class _Source:
    """The statement behind a collection, plus its geometry and feature-id columns."""

    stmt: Select
    geom: object
    fid: object


def _area_source(model, jaar: int | None) -> _Source:
    parents = {Gemeente: [], Wijk: [Wijk.gemeentecode], Buurt: [Buurt.wijkcode, Buurt.gemeentecode]}[model]
    columns = [
        model.code, model.naam, *parents, model.jaar, model.aantal_inwoners, model.aantal_huishoudens,
        model.pct_0_15, model.pct_65plus, model.bevolkingsdichtheid, model.oppervlakte_land_ha, model.water,
    ]
    where = model.jaar == jaar if jaar is not None else false()
    return _Source(select(*columns).where(where).order_by(model.code), model.geom, model.code)


def _initiative_source() -> _Source:
    i = Initiative
    stmt = (
        select(i.id, i.name, i.kind, i.themes, i.description, i.website, i.address, i.postcode,
               i.gemeentecode, i.wijkcode, i.buurtcode, i.last_verified, i.location_precision)
        # Only published initiatives are public; pending and archived ones never leave the database here.
        .where(i.status == "published")
        .order_by(i.id)
    )
    return _Source(stmt, i.location, i.id)


def _service_area_source() -> _Source:
    s = ServiceArea
    stmt = (
        select(s.id, s.partner_id, Partner.name.label("partner_name"), Partner.services.label("partner_services"),
               Partner.themes.label("partner_themes"), s.name, s.definition_type)
        .join(Partner, Partner.id == s.partner_id)
        .order_by(s.id)
    )
    return _Source(stmt, s.geom, s.id)


def _source(collection_id: str, session: Session) -> _Source:
    if collection_id == "initiatives":
        return _initiative_source()
    if collection_id == "service_areas":
        return _service_area_source()
    model = {"gemeenten": Gemeente, "wijken": Wijk, "buurten": Buurt}[collection_id]
    return _area_source(model, active_year(session))


def _bbox_rd(bbox: BBox):
    """The WGS84 box as an RD geometry whose edges follow the lon/lat lines, or None if it misses RD."""
    minx, miny = max(bbox.minx, RD_WINDOW[0]), max(bbox.miny, RD_WINDOW[1])
    maxx, maxy = min(bbox.maxx, RD_WINDOW[2]), min(bbox.maxy, RD_WINDOW[3])
    if minx > maxx or miny > maxy:
        return None
    if minx == maxx or miny == maxy:
        # A box without area is a point or a line: a degenerate polygon would be invalid.
        shape = func.ST_MakeLine(func.ST_MakePoint(minx, miny), func.ST_MakePoint(maxx, maxy))
        if minx == maxx and miny == maxy:
            shape = func.ST_MakePoint(minx, miny)
    else:
        shape = func.ST_MakeEnvelope(minx, miny, maxx, maxy)
    step = max(maxx - minx, maxy - miny) / BBOX_SEGMENTS
    if step > 0:
        shape = func.ST_Segmentize(shape, step)
    return func.ST_Transform(func.ST_SetSRID(shape, WGS84), RD_NEW)


def _geojson(geom):
    return func.ST_AsGeoJSON(func.ST_Transform(geom, WGS84), GEOJSON_DECIMALS).label("_geometry")


def _feature(row) -> Feature:
    values = dict(row._mapping)
    geometry = values.pop("_geometry")
    fid = values.pop("_fid")
    properties = {k: (v.isoformat() if hasattr(v, "isoformat") else v) for k, v in values.items()}
    return Feature(fid, json.loads(geometry) if geometry else None, properties)


def items(session: Session, collection_id: str, *, bbox: BBox | None, limit: int, offset: int) -> Page:
    """One page of a collection in a stable order, and how many features match in all."""
    source = _source(collection_id, session)
    stmt = source.stmt
    if bbox is not None:
        box = _bbox_rd(bbox)
        stmt = stmt.where(false() if box is None else func.ST_Intersects(source.geom, box))
    matching = stmt.order_by(None).with_only_columns(literal(1), maintain_column_froms=True).subquery()
    matched = session.scalar(select(func.count()).select_from(matching))
    page = stmt.add_columns(source.fid.label("_fid"), _geojson(source.geom)).limit(limit).offset(offset)
    return Page(matched, [_feature(row) for row in session.execute(page)])


@dataclass(frozen=True)
class JsonPage:
    """A page whose features are already GeoJSON text: `features` is their comma-separated list."""

    number_matched: int
    number_returned: int
    features: str


# The published initiatives' page as JSON made by PostgreSQL, count and page in one round trip. Building
# ~100 features in Python (rows, dicts, json.loads of every geometry, json.dumps) cost more than the query.
# row_to_json writes compact JSON ({"a":1}) with the same escapes as Python's json module with
# ensure_ascii=False, dates as ISO 8601 text, arrays as lists: the bytes of the generic path (tested).
# The matching CTE is referenced twice, so PostgreSQL computes it once.
_INITIATIVE_PROPERTIES = ("i.id, i.name, i.kind, i.themes, i.description, i.website, i.address, i.postcode, "
                          "i.gemeentecode, i.wijkcode, i.buurtcode, i.last_verified, i.location_precision")
_INITIATIVE_PAGE = """
WITH matching AS (
    SELECT i.id FROM initiative i WHERE i.status = 'published' {where}
), page AS (
    SELECT id FROM matching ORDER BY id LIMIT :limit OFFSET :offset
)
SELECT (SELECT count(*) FROM matching) AS matched,
       (SELECT count(*) FROM page) AS returned,
       (SELECT string_agg(row_to_json(f)::text, ',' ORDER BY f.id) FROM (
            SELECT 'Feature' AS type, i.id,
                   ST_AsGeoJSON(ST_Transform(i.location, 4326), {decimals})::json AS geometry,
                   (SELECT row_to_json(p) FROM (SELECT {properties}) p) AS properties
            FROM page JOIN initiative i ON i.id = page.id) f) AS features
"""
_IN_BBOX = ("AND ST_Intersects(i.location, ST_Transform(ST_SetSRID(ST_Segmentize("
            "ST_MakeEnvelope(:minx, :miny, :maxx, :maxy), :step), 4326), 28992))")
_INITIATIVE_PAGE_ALL = text(_INITIATIVE_PAGE.format(where="", properties=_INITIATIVE_PROPERTIES,
                                                       decimals=GEOJSON_DECIMALS))
_INITIATIVE_PAGE_BBOX = text(_INITIATIVE_PAGE.format(where=_IN_BBOX, properties=_INITIATIVE_PROPERTIES,
                                                        decimals=GEOJSON_DECIMALS))


# One published initiative as the Feature JSON of item() (without links), made by PostgreSQL in one statement.
# In the driver's (psycopg's) own placeholder style: see initiative_item_json.
_INITIATIVE_ITEM = f"""
SELECT row_to_json(f)::text FROM (
    SELECT 'Feature' AS type, i.id, ST_AsGeoJSON(ST_Transform(i.location, 4326), {GEOJSON_DECIMALS})::json AS geometry,
           (SELECT row_to_json(p) FROM (SELECT {_INITIATIVE_PROPERTIES}) p) AS properties
    FROM initiative i WHERE i.id = %(id)s AND i.status = 'published') f"""


def initiative_item_json(conn, initiative_id: int) -> str | None:
    """item() of the initiatives as GeoJSON Feature text (the same bytes), or None when there is no such one.

    The service's most frequent statement (one per item) goes to psycopg directly: SQLAlchemy's execution
    context around it cost a third of the statement's own time in the process (bench/peer.py --peer tipg).
    Errors are psycopg's own, which the app maps as it maps SQLAlchemy's (api/errors.py); a broken connection
    is dropped by the pool when it is returned (its reset fails) or pinged after idle (db.read_connection).
    """
    row = conn.connection.driver_connection.execute(_INITIATIVE_ITEM, {"id": initiative_id}).fetchone()
    return None if row is None else row[0]


def initiative_page_json(session: Session, *, bbox: BBox | None, limit: int, offset: int) -> JsonPage | None:
    """items() of the initiatives as GeoJSON text, or None for a bbox this path does not take (use items())."""
    params = {"limit": limit, "offset": offset}
    stmt = _INITIATIVE_PAGE_ALL
    if bbox is not None:
        minx, miny = max(bbox.minx, RD_WINDOW[0]), max(bbox.miny, RD_WINDOW[1])
        maxx, maxy = min(bbox.maxx, RD_WINDOW[2]), min(bbox.maxy, RD_WINDOW[3])
        if minx >= maxx or miny >= maxy:  # outside RD, or without area: the generic path's special cases
            return None
        stmt = _INITIATIVE_PAGE_BBOX
        params.update(minx=minx, miny=miny, maxx=maxx, maxy=maxy,
                      step=max(maxx - minx, maxy - miny) / BBOX_SEGMENTS)
        plan_each_page(session)
    conn = session.connection() if isinstance(session, Session) else session
    matched, returned, features = conn.execute(stmt, params).one()
    return JsonPage(matched, returned, features or "")


def item(session: Session, collection_id: str, feature_id: int | str) -> Feature | None:
    """One feature by its id (a CBS code or a database id), or None."""
    source = _source(collection_id, session)
    stmt = source.stmt.where(source.fid == feature_id).add_columns(source.fid.label("_fid"), _geojson(source.geom))
    row = session.execute(stmt).first()
    return _feature(row) if row else None


def extent(session: Session, collection_id: str) -> tuple[float, float, float, float] | None:
    """The collection's bounding box in CRS84 (lon/lat), or None when it has no features."""
    source = _source(collection_id, session)
    rd_box = (source.stmt.order_by(None)
              .with_only_columns(func.ST_Extent(source.geom).label("box"), maintain_column_froms=True)
              .subquery())
    # Transform the RD box's outline, densified to 1 km pieces, rather than every vertex of every
    # feature: one small polygon instead of thousands of full-resolution boundaries.
    outline = func.ST_Transform(func.ST_Segmentize(func.ST_SetSRID(cast(rd_box.c.box, Geometry), RD_NEW), 1000),
                                WGS84)
    row = session.execute(select(func.ST_XMin(outline), func.ST_YMin(outline),
                                 func.ST_XMax(outline), func.ST_YMax(outline)).select_from(rd_box)).one()
    return None if row[0] is None else tuple(float(v) for v in row)
