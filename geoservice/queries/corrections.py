"""Corrections ("Klopt er iets niet?") and how long private contact details are kept. No Flask; callers commit."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import delete, func, insert, or_, select, update
from sqlalchemy.orm import Session

from ..models import Correction, Initiative, SubmissionContact


def insert_correction(session: Session, *, initiative_id: int | None, message: str, contact_name: str | None,
                      contact_email: str | None, client_hash: str | None) -> int:
    return session.execute(insert(Correction).values(
        initiative_id=initiative_id, message=message, contact_name=contact_name, contact_email=contact_email,
        client_hash=client_hash).returning(Correction.id)).scalar_one()


def _select():
    return (select(Correction.id, Correction.initiative_id, Correction.message, Correction.contact_name,
                   Correction.contact_email, Correction.status, Correction.created_at, Correction.decided_at,
                   Initiative.name.label("initiative_name"))
            .outerjoin(Initiative, Initiative.id == Correction.initiative_id))


def open_corrections(session: Session, *, limit: int, initiative_id: int | None = None) -> tuple[int, list[dict]]:
    """(number open, the oldest `limit` of them), of one initiative when given."""
    where = [Correction.status == "open"]
    if initiative_id is not None:
        where.append(Correction.initiative_id == initiative_id)
    matched = session.scalar(select(func.count()).select_from(Correction).where(*where))
    rows = session.execute(_select().where(*where).order_by(Correction.created_at, Correction.id).limit(limit))
    return matched, [dict(row._mapping) for row in rows]


def get_correction(session: Session, correction_id: int, *, lock: bool = False) -> dict | None:
    query = _select().where(Correction.id == correction_id)
    if lock:
        query = query.with_for_update(of=Correction)
    row = session.execute(query).first()
    return dict(row._mapping) if row else None


def decide(session: Session, correction_id: int, status: str, user_id: int) -> None:
    session.execute(update(Correction).where(Correction.id == correction_id)
                    .values(status=status, decided_at=func.now(), decided_by=user_id))


def forget_old_contacts(session: Session, before: dt.datetime) -> int:
    """Remove private contact details that are no longer needed (the privacy statement promises it):
    a submitter's contact once the submission was decided (not pending) and submitted before `before`, and a
    reporter's name and e-mail once the correction was decided before `before`. Returns the rows touched."""
    decided = select(Initiative.id).where(Initiative.status != "pending")
    gone = session.execute(delete(SubmissionContact).where(
        SubmissionContact.submitted_at < before, SubmissionContact.initiative_id.in_(decided))).rowcount
    gone += session.execute(update(Correction).where(
        Correction.status != "open", Correction.decided_at < before,
        or_(Correction.contact_name.is_not(None), Correction.contact_email.is_not(None),
            Correction.client_hash.is_not(None)))
        .values(contact_name=None, contact_email=None, client_hash=None)).rowcount
    return gone
