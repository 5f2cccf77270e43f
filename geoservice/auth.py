"""Flask glue for accounts: the logged-in user, login/logout in the session, and role checks for pages and API.

The session (a signed cookie) holds the user id, a nonce per login and a fingerprint of the password hash:
a new password, removal or deactivation ends every session of that user. Admins pass every role check.
"""

from __future__ import annotations

import hashlib
import secrets
from functools import wraps
from urllib.parse import urlsplit

from flask import g, make_response, redirect, request, session, url_for

from . import accounts
from .db import get_session
from .errors import Forbidden, Unauthorized
from .models import User

SESSION_KEYS = ("user_id", "login_nonce", "pw")


def session_fingerprint(user: User) -> str:
    """Changes whenever the password does; the session stores it so a new password logs everyone out."""
    return hashlib.sha256(user.password_hash.encode("utf-8")).hexdigest()[:16]


def login_user(user: User) -> None:
    """Start a fresh session for `user` (anything from before the login is dropped)."""
    session.clear()
    session.update(user_id=user.id, login_nonce=secrets.token_urlsafe(16), pw=session_fingerprint(user))
    g.current_user = user


def logout_user() -> None:
    session.clear()
    g.current_user = None


def current_user() -> User | None:
    """The logged-in user (or, in an API view behind token_required, the token's user); None otherwise."""
    if "current_user" not in g:
        g.current_user = _session_user()
    return g.current_user


def _session_user() -> User | None:
    user_id = session.get("user_id")
    if not isinstance(user_id, int) or not session.get("login_nonce"):
        return None
    user = get_session().get(User, user_id)
    if user is None or not user.active or session.get("pw") != session_fingerprint(user):
        for key in SESSION_KEYS:
            session.pop(key, None)
        return None
    return user


def has_role(user: User | None, roles: tuple[str, ...]) -> bool:
    """Whether `user` has one of `roles` (any role when none are given); admins have every role."""
    if user is None or not user.active:
        return False
    return not roles or user.role == "admin" or user.role in roles


def can_edit_partner(user: User | None, partner_id: int) -> bool:
    """Admins edit every partner; a partner editor only their own."""
    if user is None or not user.active:
        return False
    if user.role == "admin":
        return True
    return user.role == "partner_editor" and user.partner_id == partner_id


def safe_next(target: str | None, default: str | None = None) -> str:
    """`target` when it is a path on this site, else `default` (the home page): never an open redirect."""
    fallback = default or url_for("web.index")
    if not target or len(target) > 2000:
        return fallback
    if any(c in target for c in "\\\r\n\t") or any(ord(c) < 32 for c in target):
        return fallback
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return fallback
    return target


def login_required(*roles: str):
    """Pages: anonymous visitors go to /inloggen?next=…; a logged-in user without the role gets a 403 page."""

    def decorator(view):
        @wraps(view)
        def wrapper(*args, **kwargs):
            user = current_user()
            if user is None:
                here = request.full_path if request.query_string else request.path
                return redirect(url_for("web.inloggen", next=here))
            if not has_role(user, roles):
                raise Forbidden("U heeft geen toegang tot deze pagina.")
            response = make_response(view(*args, **kwargs))
            response.headers["Cache-Control"] = "private, no-store"
            return response

        return wrapper

    return decorator


def token_required(*roles: str):
    """API writes: a valid `Authorization: Bearer <token>` of a user with one of `roles` (401/403 otherwise)."""

    def decorator(view):
        @wraps(view)
        def wrapper(*args, **kwargs):
            scheme, _, token = request.headers.get("Authorization", "").partition(" ")
            if scheme.lower() != "bearer" or not token.strip():
                raise Unauthorized("Hiervoor is een API-token nodig: stuur 'Authorization: Bearer <token>'.")
            db = get_session()
            user = accounts.user_for_token(db, token.strip())
            if user is None:
                raise Unauthorized("Het API-token is ongeldig of ingetrokken.", error="invalid_token")
            db.commit()  # last_used_at, before the view's own work
            if not has_role(user, roles):
                raise Forbidden("Dit token mag deze actie niet uitvoeren.")
            g.current_user = user
            return view(*args, **kwargs)

        return wrapper

    return decorator
