"""Reads and writes behind geoservice.partners.editing: a partner's profile, its service areas, CBS choices.

The service-area geometry itself is built and written by queries.service_areas (which also keeps the
gap analysis' stored coverage up to date); this module only reads it back.
"""

from __future__ import annotations

from sqlalchemy import case, func, select, update
from sqlalchemy.orm import Session

from ..models import Buurt, Gemeente, Partner, ServiceArea, Wijk
from ..params import MAX_DB_ID
from .common import geojson_wgs84

PROFILE_COLUMNS = ("name", "kind", "services", "themes", "description", "website", "email", "phone")
NOT_A_PLACE = ("GM0998",)  # "Buitenland": a CBS bookkeeping gemeente, nobody's service area


def _valid_id(value: int) -> bool:
    return 0 < value <= MAX_DB_ID  # larger numbers cannot be PostgreSQL integers


def partner_profile(session: Session, partner_id: int, *, lock: bool = False) -> dict | None:
    """The editable fields of a partner; with lock, the row stays locked until the transaction ends."""
    if not _valid_id(partner_id):
        return None
    query = select(*(getattr(Partner, name) for name in PROFILE_COLUMNS)).where(Partner.id == partner_id)
    row = session.execute(query.with_for_update() if lock else query).first()
    return None if row is None else {**row._mapping, "services": list(row.services or []),
                                     "themes": list(row.themes or [])}


def other_partner_names(session: Session, partner_id: int) -> list[str]:
    """The names of every other partner (to refuse a name that differs only in case or accents)."""
    return list(session.scalars(select(Partner.name).where(Partner.id != partner_id)))


def update_partner(session: Session, partner_id: int, values: dict) -> None:
    session.execute(update(Partner).where(Partner.id == partner_id).values(**values, updated_at=func.now()))


def service_area_names(session: Session, partner_id: int) -> list[str]:
    return list(session.scalars(select(ServiceArea.name).where(ServiceArea.partner_id == partner_id)))


def service_area_summary(session: Session, partner_id: int, area_id: int, *, lock: bool = False) -> dict | None:
    """One service area of this partner without its geometry (id, name, definition_type, definition,
    cbs_jaar, area_m2); None when the partner has no area with this id."""
    if not (_valid_id(partner_id) and _valid_id(area_id)):
        return None
    query = (select(ServiceArea.id, ServiceArea.name, ServiceArea.definition_type, ServiceArea.definition,
                    ServiceArea.cbs_jaar, func.round(func.ST_Area(ServiceArea.geom)).label("area_m2"))
             .where(ServiceArea.id == area_id, ServiceArea.partner_id == partner_id))
    row = session.execute(query.with_for_update(of=ServiceArea) if lock else query).first()
    return None if row is None else {**row._mapping, "area_m2": float(row.area_m2)}


def service_area_feature(session: Session, area_id: int) -> dict | None:
    """One service area as /api/v1/partners/<id>/service-areas lists it: its fields and WGS84 geometry text."""
    if not _valid_id(area_id):
        return None
    row = session.execute(
        select(ServiceArea.id, ServiceArea.partner_id, ServiceArea.name, ServiceArea.definition_type,
               ServiceArea.definition, ServiceArea.cbs_jaar,
               func.round(func.ST_Area(ServiceArea.geom)).label("area_m2"),
               geojson_wgs84(ServiceArea.geom).label("geometry"))
        .where(ServiceArea.id == area_id)).first()
    return None if row is None else {**row._mapping, "area_m2": float(row.area_m2)}


def gemeente_choices(session: Session, jaar: int) -> list[dict]:
    """Every gemeente of the year (code, naam), by name, to choose from."""
    rows = session.execute(select(Gemeente.code, Gemeente.naam)
                           .where(Gemeente.jaar == jaar, Gemeente.code.not_in(NOT_A_PLACE))
                           .order_by(func.coalesce(Gemeente.naam, Gemeente.code), Gemeente.code))
    return [dict(row._mapping) for row in rows]


def gemeente_parts(session: Session, jaar: int, gemeente: str) -> dict | None:
    """A gemeente with its wijken, each with its buurten (code, naam), by code; None when it does not exist."""
    naam = session.scalar(select(Gemeente.naam).where(Gemeente.jaar == jaar, Gemeente.code == gemeente))
    if naam is None and not session.scalar(
            select(func.count()).select_from(Gemeente).where(Gemeente.jaar == jaar, Gemeente.code == gemeente)):
        return None
    wijken = [{**row._mapping, "buurten": []} for row in session.execute(
        select(Wijk.code, Wijk.naam).where(Wijk.jaar == jaar, Wijk.gemeentecode == gemeente).order_by(Wijk.code))]
    by_code = {w["code"]: w for w in wijken}
    for row in session.execute(select(Buurt.code, Buurt.naam, Buurt.wijkcode)
                               .where(Buurt.jaar == jaar, Buurt.gemeentecode == gemeente).order_by(Buurt.code)):
        wijk = by_code.get(row.wijkcode)
        if wijk is not None:
            wijk["buurten"].append({"code": row.code, "naam": row.naam})
    return {"code": gemeente, "naam": naam, "wijken": wijken}


def service_area_list(session: Session, partner_id: int) -> list[dict]:
    """A partner's service areas for a table: id, name, definition_type, definition (None for GeoJSON, which
    can be large and is not shown), cbs_jaar, area_m2; by name."""
    definition = case((ServiceArea.definition_type == "geojson", None), else_=ServiceArea.definition)
    rows = session.execute(
        select(ServiceArea.id, ServiceArea.name, ServiceArea.definition_type, definition.label("definition"),
               ServiceArea.cbs_jaar, func.ST_Area(ServiceArea.geom).label("area_m2"))
        .where(ServiceArea.partner_id == partner_id).order_by(ServiceArea.name, ServiceArea.id))
    return [{**row._mapping, "area_m2": float(row.area_m2)} for row in rows]
