"""GET /api/v1/outreach: outreach regions of a partner or a gemeente as GeoJSON."""

from __future__ import annotations

from flask import request

from ..analysis.outreach import CLUSTER_M, REACH_M, outreach_collection
from ..db import get_session
from ..errors import InvalidParameter
from ..params import parse_choice, parse_code_of_level, parse_int
from . import api
from .gaps import gap_params
from .geojson import GEOJSON, respond

PARTNER_ID = {"minimum": 1, "maximum": 2**63 - 1}  # ids beyond PostgreSQL's integers are simply not found
FLAGS = {"true": True, "1": True, "ja": True, "false": False, "0": False, "nee": False}


def _partner(raw: str | None) -> int | None:
    if raw is None or raw.strip() == "":
        return None
    return parse_int("partner", raw, default=0, **PARTNER_ID)


def _flag(name: str, raw: str | None) -> bool:
    return FLAGS[parse_choice(name, raw, tuple(FLAGS), default="false")]


@api.get("/outreach")
def outreach():
    args = request.args
    partner = _partner(args.get("partner"))
    gemeente = parse_code_of_level("gemeente", args.get("gemeente"), "gemeente")
    if (partner is None) == (gemeente is None):
        raise InvalidParameter("Geef partner=ID of gemeente=GM…: precies één van de twee.",
                               code="MissingParameterValue" if partner is None else None)
    body = outreach_collection(
        get_session().connection(), partner=partner, gemeente=gemeente,
        cluster_m=parse_int("cluster_m", args.get("cluster_m"), **CLUSTER_M),
        reach_m=parse_int("reach_m", args.get("reach_m"), **REACH_M),
        include_no_support=_flag("include_no_support", args.get("include_no_support")),
        params=gap_params(args))
    return respond(body, GEOJSON)
