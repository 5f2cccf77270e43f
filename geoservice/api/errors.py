"""Turn every error into the one JSON shape for programs, or a Dutch HTML page for people."""

from __future__ import annotations

import logging

from flask import jsonify, request
from werkzeug.exceptions import HTTPException

from ..errors import GeoserviceError

log = logging.getLogger(__name__)

JSON_PREFIXES = ("/api/", "/healthz", "/ogc")
HTTP_CODES = {
    400: "InvalidParameterValue", 401: "Unauthorized", 403: "Forbidden", 404: "NotFound",
    405: "MethodNotAllowed", 413: "PayloadTooLarge", 429: "TooManyRequests",
}
DUTCH_HTTP = {
    400: "Het verzoek klopt niet.", 404: "Deze pagina of dit gegeven bestaat niet.",
    405: "Deze methode is hier niet toegestaan.", 413: "Het bestand is te groot.",
    429: "Te veel verzoeken; probeer het zo nog eens.",
}


def register(app, render_html) -> None:
    """render_html(status, title, message) -> response body for people."""

    def respond(status: int, code: str, description: str):
        if request.path.startswith(JSON_PREFIXES):
            return jsonify({"code": code, "description": description}), status
        return render_html(status, description), status

    @app.errorhandler(GeoserviceError)
    def domain_error(exc: GeoserviceError):
        return respond(exc.status, exc.code, exc.description)

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException):
        status = exc.code or 500
        return respond(status, HTTP_CODES.get(status, "HttpError"), DUTCH_HTTP.get(status, exc.description))

    @app.errorhandler(Exception)
    def unexpected(exc: Exception):
        log.exception("unexpected error on %s", request.path)
        return respond(500, "ServerError", "Er ging iets mis aan onze kant. Probeer het later opnieuw.")
