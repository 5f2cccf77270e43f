"""Security settings of the app: session cookies, upload limit, CSRF on forms, rate limiter, response headers."""

from __future__ import annotations

import secrets
from functools import lru_cache
from urllib.parse import urlsplit

from flask import g, request
from flask.sessions import SecureCookieSessionInterface
from flask_wtf.csrf import CSRFError, CSRFProtect

from . import ratelimit
from ..config import Settings
from ..errors import InvalidParameter

CSRF_MESSAGE = ("Het formulier is verlopen of onvolledig verstuurd. Laad de pagina opnieuw en probeer het "
                "nog eens.")


def csp_nonce() -> str:
    """This request's nonce for inline scripts (templates: <script nonce="{{ csp_nonce() }}">)."""
    if "csp_nonce" not in g:
        g.csp_nonce = secrets.token_urlsafe(16)
    return g.csp_nonce


def tile_source(tiles: str) -> str | None:
    """The CSP source for a tile URL template: scheme and host, a {s}-style first label as '*'."""
    if tiles == "none":
        return None
    parts = urlsplit(tiles)
    labels = (parts.hostname or "").split(".")
    if not parts.scheme or not labels[0]:
        return None
    if "{" in labels[0]:
        labels[0] = "*"
    if any("{" in label for label in labels[1:]):
        return f"{parts.scheme}:"  # a placeholder deeper in the host cannot be a CSP wildcard
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme}://{'.'.join(labels)}{port}"


EMBED_PATHS = ("/embed/",)  # pages made to be shown in other sites' frames (GEOSERVICE_EMBED_ORIGINS)


def content_security_policy(nonce: str, settings: Settings, *, embed: bool = False) -> str:
    """Scripts only from us or with this request's nonce (Folium's inline map script); inline styles are
    allowed because Leaflet positions tiles and markers with style attributes. Only our own pages may frame
    a page, except an embed page, which the configured origins may frame too."""
    before, after = _policy_around_nonce(settings.tiles, settings.embed_origins if embed else None)
    return f"{before}{nonce}{after}"


@lru_cache(maxsize=16)
def _policy_around_nonce(tiles: str, embed_origins: str | None) -> tuple[str, str]:
    """The policy before and after the nonce: the same for every request of a setting, so made once."""
    images = " ".join(filter(None, ("'self'", "data:", tile_source(tiles))))
    frame_ancestors = " ".join(embed_origins.split()) if embed_origins is not None else "'self'"
    before, after = "; ".join((
        "default-src 'self'",
        "script-src 'self' 'nonce-\0'",
        "style-src 'self' 'unsafe-inline'",
        f"img-src {images}",
        "connect-src 'self'",
        "object-src 'none'",
        f"frame-ancestors {frame_ancestors}",
        "base-uri 'self'",
        "form-action 'self'",
    )).split("\0")
    return before, after


class CookieSessions(SecureCookieSessionInterface):
    """Flask's signed-cookie sessions, without making a signer for a request that brings no session cookie (most
    requests: API, tiles, the public pages): a new empty session, as Flask's own gives then."""

    def open_session(self, app, request):
        if app.secret_key and not request.cookies.get(self.get_cookie_name(app)):
            return self.session_class()
        return super().open_session(app, request)


def init_app(app, settings: Settings, domain_error) -> None:
    """Configure the app; domain_error(exc) is the app's response to a GeoserviceError (JSON or page)."""
    app.config.update(
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=settings.secure_cookies,
        MAX_CONTENT_LENGTH=int(settings.max_upload_mb * 1024 * 1024),
    )
    app.session_interface = CookieSessions()
    csrf = CSRFProtect(app)
    from ..api import api

    csrf.exempt(api)  # token-authenticated JSON: no cookies, so nothing to forge
    ratelimit.init_app(app)
    app.jinja_env.globals["csp_nonce"] = csp_nonce

    from ..auth import current_user

    app.jinja_env.globals["current_user"] = current_user

    @app.errorhandler(CSRFError)
    def csrf_failed(exc: CSRFError):
        return domain_error(InvalidParameter(CSRF_MESSAGE, code="CSRFError"))

    @app.after_request
    def security_headers(response):
        headers = response.headers
        embed = request.path.startswith(EMBED_PATHS)
        headers.setdefault("Content-Security-Policy", content_security_policy(csp_nonce(), settings, embed=embed))
        headers.setdefault("X-Content-Type-Options", "nosniff")
        headers.setdefault("Referrer-Policy", "strict-origin-when-cross-origin")
        return response
