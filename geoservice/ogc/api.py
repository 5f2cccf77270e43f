"""OGC API – Features (Part 1 Core, GeoJSON) routes under /ogc."""

from __future__ import annotations

import datetime as dt
from functools import lru_cache

from flask import Blueprint, current_app, jsonify, request, url_for

from ..db import get_session, read_connection
from ..errors import NotFound
from ..queries import ogc as queries
from .collections import COLLECTIONS, CRS84, NL_BBOX, Collection
from .params import (parse_crs, parse_datetime, parse_feature_id, parse_format, parse_limit, parse_offset,
                     parse_ogc_bbox)

ogc = Blueprint("ogc", __name__, url_prefix="/ogc")

JSON = "application/json"
GEOJSON = "application/geo+json"
OPENAPI = "application/vnd.oai.openapi+json;version=3.0"
CONFORMANCE = [
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/core",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/geojson",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/oas30",
]


def _link(href: str, rel: str, type_: str, title: str) -> dict:
    return {"href": href, "rel": rel, "type": type_, "title": title}


def _url(endpoint: str, **values) -> str:
    return url_for(f"ogc.{endpoint}", _external=True, **values)


ITEMS_MADE_BY_POSTGRESQL = ("initiatives",)  # the same bytes as the generic path (tests/test_ogc_fast_path.py)


def _collection(collection_id: str) -> Collection:
    try:
        return COLLECTIONS[collection_id]
    except KeyError:
        known = ", ".join(COLLECTIONS)
        raise NotFound(f"Collectie '{collection_id[:40]}' bestaat niet. Beschikbaar: {known}.") from None


def _geojson(body: dict):
    response = current_app.json.response(body)
    response.mimetype = GEOJSON
    return response


def _compact(value) -> str:
    return current_app.json.dumps(value, separators=(",", ":"))


def _geojson_with_features(head: dict, features: str, links: list[dict]):
    """The bytes _geojson({**head, "features": [...], "links": links}) gives, around ready-made features text."""
    body = f'{_compact(head)[:-1]},"features":[{features}],"links":{_compact(links)}}}\n'
    return current_app.response_class(body, mimetype=GEOJSON)


@ogc.after_request
def open_to_all(response):
    # Open data for map clients in the browser (QGIS web, Leaflet, OpenLayers) on other origins.
    response.headers.setdefault("Access-Control-Allow-Origin", "*")
    return response


@ogc.get("/")
@ogc.get("")
def landing():
    parse_format(request.args.get("f"))
    return jsonify({
        "title": "Samenkaart – OGC API Features",
        "description": "Initiatieven, werkgebieden van partners en de CBS-gemeenten, -wijken en -buurten "
                       "als open geodata (GeoJSON, WGS84).",
        "links": [
            _link(_url("landing"), "self", JSON, "Deze pagina"),
            _link(request.url_root + "api/v1/openapi.json", "service-desc", OPENAPI,
                  "Beschrijving van de API (OpenAPI 3.0)"),
            _link(_url("conformance"), "conformance", JSON, "Ondersteunde conformiteitsklassen"),
            _link(_url("collections"), "data", JSON, "De collecties"),
        ],
    })


@ogc.get("/conformance")
def conformance():
    parse_format(request.args.get("f"))
    return jsonify({"conformsTo": CONFORMANCE})


def _collection_json(collection: Collection) -> dict:
    bbox = queries.extent(get_session(), collection.id) or NL_BBOX
    return {
        "id": collection.id,
        "title": collection.title,
        "description": collection.description,
        "extent": {"spatial": {"bbox": [[round(v, 6) for v in _outward(bbox)]], "crs": CRS84}},
        "itemType": "feature",
        "crs": [CRS84],
        "links": [
            _link(_url("collection", collection_id=collection.id), "self", JSON, collection.title),
            _link(_url("items", collection_id=collection.id), "items", GEOJSON, f"{collection.title} (GeoJSON)"),
        ],
    }


def _outward(bbox) -> tuple[float, float, float, float]:
    # Rounding to 6 decimals must never cut a feature off the advertised extent.
    minx, miny, maxx, maxy = bbox
    pad = 1e-6
    return (minx - pad, miny - pad, maxx + pad, maxy + pad)


@ogc.get("/collections")
def collections():
    parse_format(request.args.get("f"))
    return jsonify({
        "links": [_link(_url("collections"), "self", JSON, "De collecties")],
        "collections": [_collection_json(c) for c in COLLECTIONS.values()],
    })


@ogc.get("/collections/<collection_id>")
def collection(collection_id: str):
    found = _collection(collection_id)
    parse_format(request.args.get("f"))
    return jsonify(_collection_json(found))


def _feature_json(feature: queries.Feature) -> dict:
    return {"type": "Feature", "id": feature.id, "geometry": feature.geometry, "properties": feature.properties}


@ogc.get("/collections/<collection_id>/items")
def items(collection_id: str):
    found = _collection(collection_id)
    args = request.args
    parse_format(args.get("f"))
    bbox_raw = args.get("bbox")
    bbox = parse_ogc_bbox(bbox_raw)
    parse_crs("bbox-crs", args.get("bbox-crs"))
    parse_crs("crs", args.get("crs"))
    parse_datetime(args.get("datetime"))
    limit = parse_limit(args.get("limit"))
    offset = parse_offset(args.get("offset"))
    fast = (queries.initiative_page_json(read_connection(), bbox=bbox, limit=limit, offset=offset)
            if found.id == "initiatives" else None)
    page = fast or queries.items(get_session(), found.id, bbox=bbox, limit=limit, offset=offset)
    returned = fast.number_returned if fast else len(page.features)

    def page_url(at: int) -> str:
        query = {"limit": limit, "offset": at}
        if bbox is not None:
            query["bbox"] = bbox_raw
        return _url("items", collection_id=found.id, **query)

    links = [_link(page_url(offset), "self", GEOJSON, "Deze pagina")]
    if offset + returned < page.number_matched:
        links.append(_link(page_url(offset + limit), "next", GEOJSON, "Volgende pagina"))
    if offset > 0:
        links.append(_link(page_url(max(offset - limit, 0)), "prev", GEOJSON, "Vorige pagina"))
    links.append(_link(_url("collection", collection_id=found.id), "collection", JSON, found.title))
    head = {
        "type": "FeatureCollection",
        "timeStamp": dt.datetime.now(dt.UTC).isoformat(timespec="seconds").replace("+00:00", "Z"),
        "numberMatched": page.number_matched,
        "numberReturned": returned,
    }
    if fast is None:
        return _geojson({**head, "features": [_feature_json(f) for f in page.features], "links": links})
    return _geojson_with_features(head, fast.features, links)


@ogc.get("/collections/<collection_id>/items/<feature_id>")
def feature(collection_id: str, feature_id: str):
    found = _collection(collection_id)
    parse_format(request.args.get("f"))
    parse_crs("crs", request.args.get("crs"))
    fid = parse_feature_id(feature_id, found.id_type)
    if found.id in ITEMS_MADE_BY_POSTGRESQL:  # the hot one: its JSON made by PostgreSQL, as for a page
        made = queries.initiative_item_json(read_connection(), fid)
        if made is None:
            raise NotFound(f"Object '{feature_id[:40]}' bestaat niet in collectie '{found.id}'.")
        return current_app.response_class(f'{made[:-1]},"links":{_compact(_item_links(found, fid))}}}\n',
                                          mimetype=GEOJSON)
    result = queries.item(read_connection(), found.id, fid)
    if result is None:
        raise NotFound(f"Object '{feature_id[:40]}' bestaat niet in collectie '{found.id}'.")
    return _geojson({**_feature_json(result), "links": _item_links(found, result.id)})


def _item_links(found: Collection, fid) -> list[dict]:
    self_url = _feature_url_template(request.url_root, found.id).replace(_FID, str(fid))
    return [_link(self_url, "self", GEOJSON, "Dit object"),
            _link(_collection_url(request.url_root, found.id), "collection", JSON, found.title)]


# An item's links differ only by its id: url_for is asked once per site root and collection, not per item.
_FID = "FEATURE-ID"


@lru_cache(maxsize=64)
def _feature_url_template(_root: str, collection_id: str) -> str:
    return _url("feature", collection_id=collection_id, feature_id=_FID)


@lru_cache(maxsize=64)
def _collection_url(_root: str, collection_id: str) -> str:
    return _url("collection", collection_id=collection_id)
