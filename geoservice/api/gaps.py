"""Gap analysis endpoints: the units of a gemeente (GeoJSON or CSV) and summaries per gemeente (JSON, CSV or
GeoJSON with the gemeente outlines simplified for a map zoom)."""

from __future__ import annotations

from flask import request

from ..analysis import examples
from ..analysis import gaps as analysis
from ..analysis import need as need_analysis
from ..db import get_session
from ..errors import InvalidParameter
from ..params import parse_choice, parse_int
from ..queries import areas as area_queries
from ..queries import gaps as queries
from . import api
from .geojson import GEOJSON, collection, feature, respond, table_response

UNIT_FORMATS = ("geojson", "csv", "xlsx")
SUMMARY_FORMATS = ("json", "csv", "geojson", "xlsx")
ORDERS = ("asc", "desc")
ZOOM = {"default": 8, "minimum": 0, "maximum": 22}  # web-map zoom the summary's outlines are simplified for


def gap_params(args) -> analysis.GapParams:
    """The analysis settings of a request: level, walk_m, min_inwoners, kind, theme, partner_services, need."""
    return analysis.make_params(
        level=args.get("level"), walk_m=args.get("walk_m"), min_inwoners=args.get("min_inwoners"),
        kinds=args.getlist("kind"), themes=args.getlist("theme"), partner_services=args.getlist("partner_services"),
        need=args.getlist("need") or None)


@api.get("/gaps")
def gaps():
    args = request.args
    params = gap_params(args)
    output = parse_choice("format", args.get("format"), UNIT_FORMATS, default="geojson")
    # optional: the web-map zoom the unit outlines are for (without it they keep 1 m detail)
    zoom = parse_int("zoom", args.get("zoom"), default=None, minimum=ZOOM["minimum"], maximum=ZOOM["maximum"])
    raw = args.get("gemeente")
    if raw is None or not raw.strip():
        # a national GeoJSON of every unit would be tens of megabytes: the summary covers the country
        raise InvalidParameter("Parameter 'gemeente' ontbreekt: geef een gemeentecode, bijvoorbeeld GM0308. "
                               "Voor heel Nederland: /api/v1/gaps/summary.", code="MissingParameterValue")
    session = get_session()
    jaar = analysis.require_year(session)
    code = analysis.require_gemeente(session, jaar, raw)
    tolerance = area_queries.zoom_tolerance_m(zoom) if zoom is not None else None
    units = analysis.gap_units(session, params, gemeente=code, with_geometry=output == "geojson",
                               simplify_m=tolerance, with_nearest=True)
    demo = examples.example_figures(session)
    if output in ("csv", "xlsx"):
        return table_response(output, list(analysis.UNIT_CSV_COLUMNS), analysis.with_demo_flag(units, demo),
                              f"witte-vlekken-{code}")
    used = {**analysis.parameters(params, jaar), "gemeente": code}
    if zoom is not None:
        used["zoom"] = zoom
    gemeente = {"code": code, "naam": queries.gemeente_naam(session, jaar, code)}
    return respond(analysis.units_geojson(units, used, gemeente, demo), GEOJSON)


@api.get("/gaps/summary")
def gaps_summary():
    args = request.args
    params = gap_params(args)
    sort = parse_choice("sort", args.get("sort"), analysis.SORT_KEYS, default="gemeentecode")
    order = parse_choice("order", args.get("order"), ORDERS, default="asc" if sort in analysis.TEXT_KEYS else "desc")
    output = parse_choice("format", args.get("format"), SUMMARY_FORMATS, default="json")
    zoom = parse_int("zoom", args.get("zoom"), **ZOOM)  # checked for every format, used by geojson
    session = get_session()
    jaar = analysis.require_year(session)
    raw = args.get("gemeente")
    code = analysis.require_gemeente(session, jaar, raw) if raw is not None and raw.strip() else None
    rows = analysis.gemeente_summaries(session, params, gemeente=code, sort=sort, descending=order == "desc")
    demo = examples.example_figures(session)
    if output in ("csv", "xlsx"):
        return table_response(output, list(analysis.SUMMARY_CSV_COLUMNS), analysis.with_demo_flag(rows, demo),
                              f"witte-vlekken-{code or 'nederland'}")
    used = {**analysis.parameters(params, jaar), "gemeente": code, "sort": sort, "order": order}
    if output == "geojson":
        tolerance = area_queries.zoom_tolerance_m(zoom)
        outlines = area_queries.gemeente_outlines(session, jaar, tolerance_m=tolerance, code=code)
        # the figures and the outlines meet by code; the spatial work is done in the query
        features = [feature(row["gemeentecode"], outlines.get(row["gemeentecode"]), row) for row in rows]
        return respond(collection(
            features, parameters={**used, "zoom": zoom, "tolerance_m": round(tolerance, 3)},
            status_labels=analysis.STATUS_LABELS, numberReturned=len(features), demo=demo), GEOJSON)
    return respond({"parameters": used, "status_labels": analysis.STATUS_LABELS, "numberReturned": len(rows),
                    "gemeenten": rows, "demo": demo})


@api.get("/gaps/indicators")
def gaps_indicators():
    """The need indicators: their CBS fields and direction, and per level how many units of the year have each."""
    session = get_session()
    jaar = analysis.require_year(session)
    return respond({"cbs_jaar": jaar, "high_score": need_analysis.HIGH_SCORE,
                    "default_need": need_analysis.need_text(need_analysis.DEFAULT_NEED),
                    "indicators": need_analysis.indicators(session, jaar)})
