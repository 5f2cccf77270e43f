"""Area endpoints: which gemeente, wijk and buurt contain a point."""

from flask import jsonify, request

from .. import queries
from ..db import get_session
from ..errors import NotFound, ServiceUnavailable
from ..params import looks_swapped_in_nl, parse_point
from . import api


def _area_json(area) -> dict | None:
    if area is None:
        return None
    return {"code": area.code, "naam": area.naam, "aantal_inwoners": area.aantal_inwoners}


@api.get("/areas/lookup")
def lookup():
    point = parse_point(request.args.get("lat"), request.args.get("lon"))
    session = get_session()
    jaar = queries.active_year(session)
    if jaar is None:
        raise ServiceUnavailable("Er is nog geen CBS-kaart geladen (geoservice load-cbs).")
    found = queries.lookup_point(session, point, jaar)
    if not any(found.values()):
        hint = " Zijn lat en lon omgewisseld?" if looks_swapped_in_nl(point) else ""
        raise NotFound(f"Het punt (lat {point.lat}, lon {point.lon}) ligt in geen enkel geladen gebied.{hint}")
    return jsonify({
        "jaar": jaar,
        "point": {"lat": point.lat, "lon": point.lon},
        **{level: _area_json(area) for level, area in found.items()},
    })
