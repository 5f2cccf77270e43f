"""GET /api/v1/support: the partners and funds that serve a point with the services and theme a plan needs."""

from __future__ import annotations

from flask import request

from ..partners import support
from ..db import get_session
from ..params import LonLat
from . import api
from .geojson import respond
from .initiatives import searched_point


@api.get("/support")
def support_at():
    args = request.args
    question = support.parse_question(args.getlist("service"), args.getlist("theme"), args.get("reach_m"))
    searched = searched_point(args)
    found = support.find_support(get_session(), LonLat(lon=searched["lon"], lat=searched["lat"]), question)
    return respond({
        "searched": searched,
        "buurt": found["place"]["buurt"],
        "partners": [support.public_partner(p) for p in found["partners"]],
        "initiatives": [support.public_initiative(i) for i in found["initiatives"]],
    })
