"""Initiative endpoints: filtered list (GeoJSON or CSV), nearby search, one initiative."""

from __future__ import annotations

import datetime as dt

from flask import current_app, request

from ..db import get_session
from ..demo import DEMO_SOURCE
from ..errors import InvalidParameter, NotFound
from ..geocode import ADDRESS_MAX, app_geocoder, normalise_postcode
from ..params import (LonLat, parse_bbox, parse_choice, parse_code_of_level, parse_int, parse_point,
                      parse_terms_param, parse_text)
from ..queries import initiatives as queries
from ..vocab import INITIATIVE_KINDS, THEMES
from . import api
from .geojson import GEOJSON, XLSX, collection, feature, page_links, point, respond, table_response

LIST_LIMIT = {"default": 100, "minimum": 1, "maximum": 1000}
NEARBY_LIMIT = {"default": 10, "minimum": 1, "maximum": 100}
NEARBY_RADIUS = {"default": 2000, "minimum": 1, "maximum": 50000}
NEARBY_OFFSET = {"default": 0, "minimum": 0, "maximum": 1000}  # the next page of a nearby search
MAX_OFFSET = 10_000_000
TEXT_MAX = 200
CSV_COLUMNS = [*queries.PUBLIC_COLUMNS, "voorbeeld", "lat", "lon"]  # the properties, then the point
FORMATS = ("geojson", "csv", "xlsx")
_DATES = (dt.date, dt.datetime)


def properties(item: dict) -> dict:
    """The public properties of an initiative row, JSON-ready (geojson.plain inlined: it ran 18 times a row)."""
    props = {name: (value.isoformat() if isinstance(value := item[name], _DATES) else value)
             for name in queries.PUBLIC_COLUMNS}
    props["voorbeeld"] = item["source"] == DEMO_SOURCE
    return props


def initiative_feature(item: dict, **extra) -> dict:
    return feature(item["id"], point(item["lon"], item["lat"]), {**properties(item), **extra})


def _kinds_and_themes(args) -> tuple[tuple[str, ...], tuple[str, ...]]:
    kinds = parse_terms_param("kind", args.getlist("kind"), INITIATIVE_KINDS, "soort")
    themes = parse_terms_param("theme", args.getlist("theme"), THEMES, "thema")
    return tuple(kinds), tuple(themes)


def _list_filter(args) -> queries.InitiativeFilter:
    kinds, themes = _kinds_and_themes(args)
    return queries.InitiativeFilter(
        bbox=parse_bbox(args.get("bbox")),
        kinds=kinds,
        themes=themes,
        gemeente=parse_code_of_level("gemeente", args.get("gemeente"), "gemeente"),
        wijk=parse_code_of_level("wijk", args.get("wijk"), "wijk"),
        buurt=parse_code_of_level("buurt", args.get("buurt"), "buurt"),
        text=parse_text("q", args.get("q"), max_length=TEXT_MAX),
    )


@api.get("/initiatives")
def list_initiatives():
    args = request.args
    flt = _list_filter(args)
    limit = parse_int("limit", args.get("limit"), **LIST_LIMIT)
    offset = parse_int("offset", args.get("offset"), default=0, minimum=0, maximum=MAX_OFFSET)
    output = parse_choice("format", args.get("format"), FORMATS, default="geojson")
    matched, items = queries.list_initiatives(get_session(), flt, limit=limit, offset=offset)
    if output in ("csv", "xlsx"):
        links = page_links(offset=offset, limit=limit, matched=matched,
                           media_type="text/csv" if output == "csv" else XLSX)
        rows = [{**properties(item), "lat": item["lat"], "lon": item["lon"]} for item in items]
        response = table_response(output, CSV_COLUMNS, rows, "initiatieven", links)
        response.headers["X-Number-Matched"] = str(matched)
        return response
    return respond(collection(
        [initiative_feature(item) for item in items],
        numberMatched=matched,
        numberReturned=len(items),
        links=page_links(offset=offset, limit=limit, matched=matched, media_type=GEOJSON),
    ), GEOJSON)


def searched_point(args) -> dict:
    """The point to search from: lat+lon as given, else the geocoded postcode or address."""
    has_point = args.get("lat", "").strip() or args.get("lon", "").strip()
    raw_postcode = args.get("postcode", "").strip()
    postcode = normalise_postcode(raw_postcode) if raw_postcode else None
    address = parse_text("address", args.get("address"), max_length=ADDRESS_MAX)
    if has_point and (postcode or address):
        raise InvalidParameter("Geef óf lat en lon, óf een postcode of adres; niet allebei.")
    if has_point:
        p = parse_point(args.get("lat"), args.get("lon"))
        return {"lat": p.lat, "lon": p.lon, "precision": "coordinates",
                "label": f"{p.lat}, {p.lon}", "source": "request"}
    if not (postcode or address):
        raise InvalidParameter("Geef lat en lon, een postcode of een adres om vanaf te zoeken.",
                               code="MissingParameterValue")
    located = app_geocoder(current_app).locate(address=address, postcode=postcode)
    return {"lat": located.lat, "lon": located.lon, "precision": located.precision,
            "label": located.label, "source": located.source}


@api.get("/initiatives/nearby")
def nearby():
    args = request.args
    kinds, themes = _kinds_and_themes(args)
    radius_m = parse_int("radius_m", args.get("radius_m"), **NEARBY_RADIUS)
    limit = parse_int("limit", args.get("limit"), **NEARBY_LIMIT)
    offset = parse_int("offset", args.get("offset"), **NEARBY_OFFSET)
    searched = searched_point(args)
    matched, items = queries.nearby(
        get_session(), LonLat(lon=searched["lon"], lat=searched["lat"]),
        radius_m=radius_m, limit=limit, offset=offset, kinds=kinds, themes=themes)
    return respond(collection(
        [initiative_feature(item, distance_m=round(item["distance_m"], 1)) for item in items],
        searched=searched,
        radius_m=radius_m,
        numberMatched=matched,
        numberReturned=len(items),
    ), GEOJSON)


@api.get("/initiatives/<int:initiative_id>")
def get_initiative(initiative_id: int):
    item = queries.get_initiative(get_session(), initiative_id)
    if item is None:
        raise NotFound(f"Er is geen gepubliceerd initiatief met id {initiative_id}.")
    return respond(initiative_feature(item), GEOJSON)
