"""Users, API tokens and the audit log: the selects behind geoservice.accounts. No Flask here."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ..models import ApiToken, AuditLog, Partner, User


def user_by_email(session: Session, email: str) -> User | None:
    """The user with this e-mail address, whatever its case (the unique index is on lower(email))."""
    return session.scalar(select(User).where(func.lower(User.email) == email.strip().lower()))


def users_overview(session: Session) -> list[dict]:
    """Every user with its partner's name and number of usable tokens, ordered by e-mail."""
    live_tokens = (select(func.count()).select_from(ApiToken)
                   .where(ApiToken.user_id == User.id, ApiToken.revoked_at.is_(None))
                   .scalar_subquery())
    rows = session.execute(
        select(User.id, User.email, User.name, User.role, User.partner_id, Partner.name.label("partner_name"),
               User.active, User.created_at, live_tokens.label("tokens"))
        .outerjoin(Partner, Partner.id == User.partner_id)
        .order_by(func.lower(User.email)))
    return [dict(row._mapping) for row in rows]


def live_token(session: Session, token_hash: str) -> tuple[ApiToken, User] | None:
    """The token with this hash and its user, when the token is not revoked and the user is active."""
    row = session.execute(
        select(ApiToken, User).join(User, User.id == ApiToken.user_id)
        .where(ApiToken.token_hash == token_hash, ApiToken.revoked_at.is_(None), User.active)).first()
    return (row[0], row[1]) if row else None


def tokens_overview(session: Session, user_id: int | None = None) -> list[dict]:
    """Tokens (never their hash) with their owner's e-mail; of one user when user_id is given."""
    query = (select(ApiToken.id, User.email, ApiToken.label, ApiToken.created_at, ApiToken.last_used_at,
                    ApiToken.revoked_at)
             .join(User, User.id == ApiToken.user_id)
             .order_by(func.lower(User.email), ApiToken.id))
    if user_id is not None:
        query = query.where(ApiToken.user_id == user_id)
    return [dict(row._mapping) for row in session.execute(query)]


def entity_history(session: Session, entity_type: str, entity_id: int) -> list[dict]:
    """The audit entries of one entity, oldest first."""
    rows = session.execute(
        select(AuditLog.id, AuditLog.at, AuditLog.actor, AuditLog.user_id, AuditLog.action, AuditLog.changes,
               AuditLog.reason)
        .where(AuditLog.entity_type == entity_type, AuditLog.entity_id == entity_id)
        .order_by(AuditLog.at, AuditLog.id))
    return [dict(row._mapping) for row in rows]
