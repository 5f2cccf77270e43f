"""Every spatial select of the service. No Flask here: functions take a Session and plain values."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from .models import RD_NEW, WGS84, AREA_MODELS, Buurt, CbsJaar, Gemeente, Wijk
from .params import LonLat


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
