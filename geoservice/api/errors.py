"""Turn every error into the one JSON shape for programs, or a Dutch HTML page for people."""

from __future__ import annotations

import logging

import psycopg
from flask import jsonify, request
from sqlalchemy.exc import DBAPIError
from werkzeug.exceptions import HTTPException

from ..db import is_unavailable
from ..errors import GeoserviceError

log = logging.getLogger(__name__)

JSON_PREFIXES = ("/api/", "/healthz", "/ogc", "/tiles")
HTTP_CODES = {
    400: "InvalidParameterValue", 401: "Unauthorized", 403: "Forbidden", 404: "NotFound",
    405: "MethodNotAllowed", 413: "PayloadTooLarge", 429: "TooManyRequests",
}
DUTCH_HTTP = {
    400: "Het verzoek klopt niet.", 401: "Hiervoor moet je ingelogd zijn.",
    403: "Je hebt geen toegang tot deze pagina of handeling.", 404: "Deze pagina of dit gegeven bestaat niet.",
    405: "Deze methode is hier niet toegestaan.", 413: "Het bestand is te groot.",
    429: "Te veel verzoeken; probeer het zo nog eens.",
}
DATABASE_UNAVAILABLE = "De database is even niet bereikbaar. Probeer het over een minuut opnieuw."
RETRY_AFTER_S = 60  # matches "over een minuut"; the engine reconnects by itself as soon as the database is back
SERVER_ERROR = "Er ging iets mis aan onze kant. Probeer het later opnieuw."


def register(app, render_html):
    """render_html(status, message) -> response body for people. Returns the handler of domain errors,
    for other modules that turn their own exceptions into one (e.g. a failed CSRF check)."""

    def respond(status: int, code: str, description: str, headers: dict | None = None):
        if request.path.startswith(JSON_PREFIXES):
            return jsonify({"code": code, "description": description}), status, headers or {}
        return render_html(status, description), status, headers or {}

    @app.errorhandler(GeoserviceError)
    def domain_error(exc: GeoserviceError):
        # headers such as WWW-Authenticate (401) and Retry-After (429)
        return respond(exc.status, exc.code, exc.description, getattr(exc, "headers", None))

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException):
        status = exc.code or 500
        return respond(status, HTTP_CODES.get(status, "HttpError"), DUTCH_HTTP.get(status, exc.description))

    @app.errorhandler(DBAPIError)
    @app.errorhandler(psycopg.OperationalError)
    def database_error(exc: Exception):
        if not is_unavailable(exc):
            return unexpected(exc)
        # One line, no traceback: during an outage every request ends here.
        log.warning("database unavailable on %s: %s", request.path, str(exc).splitlines()[0][:200])
        return respond(503, "ServiceUnavailable", DATABASE_UNAVAILABLE, {"Retry-After": str(RETRY_AFTER_S)})

    @app.errorhandler(Exception)
    def unexpected(exc: Exception):
        log.exception("unexpected error on %s", request.path)
        return respond(500, "ServerError", SERVER_ERROR)

    return domain_error
