"""Submissions and moderation: insert a submission, the moderator's lists, duplicate candidates, row updates.

No Flask here; callers own the transaction. Every initiative a moderator sees comes from `_item_select`:
all stored fields, WGS84 lon/lat, and the submitter's private contact (moderators only).
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import and_, func, insert, or_, select, text, update
from sqlalchemy.orm import Session

from ..models import RD_NEW, WGS84, Initiative, SubmissionContact
from ..params import MAX_DB_ID
from .areas import assign_initiative_areas
from .gaps import refresh_counts

COORD_DECIMALS = 7  # about 1 cm, as the public API
ITEM_COLUMNS = (
    "id", "source", "external_id", "name", "kind", "themes", "description", "website", "email", "phone",
    "address", "postcode", "location_precision", "status", "last_verified", "gemeentecode", "wijkcode",
    "buurtcode", "created_at", "updated_at",
)
# Only these ever change through moderation (the point goes separately, as lon/lat).
UPDATABLE = ("name", "kind", "themes", "description", "website", "email", "phone", "address", "postcode",
             "location_precision", "status", "last_verified")


def durable(session: Session) -> None:
    """Make this transaction's COMMIT wait for the WAL to reach disk, whatever the server's default.

    The embedded cluster runs with synchronous_commit = off; an acknowledged submission must survive a crash.
    """
    session.execute(text("SET LOCAL synchronous_commit = on"))


def _wgs84_point(lon: float, lat: float):
    return func.ST_Transform(func.ST_SetSRID(func.ST_MakePoint(lon, lat), WGS84), RD_NEW)


def insert_initiative(session: Session, values: dict, lon: float, lat: float) -> int:
    """A new initiative at WGS84 (lon, lat), its gemeente/wijk/buurt derived; returns its id."""
    new_id = session.execute(
        insert(Initiative).values(**values, location=_wgs84_point(lon, lat)).returning(Initiative.id)).scalar_one()
    assign_initiative_areas(session.connection(), [new_id])
    return new_id


def insert_contact(session: Session, initiative_id: int, *, name: str | None, email: str | None,
                   phone: str | None, client_hash: str | None) -> None:
    session.execute(insert(SubmissionContact).values(
        initiative_id=initiative_id, name=name, email=email, phone=phone, client_hash=client_hash))


def _item_select():
    location = func.ST_Transform(Initiative.location, WGS84)
    return (
        select(*(getattr(Initiative, name) for name in ITEM_COLUMNS),
               func.ST_X(location).label("lon"), func.ST_Y(location).label("lat"),
               SubmissionContact.name.label("contact_name"), SubmissionContact.email.label("contact_email"),
               SubmissionContact.phone.label("contact_phone"), SubmissionContact.submitted_at)
        .outerjoin(SubmissionContact, SubmissionContact.initiative_id == Initiative.id)
    )


def _as_item(row) -> dict:
    item = dict(row._mapping)
    item["lon"] = round(item["lon"], COORD_DECIMALS)
    item["lat"] = round(item["lat"], COORD_DECIMALS)
    return item


def get_item(session: Session, initiative_id: int, *, lock: bool = False) -> dict | None:
    """One initiative in any status with its private contact, or None; lock: FOR UPDATE until the commit."""
    if not 0 < initiative_id <= MAX_DB_ID:
        return None
    query = _item_select().where(Initiative.id == initiative_id)
    if lock:
        query = query.with_for_update(of=Initiative)
    row = session.execute(query).first()
    return _as_item(row) if row else None


def pending(session: Session, *, limit: int, offset: int) -> tuple[int, list[dict]]:
    """(number pending, one page of them): oldest submission first."""
    where = Initiative.status == "pending"
    matched = session.scalar(select(func.count()).select_from(Initiative).where(where))
    rows = session.execute(_item_select().where(where).order_by(Initiative.created_at, Initiative.id)
                           .limit(limit).offset(offset))
    return matched, [_as_item(row) for row in rows]


def stale(session: Session, cutoff: dt.date, *, limit: int, offset: int) -> tuple[int, list[dict]]:
    """(number stale, one page): published initiatives never verified or last verified before `cutoff`;
    never verified first, then the longest ago."""
    where = and_(Initiative.status == "published",
                 or_(Initiative.last_verified.is_(None), Initiative.last_verified < cutoff))
    matched = session.scalar(select(func.count()).select_from(Initiative).where(where))
    rows = session.execute(_item_select().where(where)
                           .order_by(Initiative.last_verified.asc().nulls_first(), Initiative.id)
                           .limit(limit).offset(offset))
    return matched, [_as_item(row) for row in rows]


_CANDIDATES_SQL = text("""
SELECT s.id AS for_id, o.id, o.name, o.status,
       ST_Distance(o.location, s.location) AS distance_m
FROM initiative AS s
JOIN initiative AS o
  ON o.id <> s.id AND o.status IN ('published', 'pending') AND ST_DWithin(o.location, s.location, :radius)
WHERE s.id = ANY(CAST(:ids AS integer[]))
ORDER BY s.id, distance_m, o.id
""")


def duplicate_candidates(session: Session, ids: list[int], radius_m: float) -> list[dict]:
    """Published or pending initiatives within radius_m (RD metres) of each of `ids`, nearest first:
    for_id, id, name, status, distance_m."""
    if not ids:
        return []
    rows = session.execute(_CANDIDATES_SQL, {"ids": list(ids), "radius": radius_m})
    return [dict(row._mapping) for row in rows]


def update_initiative(session: Session, initiative_id: int, values: dict,
                      point: tuple[float, float] | None = None) -> None:
    """Write changed columns (and a new WGS84 point, whose areas are then derived again); updated_at = now."""
    unknown = set(values) - set(UPDATABLE)
    if unknown:
        raise ValueError(f"not updatable: {sorted(unknown)}")
    changes = dict(values)
    if point is not None:
        changes["location"] = _wgs84_point(*point)
    session.execute(update(Initiative).where(Initiative.id == initiative_id)
                    .values(**changes, updated_at=func.now()))
    if point is not None:
        assign_initiative_areas(session.connection(), [initiative_id])
    # publishing, archiving or moving a published initiative changes the gap analysis' counts near it
    refresh_counts(session.connection())


def initiative_exists(session: Session, initiative_id: int) -> bool:
    if not 0 < initiative_id <= MAX_DB_ID:
        return False
    return session.scalar(select(func.count()).select_from(Initiative).where(Initiative.id == initiative_id)) > 0
