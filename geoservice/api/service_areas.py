"""GET /api/v1/service-areas?gemeente=GM…: the partners' service areas overlapping a gemeente, as GeoJSON."""

from __future__ import annotations

from flask import request

from ..analysis import gaps as analysis
from ..db import get_session
from ..errors import InvalidParameter
from ..queries import partners as queries
from ..queries.gaps import gemeente_naam
from . import api
from .geojson import GEOJSON, collection, feature, respond


@api.get("/service-areas")
def service_areas():
    raw = request.args.get("gemeente")
    if raw is None or not raw.strip():
        raise InvalidParameter("Parameter 'gemeente' ontbreekt: geef een gemeentecode, bijvoorbeeld GM0308.",
                               code="MissingParameterValue")
    session = get_session()
    jaar = analysis.require_year(session)
    code = analysis.require_gemeente(session, jaar, raw)
    areas = queries.service_areas_in_gemeente(session, jaar, code)
    features = [feature(area["id"], area["geometry"], {k: v for k, v in area.items() if k != "geometry"})
                for area in areas]
    return respond(collection(features, gemeente={"code": code, "naam": gemeente_naam(session, jaar, code)},
                              numberPartners=len({area["partner_id"] for area in areas}),
                              numberReturned=len(features)), GEOJSON)
