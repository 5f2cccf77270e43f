"""OpenAPI of the partner editors' writes: PATCH /partners/{id}, POST and DELETE of its service areas.

paths() gives only the new operations; two of its paths also have a GET in openapi.paths(), so merge
per path item (openapi.merge_path_items does), not per path. schemas() refers to Partner, PartnerKind, Service, Error and
MultiPolygon of openapi.schemas(). The document needs a bearerAuth security scheme (bearer_scheme()).
"""

from __future__ import annotations

from ..partners import validation as limits
from ..vocab import SERVICE_AREA_TYPES
from .geojson import GEOJSON, JSON
from .openapi import integer, nullable, obj, ok, param, ref
from .partner_editing import WRITES

BEARER = [{"bearerAuth": []}]
TAG = "Partners"
ERRORS = {
    "400": "Ongeldige invoer; niets opgeslagen. De beschrijving noemt elk veld met de reden.",
    "401": "Geen of een ongeldig API-token (Authorization: Bearer <token>).",
    "403": "Dit token mag deze partner niet bewerken: alleen de redacteur van de partner of een beheerder.",
    "404": "De partner (of het werkgebied van deze partner) bestaat niet.",
    "413": "De body is groter dan de uploadlimiet.",
    "429": f"Te veel wijzigingen: hoogstens {WRITES.limit} per {WRITES.window_s} seconden per gebruiker. "
           "Retry-After zegt na hoeveel seconden het weer kan.",
}


def bearer_scheme() -> dict:
    """For components.securitySchemes (the integrator adds it once for the whole document)."""
    return {"bearerAuth": {"type": "http", "scheme": "bearer",
                           "description": "Een API-token van een gebruiker (geoservice tokens create); "
                                          "alleen nodig om te schrijven."}}


def _error(description: str, *, headers: dict | None = None) -> dict:
    response = {"description": description, "content": {JSON: {"schema": ref("Error")}}}
    return {**response, "headers": headers} if headers else response


def _errors(*codes: str) -> dict:
    out = {}
    for code in codes:
        headers = None
        if code == "401":
            headers = {"WWW-Authenticate": {"description": "Bearer realm=\"samenkaart\"", "schema": {"type": "string"}}}
        elif code == "429":
            headers = {"Retry-After": {"description": "Seconden tot het weer kan.", "schema": integer(minimum=1)}}
        out[code] = _error(ERRORS[code], headers=headers)
    return out


def _body(schema: dict, description: str, examples: dict | None = None) -> dict:
    content = {"schema": schema, **({"examples": examples} if examples else {})}
    return {"required": True, "description": description, "content": {JSON: content}}


def paths() -> dict:
    partner_id = param("partner_id", "Id van de partner.", {"type": "integer", "minimum": 1}, where="path")
    area_id = param("area_id", "Id van het werkgebied.", {"type": "integer", "minimum": 1}, where="path")
    area_examples = {
        "codes": {"summary": "CBS-gebieden", "value": {"name": "Baarn-Noord", "codes": ["WK030801", "BU03080003"]}},
        "radius": {"summary": "Punt en straal", "value": {"name": "Rond het kantoor",
                                                          "point": {"lat": 52.2165, "lon": 5.2878}, "radius_m": 3000}},
        "geojson": {"summary": "Eigen vorm", "value": {"name": "Getekend gebied", "geojson": {
            "type": "Polygon", "coordinates": [[[5.28, 52.21], [5.30, 52.21], [5.30, 52.22], [5.28, 52.21]]]}}},
    }
    return {
        "/api/v1/partners/{partner_id}": {"patch": {
            "operationId": "updatePartner", "tags": [TAG], "security": BEARER,
            "summary": "Het profiel van een partner wijzigen (redacteur van die partner of beheerder).",
            "description": "Alleen de meegestuurde velden veranderen; null of lege tekst wist een veld dat niet "
                           "verplicht is. Elke wijziging komt in het auditlog.",
            "parameters": [partner_id],
            "requestBody": _body(ref("PartnerProfileChange"), "De velden die veranderen.",
                                 {"website": {"summary": "Website en diensten", "value": {
                                     "website": "https://example.org", "services": ["advies", "training"]}}}),
            "responses": {"200": ok("De partner na de wijziging.", ref("Partner")),
                          **_errors("400", "401", "403", "404", "413", "429")}}},
        "/api/v1/partners/{partner_id}/service-areas": {"post": {
            "operationId": "addServiceArea", "tags": [TAG], "security": BEARER,
            "summary": "Een werkgebied toevoegen: CBS-gebieden, een punt met straal, of een GeoJSON-polygoon.",
            "description": "Gecontroleerd en opgebouwd zoals bij de import: codes van het actieve CBS-jaar, een "
                           "straal van 1 m tot 100 km, een ongeldige polygoon wordt hersteld (ST_MakeValid). "
                           "De dekking in de witte-vlekkenanalyse telt het werkgebied meteen mee.",
            "parameters": [partner_id],
            "requestBody": _body(ref("ServiceAreaDefinition"), "Naam en precies één definitie.", area_examples),
            "responses": {"201": ok("Het nieuwe werkgebied in WGS84.", ref("ServiceAreaWritten"), GEOJSON),
                          **_errors("400", "401", "403", "404", "413", "429"),
                          "503": _error("Er is geen CBS-kaart geladen, dus het werkgebied kan niet worden "
                                        "gecontroleerd.")}}},
        "/api/v1/partners/{partner_id}/service-areas/{area_id}": {"delete": {
            "operationId": "removeServiceArea", "tags": [TAG], "security": BEARER,
            "summary": "Een werkgebied van de partner verwijderen.",
            "parameters": [partner_id, area_id],
            "responses": {"204": {"description": "Verwijderd."}, **_errors("401", "403", "404", "429")}}},
    }


def schemas() -> dict:
    text = {"type": "string"}
    optional_text = {"type": "string", "nullable": True}
    services = {"oneOf": [{"type": "array", "items": {"type": "string"}}, text], "description":
                "Sleutels of Nederlandse labels van diensten (zie Service), als lijst of gescheiden door ; of ,."}
    position = {"type": "array", "items": {"type": "number"}, "minItems": 2, "maxItems": 3}
    ring = {"type": "array", "items": position, "minItems": 4}
    polygon_coordinates = {"type": "array", "items": ring, "minItems": 1}
    return {
        "PartnerProfileChange": obj({
            "name": {**text, "maxLength": limits.MAX_LENGTH["name"], "description": "Uniek (hoofdletters en "
                                                                                     "accenten tellen niet)."},
            "kind": {**text, "description": "Sleutel of label, zie PartnerKind."},
            "services": services,
            "themes": {"oneOf": [{"type": "array", "items": {"type": "string"}}, text], "description":
                       "Thema's van initiatieven waarbij de partner helpt: sleutels of Nederlandse labels (zie Theme), "
                       "als lijst of gescheiden door ; of ,. Leeg: alle thema's."},
            "description": {**optional_text, "maxLength": limits.MAX_LENGTH["description"]},
            "website": {**optional_text, "description": "http(s)-adres."},
            "email": {**optional_text, "description": "Openbaar e-mailadres."},
            "phone": {**optional_text, "description": "Openbaar telefoonnummer."},
        }, [], additionalProperties=False),
        "ServiceAreaDefinition": obj({
            "name": {**text, "maxLength": limits.MAX_LENGTH["name"],
                     "description": "Uniek binnen de partner (hoofdletters en accenten tellen niet)."},
            "codes": {"oneOf": [{"type": "array", "items": text, "minItems": 1, "maxItems": limits.MAX_CODES}, text],
                      "description": "CBS-codes van gemeenten, wijken en buurten (mengen mag), actief CBS-jaar."},
            "point": obj({"lat": {"type": "number", "minimum": -90, "maximum": 90},
                          "lon": {"type": "number", "minimum": -180, "maximum": 180}},
                         additionalProperties=False, description="WGS84; samen met radius_m."),
            "radius_m": {"type": "number", "minimum": limits.MIN_RADIUS_M, "maximum": limits.MAX_RADIUS_M,
                         "description": "Straal in meters, alleen bij point."},
            "geojson": {"type": "object", "description": (
                f"Een GeoJSON Polygon of MultiPolygon in WGS84 (lon, lat), of een Feature of FeatureCollection met "
                f"precies één daarvan; hoogstens {limits.MAX_POSITIONS} punten."),
                "properties": {"type": {"type": "string", "enum": ["Polygon", "MultiPolygon", "Feature",
                                                                   "FeatureCollection"]},
                               "coordinates": {"oneOf": [polygon_coordinates,
                                                         {"type": "array", "items": polygon_coordinates}]}},
                "required": ["type"]},
        }, ["name"], additionalProperties=False),
        "ServiceAreaWritten": obj({
            "type": {"type": "string", "enum": ["Feature"]}, "id": integer(), "geometry": ref("MultiPolygon"),
            "properties": obj({
                "id": integer(), "partner_id": integer(), "name": text,
                "definition_type": {"type": "string", "enum": list(SERVICE_AREA_TYPES)},
                "definition": {"type": "object", "description": "Zoals opgeslagen: codes, punt met straal, of "
                                                                "de GeoJSON-geometrie."},
                "cbs_jaar": nullable(integer()), "area_m2": {"type": "number", "description": "m² (RD New)"},
                "repaired": nullable({**text, "description": "Wat er mis was met de polygoon en hersteld is; null "
                                                             "als er niets te herstellen was."})})}),
    }
