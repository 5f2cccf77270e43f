"""The JSON/GeoJSON API (blueprint under /api/v1) and the health check."""

from flask import Blueprint

api = Blueprint("api", __name__, url_prefix="/api/v1")

from . import (areas, gaps, initiatives, openapi, outreach, partners,  # noqa: E402,F401  (routes register on import)
               service_areas)
from . import partner_editing  # noqa: E402,F401  (partner editors' writes)
from . import moderation  # noqa: E402,F401  (submissions and moderation)
from . import support  # noqa: E402,F401  (Hulp bij je plan)
from .health import health  # noqa: E402,F401
