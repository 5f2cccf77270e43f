"""CBS areas: the active year, counts, and which gemeente, wijk and buurt contain a point."""

from __future__ import annotations

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


_ASSIGN_SQL = text("""
UPDATE initiative AS i
SET buurtcode = a.buurtcode, wijkcode = a.wijkcode, gemeentecode = a.gemeentecode, areas_jaar = :jaar
FROM (
    SELECT i2.id,
           b.code AS buurtcode,
           coalesce(b.wijkcode, w.code) AS wijkcode,
           coalesce(b.gemeentecode, w.gemeentecode, g.code) AS gemeentecode
    FROM initiative AS i2
    LEFT JOIN LATERAL (
        SELECT code, wijkcode, gemeentecode FROM buurt
        WHERE jaar = :jaar AND ST_Intersects(geom, i2.location) ORDER BY code LIMIT 1) AS b ON true
    LEFT JOIN LATERAL (
        SELECT code, gemeentecode FROM wijk
        WHERE b.code IS NULL AND jaar = :jaar AND ST_Intersects(geom, i2.location) ORDER BY code LIMIT 1) AS w ON true
    LEFT JOIN LATERAL (
        SELECT code FROM gemeente
        WHERE b.code IS NULL AND w.code IS NULL AND jaar = :jaar AND ST_Intersects(geom, i2.location)
        ORDER BY code LIMIT 1) AS g ON true
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
    columns = [c for c in model.__table__.columns if c.name != "geom"]
    row = session.execute(
        select(*columns, geojson_wgs84(model.geom).label("geometry"))
        .where(model.jaar == jaar, model.code == code)).first()
    return dict(row._mapping) if row else None
