"""One exception tree, one status map, one JSON error shape: {"code": ..., "description": ...}."""

from __future__ import annotations


class GeoserviceError(Exception):
    """Base of every error the service reports to a person or a program."""

    status = 500
    code = "ServerError"

    def __init__(self, description: str, *, code: str | None = None):
        super().__init__(description)
        self.description = description
        if code:
            self.code = code

    def to_dict(self) -> dict:
        return {"code": self.code, "description": self.description}


class InvalidParameter(GeoserviceError):
    """A request parameter is missing, malformed or out of range."""

    status = 400
    code = "InvalidParameterValue"


class NotFound(GeoserviceError):
    status = 404
    code = "NotFound"


class ServiceUnavailable(GeoserviceError):
    status = 503
    code = "ServiceUnavailable"


class SystemDependencyMissing(GeoserviceError):
    """PostgreSQL/PostGIS binaries (or another system package) are not installed."""

    code = "SystemDependencyMissing"


class LocalDatabaseError(GeoserviceError):
    """The embedded PostGIS cluster could not be created, started or stopped."""

    code = "LocalDatabaseError"


class LoadError(GeoserviceError):
    """A data file could not be loaded; nothing was written."""

    status = 400
    code = "LoadError"


class GeocodeNotFound(GeoserviceError):
    """No location for this address or postcode."""

    status = 404
    code = "GeocodeNotFound"


class GeocoderUnavailable(GeoserviceError):
    """The online geocoder failed and no offline fallback applies (an address without postcode)."""

    status = 503
    code = "GeocoderUnavailable"


class ImportRefused(GeoserviceError):
    """An import file was refused as a whole (unreadable, wrong format); nothing was written."""

    status = 400
    code = "ImportRefused"


class Unauthorized(GeoserviceError):
    """No valid login or API token; `headers` tells a program how to authenticate (RFC 6750)."""

    status = 401
    code = "Unauthorized"

    def __init__(self, description: str, *, error: str | None = None, code: str | None = None):
        super().__init__(description, code=code)
        challenge = 'Bearer realm="samenkaart"' + (f', error="{error}"' if error else "")
        self.headers = {"WWW-Authenticate": challenge}


class Forbidden(GeoserviceError):
    """Logged in (or a valid token), but this role may not do this."""

    status = 403
    code = "Forbidden"


class TooManyRequests(GeoserviceError):
    """A rate limit was reached; `retry_after` seconds until the next attempt counts."""

    status = 429
    code = "TooManyRequests"

    def __init__(self, description: str, *, retry_after: int, code: str | None = None):
        super().__init__(description, code=code)
        self.retry_after = max(1, int(retry_after))
        self.headers = {"Retry-After": str(self.retry_after)}
