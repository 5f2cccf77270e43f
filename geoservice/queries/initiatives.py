"""Published initiatives: filtered pages, the nearest to a point, one by id, counts per area. Reads only."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from ..models import WGS84, Initiative
from ..params import MAX_DB_ID, BBox, LonLat
from .common import plan_each_page

PUBLISHED = Initiative.status == "published"
# The public fields, in the order the API and the CSV show them.
PUBLIC_COLUMNS = (
    "id", "name", "kind", "themes", "description", "website", "email", "phone", "address", "postcode",
    "location_precision", "last_verified", "gemeentecode", "wijkcode", "buurtcode", "source",
    "external_id", "updated_at",
)
COORD_DECIMALS = 7  # about 1 cm
# Where a lon/lat box can be projected to RD New safely (the projection breaks near its antipode).
RD_REACH = BBox(-20.0, 40.0, 30.0, 70.0)
METRES_PER_DEGREE = 111_400.0  # at most, along a meridian or a parallel
# Within RD_REACH, projected parallels and meridians curve with a radius of at least ~2,000 km.
MIN_EDGE_RADIUS_M = 2_000_000.0
# Search points farther from the Netherlands cannot have published initiatives within 50 km.
NEARBY_REACH = BBox(1.0, 49.5, 9.5, 55.0)
# RD New lengths are true lengths times RD's scale factor (0.99991 at Amersfoort, growing outward):
# within NEARBY_REACH an RD distance is at most 0.2 % longer and 0.05 % shorter than the true one,
# and within one 50 km search the true/RD ratio varies by less than 0.1 %.
RD_SCALE_MARGIN = 0.002
RD_SCALE_MIN_MARGIN = 0.0005
RD_SPREAD = 0.002  # twice the variation of the true/RD ratio within one search


@dataclass(frozen=True)
class InitiativeFilter:
    """What a list of initiatives is narrowed to; empty fields do not filter."""

    bbox: BBox | None = None
    kinds: tuple[str, ...] = ()
    themes: tuple[str, ...] = ()  # any of them
    gemeente: str | None = None
    wijk: str | None = None
    buurt: str | None = None
    text: str | None = None  # in name or description, case ignored


def _like_anywhere(text: str) -> str:
    """An ILIKE pattern for text anywhere; the text's own % and _ match literally."""
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def _bbox_params(box: BBox) -> dict | None:
    """The parameters of _LIST_FILTERS["bbox"] for a WGS84 box; None when no point can be in it.

    Points in the box are decided in RD (indexed) except near its edges. The box is densified before
    projecting: its edges (a parallel, a meridian) become curves in RD, and the chords stay within
    `edge_m` of them. Points clearly inside the projected box are in; only those near an edge get the
    exact test in WGS84 (a projection per point).
    """
    reach = BBox(max(box.minx, RD_REACH.minx), max(box.miny, RD_REACH.miny),
                 min(box.maxx, RD_REACH.maxx), min(box.maxy, RD_REACH.maxy))
    if reach.minx > reach.maxx or reach.miny > reach.maxy:
        return None
    # about 400 vertices at most; a chord of c metres lies within c²/8r of an arc of radius r
    segment = max(0.01, (reach.maxx - reach.minx) / 100, (reach.maxy - reach.miny) / 100)
    return {"rminx": reach.minx, "rminy": reach.miny, "rmaxx": reach.maxx, "rmaxy": reach.maxy,
            "segment": segment, "edge_m": 2.0 + (segment * METRES_PER_DEGREE) ** 2 / (8 * MIN_EDGE_RADIUS_M),
            "minx": box.minx, "miny": box.miny, "maxx": box.maxx, "maxy": box.maxy}


# The published initiatives that match a filter: fixed fragments, every value a bound parameter. One
# statement per combination of filters, made once: building the query with SQLAlchemy's expression
# language on every request took about as long as PostgreSQL took to answer it.
_BOX_RD = ("ST_Transform(ST_Segmentize(ST_MakeEnvelope(:rminx, :rminy, :rmaxx, :rmaxy, 4326), :segment), 28992)")
_LIST_FILTERS = {
    "bbox": (f" AND i.location && ST_Expand({_BOX_RD}, :edge_m)"
             f" AND (ST_Intersects(i.location, ST_Buffer({_BOX_RD}, -:edge_m))"
             " OR ST_Intersects(ST_Transform(i.location, 4326), ST_MakeEnvelope(:minx, :miny, :maxx, :maxy, 4326)))"),
    "nowhere": " AND false",
    "kinds": " AND i.kind = ANY(CAST(:kinds AS text[]))",
    "themes": " AND i.themes && CAST(:themes AS text[])",
    "gemeente": " AND i.gemeentecode = :gemeente",
    "wijk": " AND i.wijkcode = :wijk",
    "buurt": " AND i.buurtcode = :buurt",
    "text": " AND (i.name ILIKE :pattern ESCAPE '\\' OR i.description ILIKE :pattern ESCAPE '\\')",
}
_LIST = """
WITH matching AS (
    SELECT i.id FROM initiative AS i WHERE {where}
), page AS (
    SELECT id FROM matching ORDER BY id LIMIT :limit OFFSET :offset
)
SELECT {columns}, ST_X(ST_Transform(i.location, 4326)) AS lon, ST_Y(ST_Transform(i.location, 4326)) AS lat,
       (SELECT count(*) FROM matching) AS _matched
FROM initiative AS i JOIN page ON page.id = i.id
ORDER BY i.id"""
_COUNT = "SELECT count(*) FROM initiative AS i WHERE {where}"


@lru_cache(maxsize=None)
def _list_statements(filters: tuple[str, ...]):
    """(page statement, count statement) for the names of _LIST_FILTERS in use."""
    where = "i.status = 'published'" + "".join(_LIST_FILTERS[name] for name in filters)
    columns = ", ".join(f"i.{name}" for name in PUBLIC_COLUMNS)
    return text(_LIST.format(where=where, columns=columns)), text(_COUNT.format(where=where))


def _list_filters(flt: InitiativeFilter) -> tuple[tuple[str, ...], dict]:
    """The filter fragments flt needs, in a fixed order, and their parameters."""
    names, params = [], {}
    if flt.bbox is not None:
        box = _bbox_params(flt.bbox)
        names.append("bbox" if box else "nowhere")
        params.update(box or {})
    for name, value in (("kinds", list(flt.kinds)), ("themes", list(flt.themes)), ("gemeente", flt.gemeente),
                        ("wijk", flt.wijk), ("buurt", flt.buurt)):
        if value:
            names.append(name)
            params[name] = value
    if flt.text:
        names.append("text")
        params["pattern"] = _like_anywhere(flt.text)
    return tuple(names), params


def _public_select(*extra):
    location = func.ST_Transform(Initiative.location, WGS84)
    return select(*(getattr(Initiative, name) for name in PUBLIC_COLUMNS),
                  func.ST_X(location).label("lon"), func.ST_Y(location).label("lat"), *extra)


def _as_dict(row) -> dict:
    item = dict(row._mapping)
    item["lon"] = round(item["lon"], COORD_DECIMALS)
    item["lat"] = round(item["lat"], COORD_DECIMALS)
    return item


def list_initiatives(session: Session, flt: InitiativeFilter, *, limit: int, offset: int) -> tuple[int, list[dict]]:
    """(number matched, one page of them ordered by id) of the published initiatives matching flt."""
    names, params = _list_filters(flt)
    page_statement, count_statement = _list_statements(names)
    if flt.bbox is not None:
        plan_each_page(session)
    # Count and page in one round trip: the matching ids once (a CTE used twice is computed once).
    connection = session.connection()
    items = [_as_dict(row) for row in connection.execute(page_statement, {**params, "limit": limit, "offset": offset})]
    if not items:  # an empty page carries no count: zero, unless the page lies past the end
        return (connection.execute(count_statement, params).scalar() if offset else 0), []
    number_matched = items[0]["_matched"]
    for item in items:
        del item["_matched"]
    return number_matched, items


# One fixed statement (the filters are fixed fragments, every value a bound parameter): building it with
# SQLAlchemy's expression language on each call took longer than PostgreSQL took to answer it.
_NEARBY = """
WITH searched AS (
    SELECT ST_SetSRID(ST_MakePoint(:lon, :lat), 4326) AS wgs84,
           ST_Transform(ST_SetSRID(ST_MakePoint(:lon, :lat), 4326), 28992) AS rd
), candidates AS (
    SELECT i.id, i.location, ST_Distance(i.location, s.rd) AS rd
    FROM initiative AS i CROSS JOIN searched AS s
    WHERE i.status = 'published'{filters} AND ST_DWithin(i.location, s.rd, :reach_m)
), cut AS (
    SELECT coalesce((SELECT rd FROM candidates ORDER BY rd OFFSET :limit - 1 LIMIT 1),
                    CAST('Infinity' AS float8)) * (1 + :spread) + 0.01 AS order_cut
), exact AS (
    SELECT c.id, c.rd, ST_Distance(geography(ST_Transform(c.location, 4326)), geography(s.wgs84)) AS d
    FROM candidates AS c CROSS JOIN searched AS s CROSS JOIN cut
    WHERE c.rd <= cut.order_cut OR c.rd > :surely_inside
), nearest AS (
    SELECT e.id, e.d FROM exact AS e CROSS JOIN cut
    WHERE e.rd <= cut.order_cut AND e.d <= :radius_m
    ORDER BY e.d, e.id LIMIT :limit
)
SELECT {columns}, ST_X(ST_Transform(i.location, 4326)) AS lon, ST_Y(ST_Transform(i.location, 4326)) AS lat,
       n.d AS distance_m,
       (SELECT count(*) FROM candidates WHERE rd <= :surely_inside)
       + (SELECT count(*) FROM exact WHERE rd > :surely_inside AND d <= :radius_m) AS matched
FROM initiative AS i JOIN nearest AS n ON n.id = i.id
ORDER BY n.d, n.id"""
_NEARBY_FILTERS = {name: _LIST_FILTERS[name] for name in ("kinds", "themes")}
_NEARBY_STATEMENTS = {
    (kinds, themes): text(_NEARBY.format(
        columns=", ".join(f"i.{name}" for name in PUBLIC_COLUMNS),
        filters=(_NEARBY_FILTERS["kinds"] if kinds else "") + (_NEARBY_FILTERS["themes"] if themes else "")))
    for kinds in (False, True) for themes in (False, True)}


def nearby(session: Session, point: LonLat, *, radius_m: float, limit: int, offset: int = 0,
           kinds: tuple[str, ...] = (), themes: tuple[str, ...] = ()) -> tuple[int, list[dict]]:
    """(number within radius, the nearest `limit` of them after the nearest `offset`) with distance_m on the
    WGS84 ellipsoid.

    The exact (geodesic) distance is costly, so it is computed only where RD distances cannot
    decide: for candidates whose RD distance is within RD_SPREAD of the limit-th nearest (the
    order), and in the thin ring around the radius (the count). Nearer/farther ones are certain.
    """
    if not (NEARBY_REACH.minx <= point.lon <= NEARBY_REACH.maxx
            and NEARBY_REACH.miny <= point.lat <= NEARBY_REACH.maxy):
        return 0, []
    statement = _NEARBY_STATEMENTS[bool(kinds), bool(themes)]
    rows = session.connection().execute(statement, {
        "lon": point.lon, "lat": point.lat, "kinds": list(kinds), "themes": list(themes), "limit": limit + offset,
        "radius_m": radius_m, "reach_m": radius_m * (1 + RD_SCALE_MARGIN) + 1.0, "spread": RD_SPREAD,
        "surely_inside": radius_m * (1 - RD_SCALE_MIN_MARGIN)})
    items = [_as_dict(row) for row in rows]
    found = items[0]["matched"] if items else 0
    for item in items:
        del item["matched"]
    return found, items[offset:]


def get_initiative(session: Session, initiative_id: int) -> dict | None:
    """One published initiative, or None."""
    if not 0 < initiative_id <= MAX_DB_ID:
        return None
    row = session.execute(_public_select().where(PUBLISHED, Initiative.id == initiative_id)).first()
    return _as_dict(row) if row else None


def counts_in_area(session: Session, level: str, code: str) -> dict:
    """Published initiatives in a gemeente, wijk or buurt (by their derived codes): total, by kind, by theme."""
    column = {"gemeente": Initiative.gemeentecode, "wijk": Initiative.wijkcode, "buurt": Initiative.buurtcode}[level]
    where = (PUBLISHED, column == code)
    total = session.scalar(select(func.count()).select_from(Initiative).where(*where))
    by_kind = dict(session.execute(
        select(Initiative.kind, func.count()).where(*where).group_by(Initiative.kind)).all())
    themes = select(func.unnest(Initiative.themes).label("theme")).where(*where).subquery()
    by_theme = dict(session.execute(select(themes.c.theme, func.count()).group_by(themes.c.theme)).all())
    return {"total": total, "by_kind": by_kind, "by_theme": by_theme}
