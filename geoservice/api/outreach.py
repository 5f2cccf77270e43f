"""GET /api/v1/outreach: outreach regions of a partner or a gemeente as GeoJSON, or as CSV."""

from __future__ import annotations

from flask import request

from ..analysis.examples import example_figures
from ..analysis.outreach import (CLUSTER_M, REACH_M, REGION_CSV_COLUMNS, outreach_collection, outreach_regions,
                                 parse_flag, region_rows)
from ..db import get_session
from ..errors import InvalidParameter
from ..params import parse_choice, parse_code_of_level, parse_int
from . import api
from .gaps import gap_params
from .geojson import GEOJSON, respond, table_response

PARTNER_ID = {"minimum": 1, "maximum": 2**63 - 1}  # ids beyond PostgreSQL's integers are simply not found
FORMATS = ("geojson", "csv", "xlsx")


def _partner(raw: str | None) -> int | None:
    if raw is None or raw.strip() == "":
        return None
    return parse_int("partner", raw, default=0, **PARTNER_ID)


@api.get("/outreach")
def outreach():
    args = request.args
    partner = _partner(args.get("partner"))
    gemeente = parse_code_of_level("gemeente", args.get("gemeente"), "gemeente")
    if (partner is None) == (gemeente is None):
        raise InvalidParameter("Geef partner=ID of gemeente=GM…: precies één van de twee.",
                               code="MissingParameterValue" if partner is None else None)
    settings = {
        "partner": partner, "gemeente": gemeente,
        "cluster_m": parse_int("cluster_m", args.get("cluster_m"), **CLUSTER_M),
        "reach_m": parse_int("reach_m", args.get("reach_m"), **REACH_M),
        "include_no_support": parse_flag("include_no_support", args.get("include_no_support")),
        "params": gap_params(args),
    }
    output = parse_choice("format", args.get("format"), FORMATS, default="geojson")
    conn = get_session().connection()
    if output in ("csv", "xlsx"):
        # the same regions, one row each, without geometry; the units' codes and names ';'-joined
        regions = outreach_regions(conn, with_geometry=False, **settings)
        name = f"partner-{partner}" if partner is not None else gemeente
        rows = region_rows(regions, example_figures(conn)["demo_data"])
        return table_response(output, list(REGION_CSV_COLUMNS), rows, f"outreach-{name}")
    return respond(outreach_collection(conn, **settings), GEOJSON)
