"""The /ogc paths for the service's OpenAPI document (self-contained: no #/components references)."""

from __future__ import annotations

from .collections import COLLECTIONS, Collection
from .params import LIMIT_DEFAULT, LIMIT_MAX, OFFSET_MAX

JSON = "application/json"
GEOJSON = "application/geo+json"
TAG = "OGC API Features"

_TEXT = {"type": "string"}
_LINK = {
    "type": "object", "required": ["href", "rel"],
    "properties": {"href": {"type": "string", "format": "uri"}, "rel": _TEXT, "type": _TEXT, "title": _TEXT},
}
_LINKS = {"type": "array", "items": _LINK}
_ERROR = {
    "type": "object", "required": ["code", "description"],
    "properties": {"code": _TEXT, "description": {"type": "string", "description": "Uitleg in het Nederlands."}},
}
_POSITION = {"type": "array", "items": {"type": "number"}, "minItems": 2, "maxItems": 2}
_GEOMETRIES = {
    "Point": {"type": "object", "required": ["type", "coordinates"], "properties": {
        "type": {"type": "string", "enum": ["Point"]}, "coordinates": _POSITION}},
    "MultiPolygon": {"type": "object", "required": ["type", "coordinates"], "properties": {
        "type": {"type": "string", "enum": ["MultiPolygon"]},
        "coordinates": {"type": "array", "items": {"type": "array", "items": {
            "type": "array", "items": _POSITION, "minItems": 4}}}}},
}


def _param(name: str, description: str, schema: dict, where: str = "query", **extra) -> dict:
    return {"name": name, "in": where, "description": description, "required": where == "path",
            "schema": schema, **extra}


def _ok(description: str, schema: dict, media: str = JSON) -> dict:
    return {"description": description, "content": {media: {"schema": schema}}}


def _error(description: str) -> dict:
    return _ok(description, _ERROR)


def _get(op_id: str, summary: str, parameters: list, ok: dict, errors: dict) -> dict:
    return {"get": {"operationId": op_id, "tags": [TAG], "summary": summary, "parameters": parameters,
                    "responses": {"200": ok, **errors}}}


def _feature(collection: Collection) -> dict:
    return {
        "type": "object", "required": ["type", "id", "geometry", "properties"],
        "title": collection.title,
        "properties": {
            "type": {"type": "string", "enum": ["Feature"]},
            "id": {"type": collection.id_type},
            "geometry": _GEOMETRIES[collection.geometry_type],
            "properties": {
                "type": "object", "required": collection.property_names,
                "properties": {f.name: f.schema() for f in collection.fields},
            },
            "links": _LINKS,
        },
    }


def _any_feature() -> dict:
    return {"anyOf": [_feature(c) for c in COLLECTIONS.values()]}


F = _param("f", "Formaat van het antwoord: alleen json (bij objecten GeoJSON). Elke andere waarde geeft 400.",
           {"type": "string", "enum": ["json"], "default": "json"})
COLLECTION_ID = _param("collection_id", "Id van de collectie.", {"type": "string", "enum": list(COLLECTIONS)},
                       where="path")
FEATURE_ID = _param(
    "feature_id", "Id van het object: de CBS-code (gemeenten, wijken, buurten; hoofdletters niet verplicht) "
                  "of het nummer (initiatives, service_areas). Een onbekend id geeft 404.",
    {"type": "string", "example": "GM0308"}, where="path")
BBOX = _param(
    "bbox", "Alleen objecten die dit gebied raken: minlon,minlat,maxlon,maxlat in CRS84 (WGS84, lon/lat); "
            "lon tussen -180 en 180, lat tussen -90 en 90, min niet groter dan max. Zes getallen "
            "(minlon,minlat,minhoogte,maxlon,maxlat,maxhoogte) mag ook; de hoogtes tellen niet mee.",
    {"type": "array", "items": {"type": "number"}, "minItems": 4, "maxItems": 6},
    style="form", explode=False, example=[5.25, 52.19, 5.32, 52.23])
LIMIT = _param(
    "limit", f"Hoeveel objecten per pagina (standaard {LIMIT_DEFAULT}, hoogstens {LIMIT_MAX}). Een grotere "
             f"waarde geeft geen fout maar {LIMIT_MAX} objecten (OGC API Features, eis 22); kleiner dan 1 geeft 400.",
    {"type": "integer", "minimum": 1, "maximum": LIMIT_MAX, "default": LIMIT_DEFAULT})
OFFSET = _param(
    "offset", "Hoeveel objecten overslaan (de volgorde ligt vast: op code of nummer). Volg liever de next-link.",
    {"type": "integer", "minimum": 0, "maximum": OFFSET_MAX, "default": 0})
CRS84_ONLY = {"type": "string", "format": "uri", "enum": ["http://www.opengis.net/def/crs/OGC/1.3/CRS84"]}
BBOX_CRS = _param("bbox-crs", "CRS van bbox. Alleen CRS84 wordt ondersteund; een ander CRS geeft 400.", CRS84_ONLY)
CRS = _param("crs", "CRS van de geometrieën in het antwoord. Alleen CRS84; een ander CRS geeft 400.", CRS84_ONLY)
DATETIME = _param(
    "datetime", "Tijdstip of interval (RFC 3339, bv. 2024-01-01T00:00:00Z of 2024-01-01T00:00:00Z/..). "
                "Geen van de collecties heeft een tijdsdimensie: een geldige waarde laat alle objecten door, "
                "een ongeldige geeft 400.",
    {"type": "string"})

ERRORS_400 = {"400": _error("Ongeldige parameter (bbox, limit, offset, f, crs, datetime).")}
ERRORS_404 = {"404": _error("Deze collectie of dit object bestaat niet.")}


def ogc_paths() -> dict:
    """OpenAPI 3.0 path items for every /ogc route. Unknown query parameters are ignored by the service."""
    landing = {"type": "object", "required": ["links"], "properties": {
        "title": _TEXT, "description": _TEXT, "links": _LINKS}}
    conformance = {"type": "object", "required": ["conformsTo"], "properties": {
        "conformsTo": {"type": "array", "items": {"type": "string", "format": "uri"}}}}
    collection = {"type": "object", "required": ["id", "links"], "properties": {
        "id": {"type": "string", "enum": list(COLLECTIONS)}, "title": _TEXT, "description": _TEXT,
        "extent": {"type": "object", "properties": {"spatial": {"type": "object", "properties": {
            "bbox": {"type": "array", "items": {"type": "array", "items": {"type": "number"},
                                                "minItems": 4, "maxItems": 4}},
            "crs": _TEXT}}}},
        "itemType": {"type": "string", "enum": ["feature"]},
        "crs": {"type": "array", "items": _TEXT},
        "links": _LINKS}}
    collections = {"type": "object", "required": ["collections", "links"], "properties": {
        "links": _LINKS, "collections": {"type": "array", "items": collection}}}
    items = {"type": "object", "required": ["type", "features", "links", "timeStamp", "numberMatched",
                                            "numberReturned"], "properties": {
        "type": {"type": "string", "enum": ["FeatureCollection"]},
        "features": {"type": "array", "items": _any_feature()},
        "links": _LINKS,
        "timeStamp": {"type": "string", "format": "date-time"},
        "numberMatched": {"type": "integer", "minimum": 0},
        "numberReturned": {"type": "integer", "minimum": 0}}}
    return {
        "/ogc": _get("ogcLanding", "Startpunt van de OGC API Features.", [F],
                     _ok("Titel, beschrijving en links naar API-beschrijving, conformiteit en collecties.", landing),
                     ERRORS_400),
        "/ogc/conformance": _get("ogcConformance", "De conformiteitsklassen (core, geojson, oas30).", [F],
                                 _ok("De lijst conformsTo.", conformance), ERRORS_400),
        "/ogc/collections": _get(
            "ogcCollections", "De collecties: gemeenten, wijken, buurten (actief CBS-jaar), initiatives "
                              "(alleen gepubliceerd) en service_areas.", [F],
            _ok("Elke collectie met ruimtelijke omvang (CRS84) en links.", collections), ERRORS_400),
        "/ogc/collections/{collection_id}": _get(
            "ogcCollection", "Een collectie.", [COLLECTION_ID, F], _ok("De collectie.", collection),
            {**ERRORS_400, **ERRORS_404}),
        "/ogc/collections/{collection_id}/items": _get(
            "ogcItems", "Objecten van een collectie, in pagina's, in vaste volgorde (code of nummer).",
            [COLLECTION_ID, BBOX, BBOX_CRS, LIMIT, OFFSET, DATETIME, CRS, F],
            _ok("GeoJSON FeatureCollection in WGS84 met numberMatched, numberReturned en links "
                "(self, next, prev, collection).", items, GEOJSON),
            {**ERRORS_400, **ERRORS_404}),
        "/ogc/collections/{collection_id}/items/{feature_id}": _get(
            "ogcFeature", "Een object.", [COLLECTION_ID, FEATURE_ID, CRS, F],
            _ok("GeoJSON Feature in WGS84 met links (self, collection).", _any_feature(), GEOJSON),
            {**ERRORS_400, **ERRORS_404}),
    }
