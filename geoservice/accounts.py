"""Users, passwords, API tokens and the audit log; no Flask. Callers own the transaction (commit or roll back).

User and token changes are audited too; their `actor=None` means the command line ('opdrachtregel').
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import secrets
from decimal import Decimal

from sqlalchemy.orm import Session
from werkzeug.security import check_password_hash, generate_password_hash

from .errors import InvalidParameter, NotFound
from .models import AUDIT_ENTITY_TYPES, USER_ROLES, ApiToken, AuditLog, Partner, User
from .params import MAX_DB_ID
from .queries import accounts as queries
from .registry.validation import Invalid, clean_email

ROLES = dict(zip(USER_ROLES, ("Beheerder", "Moderator", "Partnerredacteur")))
MIN_PASSWORD_LENGTH = 12
MAX_PASSWORD_LENGTH = 1024  # hashing is deliberately slow: refuse absurdly long input
PASSWORD_METHOD = "scrypt"
TOKEN_PREFIX = "gs_"
PUBLIC_SUBMITTER = "aanmelder"  # audit actor of a public submission (no user)
CLI_ACTOR = "opdrachtregel"  # audit actor of changes made with the geoservice command
TOKEN_TOUCH_INTERVAL = dt.timedelta(minutes=1)  # last_used_at is written at most this often per token


def normalise_email(raw: str) -> str:
    """A checked, trimmed e-mail address in lower case (addresses are unique regardless of case)."""
    text = (raw or "").strip()
    try:
        return clean_email(text).lower()
    except Invalid:
        raise InvalidParameter(f"'{text[:60]}' is geen geldig e-mailadres.") from None


def check_password_policy(password: str) -> None:
    """Raise InvalidParameter (Dutch) unless the password is long enough."""
    if len(password) < MIN_PASSWORD_LENGTH:
        raise InvalidParameter(f"Het wachtwoord moet minstens {MIN_PASSWORD_LENGTH} tekens lang zijn.")
    if len(password) > MAX_PASSWORD_LENGTH:
        raise InvalidParameter(f"Het wachtwoord mag hoogstens {MAX_PASSWORD_LENGTH} tekens lang zijn.")
    if not password.strip():
        raise InvalidParameter("Het wachtwoord mag niet alleen uit spaties bestaan.")


def hash_password(password: str) -> str:
    check_password_policy(password)
    return generate_password_hash(password, method=PASSWORD_METHOD)


@functools.cache
def _dummy_hash() -> str:
    # Unknown users still cost one hash check, so timing does not tell which addresses exist.
    return generate_password_hash(secrets.token_urlsafe(16), method=PASSWORD_METHOD)


def _check_role(role: str, partner_id: int | None) -> None:
    if role not in ROLES:
        raise InvalidParameter(f"Onbekende rol '{role}'; kies uit: {', '.join(ROLES)}.")
    if role == "partner_editor" and partner_id is None:
        raise InvalidParameter("Een partnerredacteur hoort bij één partner: geef de partner op.")
    if role != "partner_editor" and partner_id is not None:
        raise InvalidParameter("Alleen een partnerredacteur hoort bij een partner.")


def get_user(session: Session, email: str) -> User:
    """The user with this e-mail address (any case); NotFound otherwise."""
    user = queries.user_by_email(session, email)
    if user is None:
        raise NotFound(f"Er is geen gebruiker met e-mailadres '{email.strip()[:100]}'.")
    return user


def create_user(session: Session, email: str, *, role: str, password: str, name: str | None = None,
                partner_id: int | None = None, actor: User | None = None) -> User:
    """A new, active user with a hashed password; InvalidParameter (Dutch) for anything wrong."""
    address = normalise_email(email)
    _check_role(role, partner_id)
    if partner_id is not None and (not 0 < partner_id <= MAX_DB_ID or session.get(Partner, partner_id) is None):
        raise InvalidParameter(f"Er is geen partner met id {partner_id}.")
    if queries.user_by_email(session, address) is not None:
        raise InvalidParameter(f"Er is al een gebruiker met e-mailadres '{address}'.")
    user = User(email=address, name=(name or "").strip() or None, password_hash=hash_password(password),
                role=role, partner_id=partner_id, active=True)
    session.add(user)
    session.flush()
    record(session, "user", user.id, "created", actor,
           changes={"email": [None, address], "role": [None, role], "partner_id": [None, partner_id]},
           actor_name=None if actor else CLI_ACTOR)
    return user


def list_users(session: Session) -> list[dict]:
    """Every user (id, email, name, role, partner_id, partner_name, active, created_at, tokens)."""
    return queries.users_overview(session)


def remove_user(session: Session, email: str, *, actor: User | None = None) -> User:
    """Delete a user and their tokens; their audit entries stay (with the e-mail they had)."""
    user = get_user(session, email)
    record(session, "user", user.id, "removed", actor, changes={"email": [user.email, None]},
           actor_name=None if actor else CLI_ACTOR)
    session.delete(user)
    session.flush()
    return user


def set_password(session: Session, user: User, password: str, *, actor: User | None = None) -> None:
    """Replace the password hash (this also ends the user's web sessions, see auth.session_fingerprint)."""
    user.password_hash = hash_password(password)
    record(session, "user", user.id, "password_set", actor, actor_name=None if actor else CLI_ACTOR)
    session.flush()


def authenticate(session: Session, email: str, password: str) -> User | None:
    """The active user with this e-mail and password, else None; as slow for unknown addresses as for known."""
    user = queries.user_by_email(session, email or "") if email and len(email) <= 320 else None
    candidate = password if 0 < len(password or "") <= MAX_PASSWORD_LENGTH else ""
    if user is None:
        check_password_hash(_dummy_hash(), candidate)
        return None
    if not check_password_hash(user.password_hash, candidate) or not candidate:
        return None
    return user if user.active else None


def hash_token(token: str) -> str:
    """What is stored of a token: its SHA-256 in hex (tokens are random, so no salt or slow hash is needed)."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def create_token(session: Session, user: User, label: str | None = None, *,
                 actor: User | None = None) -> tuple[ApiToken, str]:
    """A new token for `user`: the row, and the plaintext token, which is shown once and never stored."""
    if not user.active:
        raise InvalidParameter(f"Gebruiker '{user.email}' is niet actief.")
    plaintext = TOKEN_PREFIX + secrets.token_urlsafe(32)
    token = ApiToken(user_id=user.id, token_hash=hash_token(plaintext), label=(label or "").strip() or None)
    session.add(token)
    session.flush()
    record(session, "user", user.id, "token_created", actor, changes={"token": [None, token.id]},
           actor_name=None if actor else CLI_ACTOR)
    return token, plaintext


def list_tokens(session: Session, email: str | None = None) -> list[dict]:
    """Tokens (id, email, label, created_at, last_used_at, revoked_at), of one user when email is given."""
    user_id = get_user(session, email).id if email else None
    return queries.tokens_overview(session, user_id)


def revoke_token(session: Session, token_id: int, *, actor: User | None = None) -> tuple[ApiToken, bool]:
    """Revoke a token: (the token, False when it had been revoked already); NotFound for an unknown id."""
    token = session.get(ApiToken, token_id) if 0 < token_id <= MAX_DB_ID else None
    if token is None:
        raise NotFound(f"Er is geen token met id {token_id}.")
    if token.revoked_at is not None:
        return token, False
    token.revoked_at = _now()
    record(session, "user", token.user_id, "token_revoked", actor, changes={"token": [token.id, None]},
           actor_name=None if actor else CLI_ACTOR)
    session.flush()
    return token, True


def user_for_token(session: Session, token: str) -> User | None:
    """The active user of a valid, unrevoked token, else None; notes when the token was last used."""
    if not token or not token.startswith(TOKEN_PREFIX) or len(token) > 200:
        return None
    found = queries.live_token(session, hash_token(token))
    if found is None:
        return None
    row, user = found
    now = _now()
    if row.last_used_at is None or now - row.last_used_at >= TOKEN_TOUCH_INTERVAL:
        row.last_used_at = now
        session.flush()
    return user


def record(session: Session, entity_type: str, entity_id: int, action: str, actor_user: User | None,
           changes: dict | None = None, reason: str | None = None, *, actor_name: str | None = None) -> AuditLog:
    """Add an audit entry in the caller's transaction, so the change and its entry commit together.

    actor_user None means a public submitter ('aanmelder'), unless actor_name says who it was (e.g. the CLI).
    changes: {field: [old, new]}; dates and other values are stored as JSON (dates as ISO text).
    """
    if entity_type not in AUDIT_ENTITY_TYPES:
        raise ValueError(f"unknown audit entity type {entity_type!r}")
    actor = actor_user.email if actor_user is not None else (actor_name or PUBLIC_SUBMITTER)
    entry = AuditLog(entity_type=entity_type, entity_id=entity_id, action=action,
                     user_id=actor_user.id if actor_user is not None else None, actor=actor,
                     changes=_jsonable(changes or {}), reason=(reason or "").strip() or None)
    session.add(entry)
    session.flush()
    return entry


def changes_between(before: dict, after: dict) -> dict:
    """{field: [old, new]} for the fields of `after` whose value differs from `before`."""
    return {key: [before.get(key), value] for key, value in after.items() if before.get(key) != value}


def history(session: Session, entity_type: str, entity_id: int) -> list[dict]:
    """The audit entries of one entity, oldest first (id, at, actor, user_id, action, changes, reason)."""
    if entity_type not in AUDIT_ENTITY_TYPES:
        raise ValueError(f"unknown audit entity type {entity_type!r}")
    return queries.entity_history(session, entity_type, entity_id)


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _jsonable(value):
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        items = sorted(value, key=str) if isinstance(value, (set, frozenset)) else value
        return [_jsonable(v) for v in items]
    if isinstance(value, (dt.date, dt.datetime)):
        return value.isoformat()
    if isinstance(value, Decimal):
        return float(value)
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    return str(value)
