"""Partners, their service areas, and which partners serve a CBS area (with the covered share). Reads only."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ..models import AREA_MODELS, Gemeente, Partner, ServiceArea
from .common import SIMPLIFY_M, geojson_wgs84
from ..params import MAX_DB_ID

PARTNER_COLUMNS = ("id", "name", "kind", "services", "themes", "description", "website", "email", "phone", "source")
SHARE_DECIMALS = 4


def _partner_select(*extra):
    return select(*(getattr(Partner, name) for name in PARTNER_COLUMNS), *extra)


def _with_area_summaries(session: Session, partners: list[dict]) -> list[dict]:
    """Add each partner's service areas (id, name, definition_type) without their geometry."""
    ids = [p["id"] for p in partners]
    summaries: dict[int, list[dict]] = {i: [] for i in ids}
    if ids:
        rows = session.execute(
            select(ServiceArea.partner_id, ServiceArea.id, ServiceArea.name, ServiceArea.definition_type)
            .where(ServiceArea.partner_id.in_(ids)).order_by(ServiceArea.name, ServiceArea.id))
        for row in rows:
            summaries[row.partner_id].append(
                {"id": row.id, "name": row.name, "definition_type": row.definition_type})
    return [{**p, "service_areas": summaries[p["id"]]} for p in partners]


def list_partners(session: Session, *, services: tuple[str, ...] = (), kinds: tuple[str, ...] = (),
                  limit: int, offset: int) -> tuple[int, list[dict]]:
    """(number matched, one page ordered by name) of partners offering any of `services`, of any of `kinds`."""
    clauses = []
    if services:
        clauses.append(Partner.services.overlap(list(services)))
    if kinds:
        clauses.append(Partner.kind.in_(kinds))
    matched = session.scalar(select(func.count()).select_from(Partner).where(*clauses))
    rows = session.execute(
        _partner_select().where(*clauses).order_by(Partner.name, Partner.id).limit(limit).offset(offset))
    return matched, _with_area_summaries(session, [dict(r._mapping) for r in rows])


def get_partner(session: Session, partner_id: int) -> dict | None:
    if not 0 < partner_id <= MAX_DB_ID:
        return None
    row = session.execute(_partner_select().where(Partner.id == partner_id)).first()
    return _with_area_summaries(session, [dict(row._mapping)])[0] if row else None


def service_areas(session: Session, partner_id: int) -> list[dict]:
    """A partner's service areas with their WGS84 GeoJSON geometry text and area in m² (RD New)."""
    rows = session.execute(
        select(ServiceArea.id, ServiceArea.partner_id, ServiceArea.name, ServiceArea.definition_type,
               ServiceArea.definition, ServiceArea.cbs_jaar,
               func.round(func.ST_Area(ServiceArea.geom)).label("area_m2"),
               geojson_wgs84(ServiceArea.geom).label("geometry"))
        .where(ServiceArea.partner_id == partner_id).order_by(ServiceArea.name, ServiceArea.id))
    return [{**r._mapping, "area_m2": float(r.area_m2)} for r in rows]


def partners_covering(session: Session, level: str, jaar: int, code: str, *, min_share: float) -> list[dict]:
    """Partners whose service areas cover at least min_share of an area, with covered_share (0..1).

    covered_share = area(union of the partner's service areas ∩ area) / area; a union, so
    overlapping service areas of one partner are not counted twice.
    """
    model = AREA_MODELS[level]
    area = (select(model.geom, func.ST_Area(model.geom).label("size"))
            .where(model.jaar == jaar, model.code == code).cte("target"))
    covered = func.ST_Area(func.ST_Union(func.ST_Intersection(ServiceArea.geom, area.c.geom)))
    shares = (
        select(ServiceArea.partner_id, (covered / func.nullif(area.c.size, 0)).label("share"))
        .join(area, func.ST_Intersects(ServiceArea.geom, area.c.geom))
        .group_by(ServiceArea.partner_id, area.c.size)
        .subquery()
    )
    rows = session.execute(
        _partner_select(shares.c.share)
        .join(shares, shares.c.partner_id == Partner.id)
        .order_by(shares.c.share.desc(), Partner.name))
    found = []
    for row in rows:
        item = dict(row._mapping)
        share = min(max(float(item.pop("share") or 0.0), 0.0), 1.0)
        # Compare what is shown: a share of 0.99999999 is 1.0. A border touch (share 0) is never served.
        if share > 0 and round(share, SHARE_DECIMALS) >= min_share:
            found.append({**item, "covered_share": round(share, SHARE_DECIMALS)})
    return _with_area_summaries(session, found)


def service_areas_in_gemeente(session: Session, jaar: int, gemeente: str) -> list[dict]:
    """Every service area overlapping a gemeente (touching its border is not enough), whole, with its partner.

    The same rule as the gap summary's partners_active, so the partners on a gemeente's map are the
    partners it counts. Each dict: id, partner_id, partner_name, name, definition_type, cbs_jaar,
    area_m2 (RD New) and geometry (WGS84 GeoJSON text, simplified to 1 m); by partner name, then name.
    """
    target = (select(Gemeente.geom).where(Gemeente.jaar == jaar, Gemeente.code == gemeente)
              .scalar_subquery())
    rows = session.execute(
        select(ServiceArea.id, ServiceArea.partner_id, Partner.name.label("partner_name"), ServiceArea.name,
               ServiceArea.definition_type, ServiceArea.cbs_jaar,
               func.round(func.ST_Area(ServiceArea.geom)).label("area_m2"),
               geojson_wgs84(func.ST_Multi(func.ST_SimplifyPreserveTopology(ServiceArea.geom, SIMPLIFY_M)))
               .label("geometry"))
        .join(Partner, Partner.id == ServiceArea.partner_id)
        .where(func.ST_Intersects(ServiceArea.geom, target), ~func.ST_Touches(ServiceArea.geom, target))
        .order_by(Partner.name, ServiceArea.name, ServiceArea.id))
    return [{**r._mapping, "area_m2": float(r.area_m2)} for r in rows]



def partners_with_definitions(conn, *, skip_source: str | None = None) -> list[dict]:
    """Every partner (but those of skip_source) with the definitions of its service areas, by name: what
    the partner import reads back (no geometry: the import rebuilds it from the definitions)."""
    columns = [Partner.id, Partner.name, Partner.external_id, Partner.kind, Partner.services, Partner.themes,
               Partner.description, Partner.website, Partner.email, Partner.phone]
    query = select(*columns).order_by(Partner.name, Partner.id)
    if skip_source is not None:
        query = query.where(Partner.source != skip_source)
    partners = [{**row._mapping, "service_areas": []} for row in conn.execute(query)]
    by_id = {p["id"]: p for p in partners}
    rows = conn.execute(select(ServiceArea.partner_id, ServiceArea.name, ServiceArea.definition_type,
                               ServiceArea.definition).order_by(ServiceArea.name, ServiceArea.id))
    for row in rows:
        if row.partner_id in by_id:
            by_id[row.partner_id]["service_areas"].append(dict(row._mapping))
    return partners
