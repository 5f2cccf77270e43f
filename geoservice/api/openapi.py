"""GET /api/v1/openapi.json: the OpenAPI 3.0 document of the JSON API, the health check, /ogc and /tiles."""

from __future__ import annotations

from flask import request

from ..ogc.openapi import ogc_paths
from ..vocab import INITIATIVE_KINDS, PARTNER_KINDS, PRECISIONS, SERVICE_AREA_TYPES, SERVICES, THEMES
from . import api, areas, initiatives, partners
from .geojson import CSV, GEOJSON, JSON, XLSX, respond

OPENAPI_VERSION = "3.0.3"
OPENAPI_MEDIA = "application/vnd.oai.openapi+json;version=3.0"
CBS_CODE = r"^(GM\d{4}|WK\d{4}[0-9A-Z]{2}|BU\d{4}[0-9A-Z]{4})$"


XLSX_SCHEMA = {"type": "string", "format": "binary",
               "description": "Excel-werkmap (.xlsx): dezelfde rijen en kolommen als de CSV, vetgedrukte kopregel; "
                              "tekst blijft tekst (nooit een formule)."}


def ref(name: str, kind: str = "schemas") -> dict:
    return {"$ref": f"#/components/{kind}/{name}"}


def nullable(schema: dict) -> dict:
    return {**schema, "nullable": True}


def obj(properties: dict, required: list[str] | None = None, **extra) -> dict:
    schema = {"type": "object", "properties": properties, **extra}
    if required is None:
        required = list(properties)
    return {**schema, "required": required} if required else schema


def param(name: str, description: str, schema: dict, *, where: str = "query", required: bool = False) -> dict:
    return {"name": name, "in": where, "description": description, "required": required or where == "path",
            "schema": schema}


def integer(default: int | None = None, minimum: int | None = None, maximum: int | None = None) -> dict:
    schema = {"type": "integer"}
    for key, value in (("default", default), ("minimum", minimum), ("maximum", maximum)):
        if value is not None:
            schema[key] = value
    return schema


def terms(vocabulary_schema: str, what: str) -> dict:
    """A repeatable vocabulary parameter: keys (listed), Dutch labels, or several separated by ; or ,."""
    return {"type": "array", "items": {"anyOf": [ref(vocabulary_schema), {
        "type": "string", "description": f"Het Nederlandse label van een {what}, of meerdere gescheiden door ; of ,"}]}}


def vocabulary(keys: dict | tuple, description: str) -> dict:
    return {"type": "string", "enum": list(keys), "description": description}


def ok(description: str, schema: dict, media: str = JSON, also: dict | None = None) -> dict:
    """A response with one schema, or several media types when `also` maps more of them."""
    content = {media: {"schema": schema}, **{m: {"schema": s} for m, s in (also or {}).items()}}
    return {"description": description, "content": content}


def operation(op_id: str, tag: str, summary: str, parameters: list, responses: dict, errors=("400",)) -> dict:
    return {"get": {"operationId": op_id, "tags": [tag], "summary": summary, "parameters": parameters,
                    "responses": {**responses, **{code: ref(f"E{code}", "responses") for code in errors}}}}


def _limit(spec: dict) -> dict:
    return param("limit", f"Hoeveel items per pagina ({spec['minimum']} tot en met {spec['maximum']}).",
                 integer(**spec))


OFFSET = param("offset", "Hoeveel items overslaan (voor de volgende pagina's; volg liever de next-link).",
               integer(0, 0, initiatives.MAX_OFFSET))
KIND = param("kind", "Soort initiatief: sleutel of label; herhaalbaar of gescheiden door ; (een van deze).",
             terms("InitiativeKind", "soort"))
THEME = param("theme", "Thema: sleutel of label; herhaalbaar of gescheiden door ; (minstens een van deze).",
              terms("Theme", "thema"))
CODE = param("code", "CBS-code van een gemeente (GM0344), wijk (WK034401) of buurt (BU03440101); "
                     "hoofdletters niet verplicht.", {"type": "string", "example": "BU03080102"}, where="path")


def _code(level: str, example: str) -> dict:
    return param(level, f"Alleen initiatieven in deze {level} (CBS-code, afgeleid van de locatie).",
                 {"type": "string", "example": example})


def paths() -> dict:
    text_schema = {"type": "string"}
    list_params = [
        param("bbox", "Alleen binnen dit gebied: minlon,minlat,maxlon,maxlat in WGS84 (CRS84).",
              {"type": "string", "example": "5.25,52.19,5.32,52.23"}),
        KIND, THEME, _code("gemeente", "GM0308"), _code("wijk", "WK030801"), _code("buurt", "BU03080102"),
        param("q", "Tekst in naam of beschrijving (hoofdletters tellen niet; % en _ zijn gewone tekens).",
              {"type": "string", "maxLength": initiatives.TEXT_MAX}),
        _limit(initiatives.LIST_LIMIT), OFFSET,
        param("format", "geojson (standaard), csv of xlsx: dezelfde selectie als CSV of Excel, met lat en lon.",
              {"type": "string", "enum": list(initiatives.FORMATS), "default": "geojson"}),
    ]
    nearby_params = [
        param("lat", "Breedtegraad (WGS84) van het zoekpunt; samen met lon.", {"type": "number", "minimum": -90,
                                                                                "maximum": 90}),
        param("lon", "Lengtegraad (WGS84) van het zoekpunt; samen met lat.", {"type": "number", "minimum": -180,
                                                                               "maximum": 180}),
        param("postcode", "Of: een postcode (1234AB, 1234 AB of 1234); niet samen met lat/lon.",
              {"type": "string", "pattern": r"^\s*[1-9]\d{3}\s*([A-Za-z]{2})?\s*$"}),
        param("address", "Of: een adres (straat en huisnummer, eventueel met plaats), bij voorkeur met postcode.",
              {"type": "string", "maxLength": initiatives.ADDRESS_MAX}),
        param("radius_m", "Zoekstraal in meters.", integer(**initiatives.NEARBY_RADIUS)),
        _limit(initiatives.NEARBY_LIMIT),
        param("offset", "Hoeveel van de dichtstbijzijnde overslaan: de volgende pagina begint bij offset = limit.",
              integer(**initiatives.NEARBY_OFFSET)),
        KIND, THEME,
    ]
    partner_params = [
        param("service", "Dienst: sleutel of label; herhaalbaar of gescheiden door ; (minstens een van deze).",
              terms("Service", "dienst")),
        param("kind", "Soort partner: sleutel of label; herhaalbaar of gescheiden door ;.",
              terms("PartnerKind", "soort partner")),
        _limit(partners.PARTNER_LIMIT), OFFSET,
    ]
    min_share = param("min_share", "Alleen partners die minstens dit deel (0 tot 1) van het gebied bedienen.",
                      {"type": "number", "minimum": 0, "maximum": 1, "default": areas.MIN_SHARE_DEFAULT})
    initiative_id = param("initiative_id", "Id van het initiatief.", {"type": "integer", "minimum": 1}, where="path")
    partner_id = param("partner_id", "Id van de partner.", {"type": "integer", "minimum": 1}, where="path")
    return {
        "/healthz": {"get": {
            "operationId": "healthz", "tags": ["Service"], "summary": "Werkt de database, welk CBS-jaar is actief?",
            "responses": {"200": ok("De database is bereikbaar.", ref("Health")),
                          "503": ok("De database is niet bereikbaar.", ref("HealthDown"))}}},
        "/api/v1/openapi.json": {"get": {
            "operationId": "openapi", "tags": ["Service"], "summary": "Dit document.",
            "responses": {"200": ok("OpenAPI 3.0", {"type": "object"}, OPENAPI_MEDIA)}}},
        "/api/v1/initiatives": operation(
            "listInitiatives", "Initiatieven", "Gepubliceerde initiatieven, gefilterd en in pagina's (op id).",
            list_params, {"200": ok("Een pagina initiatieven.", ref("InitiativeCollection"), GEOJSON, also={
                CSV: {"type": "string", "description": "CSV (UTF-8, komma's), met een Link-header voor next/prev; "
                                                       "tekst die met = + - @ begint krijgt een ' ervoor."},
                XLSX: XLSX_SCHEMA}) | {
                "headers": {
                    "Link": {"description": "Alleen bij CSV en xlsx: next/prev-links (RFC 8288).",
                             "schema": text_schema},
                    "X-Number-Matched": {"description": "Alleen bij CSV en xlsx: aantal gevonden initiatieven.",
                                         "schema": integer()}}}}),
        "/api/v1/initiatives/nearby": operation(
            "nearbyInitiatives", "Initiatieven",
            "Gepubliceerde initiatieven het dichtst bij een punt, postcode of adres.",
            nearby_params, {"200": ok("Op afstand (meters, over de ellipsoïde) gesorteerd.",
                                      ref("NearbyCollection"), GEOJSON)}, errors=("400", "404", "503")),
        "/api/v1/initiatives/{initiative_id}": operation(
            "getInitiative", "Initiatieven", "Een gepubliceerd initiatief.", [initiative_id],
            {"200": ok("Het initiatief.", ref("InitiativeFeature"), GEOJSON)}, errors=("404",)),
        "/api/v1/partners": operation(
            "listPartners", "Partners", "Ondersteunende organisaties (op naam).", partner_params,
            {"200": ok("Een pagina partners.", ref("PartnerList"))}),
        "/api/v1/partners/{partner_id}": operation(
            "getPartner", "Partners", "Een partner.", [partner_id], {"200": ok("De partner.", ref("Partner"))},
            errors=("404",)),
        "/api/v1/partners/{partner_id}/service-areas": operation(
            "partnerServiceAreas", "Partners", "De werkgebieden van een partner.", [partner_id],
            {"200": ok("Werkgebieden in WGS84.", ref("ServiceAreaCollection"), GEOJSON)}, errors=("404",)),
        "/api/v1/areas/lookup": operation(
            "lookupArea", "Gebieden", "Gemeente, wijk en buurt op een punt (actief CBS-jaar).",
            [param("lat", "Breedtegraad (WGS84).", {"type": "number", "minimum": -90, "maximum": 90}, required=True),
             param("lon", "Lengtegraad (WGS84).", {"type": "number", "minimum": -180, "maximum": 180}, required=True)],
            {"200": ok("De gebieden op het punt.", ref("Lookup"))},
            errors=("400", "404", "503")),
        "/api/v1/areas/{code}": operation(
            "getArea", "Gebieden", "Een gemeente, wijk of buurt met kerncijfers, initiatieven en partners.",
            [CODE], {"200": ok("Het gebied in WGS84.", ref("AreaFeature"), GEOJSON)}, errors=("400", "404", "503")),
        "/api/v1/areas/{code}/partners": operation(
            "areaPartners", "Gebieden", "Partners waarvan de werkgebieden dit gebied (deels) bedienen.",
            [CODE, min_share], {"200": ok("Op bediend deel gesorteerd.", ref("AreaPartners"))},
            errors=("400", "404", "503")),
    }


def schemas() -> dict:
    text, number, boolean = {"type": "string"}, {"type": "number"}, {"type": "boolean"}
    code = {"type": "string", "pattern": CBS_CODE}
    link = obj({"href": {"type": "string", "format": "uri"}, "rel": {"type": "string"}, "type": text,
                "title": text}, ["href", "rel"])
    position = {"type": "array", "items": number, "minItems": 2, "maxItems": 2}
    ring = {"type": "array", "items": position, "minItems": 4}
    initiative = obj({
        "id": {"type": "integer"}, "name": text, "kind": ref("InitiativeKind"),
        "themes": {"type": "array", "items": ref("Theme")},
        **{name: nullable(text) for name in ("description", "website", "email", "phone", "address", "postcode")},
        "location_precision": vocabulary(PRECISIONS, "Hoe precies de locatie is."),
        "last_verified": nullable({"type": "string", "format": "date"}),
        "gemeentecode": nullable(code), "wijkcode": nullable(code), "buurtcode": nullable(code),
        "source": text, "external_id": text, "updated_at": {"type": "string", "format": "date-time"},
        "voorbeeld": {"type": "boolean", "description": "Voorbeelddata (demo): bestaat niet echt."},
    })
    partner_fields = {
        "id": {"type": "integer"}, "name": text, "kind": ref("PartnerKind"),
        "services": {"type": "array", "items": ref("Service")},
        "themes": {"type": "array", "items": ref("Theme"),
                   "description": "Thema's van initiatieven waarbij de partner helpt; leeg: alle thema's."},
        **{name: nullable(text) for name in ("description", "website", "email", "phone")}, "source": text,
        "service_areas": {"type": "array", "items": obj({"id": {"type": "integer"}, "name": text,
                                                         "definition_type": vocabulary(SERVICE_AREA_TYPES, "")})},
    }
    area_summary = nullable(obj({"code": code, "naam": nullable(text), "aantal_inwoners": nullable(integer())}))
    area = obj({
        "level": vocabulary(("gemeente", "wijk", "buurt"), "Niveau van het gebied."), "code": code,
        "naam": nullable(text), "jaar": integer(), "water": nullable(boolean),
        "aantal_inwoners": nullable(integer()), "aantal_huishoudens": nullable(integer()),
        **{name: nullable(number) for name in ("pct_0_15", "pct_65plus", "bevolkingsdichtheid", "oppervlakte_land_ha")},
        "kerncijfers": {"type": "object", "additionalProperties": nullable(number),
                        "description": "Overige CBS-kerncijfers; null waar CBS geen waarde geeft."},
        "gemeentecode": nullable(code), "wijkcode": nullable(code),
        "counts": obj({
            "initiatives": integer(), "partners": integer(),
            "initiatives_by_kind": obj({k: integer() for k in INITIATIVE_KINDS}),
            "initiatives_by_theme": obj({k: integer() for k in THEMES})}),
    })

    def feature_of(properties: dict, geometry: str, id_schema: dict) -> dict:
        return obj({"type": {"type": "string", "enum": ["Feature"]}, "id": id_schema,
                    "geometry": ref(geometry), "properties": properties})

    def collection_of(item: str, **members) -> dict:
        return obj({"type": {"type": "string", "enum": ["FeatureCollection"]},
                    "features": {"type": "array", "items": ref(item)}, "numberReturned": integer(), **members})

    searched = obj({"lat": number, "lon": number,
                    "precision": vocabulary(("coordinates", "address", "postcode"),
                                            "coordinates: lat/lon gegeven; address: adres gevonden; "
                                            "postcode: midden van het postcodegebied (PC4)."),
                    "label": text,
                    "source": vocabulary(("request", "pdok", "pc4"),
                                         "request: uit het verzoek; pdok: PDOK Locatieserver; pc4: postcodebestand.")})
    return {
        "Error": obj({"code": text, "description": {"type": "string", "description": "Uitleg in het Nederlands."}}),
        "InitiativeKind": vocabulary(INITIATIVE_KINDS, "; ".join(f"{k}: {v}" for k, v in INITIATIVE_KINDS.items())),
        "Theme": vocabulary(THEMES, "; ".join(f"{k}: {v}" for k, v in THEMES.items())),
        "PartnerKind": vocabulary(PARTNER_KINDS, "; ".join(f"{k}: {v}" for k, v in PARTNER_KINDS.items())),
        "Service": vocabulary(SERVICES, "; ".join(f"{k}: {v}" for k, v in SERVICES.items())),
        "Link": link,
        "Point": obj({"type": {"type": "string", "enum": ["Point"]}, "coordinates": position}),
        "MultiPolygon": obj({"type": {"type": "string", "enum": ["MultiPolygon"]}, "coordinates": {
            "type": "array", "items": {"type": "array", "items": ring}}}),
        "InitiativeFeature": feature_of(initiative, "Point", integer()),
        "InitiativeCollection": collection_of(
            "InitiativeFeature", numberMatched=integer(), links={"type": "array", "items": ref("Link")}),
        "NearbyFeature": feature_of(obj({**initiative["properties"], "distance_m": {
            "type": "number", "description": "Afstand in meters (WGS84-ellipsoïde), op 0,1 m."}}), "Point", integer()),
        "NearbyCollection": collection_of("NearbyFeature", numberMatched=integer(), searched=searched,
                                          radius_m=integer()),
        "Partner": obj(partner_fields),
        "PartnerList": obj({"partners": {"type": "array", "items": ref("Partner")}, "numberMatched": integer(),
                            "numberReturned": integer(), "links": {"type": "array", "items": ref("Link")}}),
        "ServiceAreaFeature": feature_of(obj({
            "id": integer(), "partner_id": integer(), "name": text,
            "definition_type": vocabulary(SERVICE_AREA_TYPES, "Hoe het werkgebied is vastgelegd."),
            "definition": {"type": "object", "description": "codes, punt met straal, of GeoJSON-polygoon"},
            "cbs_jaar": nullable(integer()), "area_m2": {"type": "number", "description": "m² (RD New)"}}),
            "MultiPolygon", integer()),
        "ServiceAreaCollection": collection_of("ServiceAreaFeature", partner=obj({"id": integer(), "name": text})),
        "AreaFeature": feature_of(area, "MultiPolygon", code),
        "AreaPartners": obj({
            "area": obj({"code": code, "naam": nullable(text), "level": text, "jaar": integer()}),
            "min_share": number, "numberReturned": integer(),
            "partners": {"type": "array", "items": obj({**partner_fields, "covered_share": {
                "type": "number", "minimum": 0, "maximum": 1,
                "description": "Deel van het gebied binnen de werkgebieden van de partner (4 decimalen)."}})}}),
        "Lookup": obj({"jaar": integer(), "point": obj({"lat": number, "lon": number}),
                       "gemeente": area_summary, "wijk": area_summary, "buurt": area_summary}),
        "Health": obj({"status": {"type": "string", "enum": ["ok", "no_data"]}, "database": text,
                       "cbs_jaar": nullable(integer()),
                       "counts": {"type": "object", "additionalProperties": integer()}}),
        "HealthDown": obj({"status": {"type": "string", "enum": ["error"]}, "database": text, "description": text}),
    }


# --- gap analysis (/api/v1/gaps) -------------------------------------------------------------------

def gap_paths() -> dict:
    from ..analysis import gaps as analysis
    from ..analysis import need
    from . import gaps

    gemeente = param("gemeente", "CBS-code van de gemeente (GM0308); hoofdletters niet verplicht.",
                     {"type": "string", "example": "GM0308"})
    settings = [
        param("level", "Niveau van de gebieden: buurt of wijk. Zonder: per gemeente buurten waar die geladen zijn, "
                       "anders wijken.", vocabulary(analysis.LEVELS, "")),
        param("walk_m", "Een initiatief binnen zoveel meter van de rand van een gebied telt als 'in de buurt' "
                        "(erin telt ook).", integer(**analysis.WALK_M)),
        param("min_inwoners", "Gebieden met minder inwoners krijgen status low_population.",
              integer(**analysis.MIN_INWONERS)),
        param("kind", "Alleen initiatieven van deze soort tellen: sleutel of label; herhaalbaar of gescheiden door ;.",
              terms("InitiativeKind", "soort")),
        param("theme", "Alleen initiatieven met minstens een van deze thema's tellen; herhaalbaar of gescheiden "
                       "door ;.", terms("Theme", "thema")),
        param("partner_services", "Alleen partners met minstens een van deze diensten tellen; herhaalbaar of "
                                  "gescheiden door ;.", terms("Service", "dienst")),
        param("need", "Indicatoren van de behoefte (need) met hun gewicht, bijvoorbeeld ouderen:2,wmo:1; zonder "
                      "gewicht telt 1. Standaard: alle indicatoren met gewicht 1. Zie /api/v1/gaps/indicators.",
              {"type": "string", "example": "ouderen:2,wmo:1",
               "description": "Sleutels: " + ", ".join(need.INDICATOR_KEYS)}),
    ]
    unit_format = param("format", "geojson (standaard), csv of xlsx (Excel): dezelfde velden, zonder geometrie.",
                        {"type": "string", "enum": list(gaps.UNIT_FORMATS), "default": "geojson"})
    summary_params = [
        {**gemeente, "description": "Alleen deze gemeente (CBS-code); zonder: alle gemeenten."}, *settings,
        param("sort", "Kolom om op te sorteren.", {"type": "string", "enum": list(analysis.SORT_KEYS),
                                                   "default": "gemeentecode"}),
        param("order", "asc of desc; standaard desc voor getallen, asc voor code, naam en niveau. Lege waarden "
                       "komen altijd onderaan.", {"type": "string", "enum": list(gaps.ORDERS)}),
        param("format", "json (standaard), csv, xlsx (Excel, als de CSV), of geojson: elke gemeente als Feature met "
                        "de rij als properties en "
                        "de gemeentegrens als geometrie, vereenvoudigd voor zoom.",
              {"type": "string", "enum": list(gaps.SUMMARY_FORMATS), "default": "json"}),
        param("zoom", "Alleen bij format=geojson: het zoomniveau van de webkaart (0 tot 22) waarvoor de grenzen "
                      "vereenvoudigd worden, tot op een halve pixel (op 52° noorderbreedte, in meters RD).",
              integer(**gaps.ZOOM)),
    ]
    csv = {CSV: {"type": "string", "description": "CSV (UTF-8, komma's) met dezelfde velden als de JSON."},
           XLSX: XLSX_SCHEMA}
    return {
        "/api/v1/gaps": operation(
            "gapUnits", "Witte vlekken",
            "Witte vlekken in een gemeente: per buurt of wijk inwoners, initiatieven, partnerdekking en status.",
            [{**gemeente, "required": True}, *settings, unit_format,
             param("zoom", "Alleen bij format=geojson: het zoomniveau van de webkaart (0 tot 22); de grenzen worden "
                           "vereenvoudigd tot op een halve pixel. Zonder: tot op 1 meter.",
                   integer(minimum=gaps.ZOOM["minimum"], maximum=gaps.ZOOM["maximum"]))],
            {"200": ok("De gebieden met hun cijfers; geometrie in WGS84, vereenvoudigd tot op 1 m.",
                       ref("GapUnitCollection"), GEOJSON, also=csv)}, errors=("400", "404", "503")),
        "/api/v1/gaps/summary": operation(
            "gapSummary", "Witte vlekken",
            "Witte vlekken per gemeente: gebieden en inwoners per status, aandeel inwoners in witte vlekken, "
            "initiatieven per 1.000 inwoners en actieve partners.",
            summary_params, {"200": ok("Een rij per gemeente.", ref("GapSummaryList"),
                                       also={**csv, GEOJSON: ref("GapSummaryCollection")})},
            errors=("400", "404", "503")),
        "/api/v1/gaps/indicators": operation(
            "gapIndicators", "Witte vlekken",
            "De indicatoren van de behoefte (need): hun CBS-velden, richting, en per niveau hoeveel gebieden van "
            "het actieve CBS-jaar het cijfer hebben.",
            [], {"200": ok("De indicatoren.", ref("GapIndicators"))}, errors=("503",)),
    }


def need_keys() -> tuple[str, ...]:
    from ..analysis.need import INDICATOR_KEYS

    return INDICATOR_KEYS


def gap_schemas() -> dict:
    from ..analysis import gaps as analysis

    text, number = {"type": "string"}, {"type": "number"}
    code = {"type": "string", "pattern": CBS_CODE}
    share = {"type": "number", "minimum": 0, "maximum": 1}

    def level_or_null(description: str) -> dict:
        # OpenAPI 3.0: a nullable enum must list null itself, or validators refuse null
        return nullable(vocabulary((*analysis.LEVELS, None), description))
    unit = obj({
        "code": code, "level": vocabulary(analysis.LEVELS, "Niveau van het gebied."), "naam": nullable(text),
        "gemeentecode": code, "wijkcode": nullable(code), "aantal_inwoners": nullable(integer()),
        "n_initiatives": {**integer(), "description": "Gepubliceerde initiatieven (die tellen) in het gebied."},
        "n_nearby": {**integer(), "description": "Initiatieven binnen walk_m meter van het gebied (erin telt ook)."},
        "nearest_m": nullable({**number, "description": "Meter tot het dichtstbijzijnde initiatief: 0 als er een "
                                                        "in ligt, null als er geen binnen 50 km is."}),
        "initiatives_per_1000": nullable({**number, "description": "n_initiatives per 1.000 inwoners."}),
        "coverage": {**share, "description": "Deel van het gebied binnen de werkgebieden van de partners die tellen."},
        "n_partners": {**integer(), "description": "Partners waarvan de werkgebieden minstens de helft bedienen."},
        "status": vocabulary(analysis.STATUSES, "; ".join(f"{k}: {v}" for k, v in analysis.STATUS_LABELS.items())),
        "area_m2": {**number, "description": "Oppervlakte in m² (RD New)."},
        "need": nullable({**share, "description": "Behoefte 0..1: het gewogen gemiddelde van de scores (percent_rank "
                                                  "onder de gebieden van hetzelfde niveau en jaar) op de gevraagde "
                                                  "indicatoren; null als het gebied (en bij een buurt de wijk) er "
                                                  "geen heeft."}),
        "need_source": nullable(vocabulary(("buurt", "wijk", None), "Van wie de scores zijn: het gebied zelf, of "
                                                                  "(buurt zonder cijfers) zijn wijk.")),
        "need_reasons": {**text, "description": "De hoge scores (vanaf 0,75) in woorden, bijv. 'veel ouderen'."},
        "priority": nullable({**number, "minimum": 0,
                              "description": "aantal_inwoners × need bij status white_spot; anders null."}),
        "need_scores": {"type": "object", "additionalProperties": share,
                        "description": "Alleen in GeoJSON: de score per gevraagde indicator die meetelde."},
        "nearest_initiative": nullable({**text, "description": "Naam van het dichtstbijzijnde initiatief dat telt "
                                                               "(binnen 50 km)."}),
        "nearest_initiative_id": nullable(integer()),
        "demo_data": {"type": "boolean", "description": "Tellen er voorbeeldgegevens mee (zie demo)?"},
    }, [name for name in (*analysis.UNIT_COLUMNS, "need_scores")])
    terms_of = {name: {"type": "array", "items": ref(schema)}
                for name, schema in (("kinds", "InitiativeKind"), ("themes", "Theme"), ("partner_services", "Service"))}
    used = obj({
        "level": level_or_null("null: het fijnste niveau per gemeente."),
        "walk_m": integer(), "min_inwoners": integer(), **terms_of,
        "nearest_max_m": integer(), "coverage_min": number, "partner_share_min": number,
        "cbs_jaar": integer(), "gemeente": nullable(code),
        "need": {"type": "object", "additionalProperties": number,
                 "description": "De gevraagde indicatoren met hun gewicht."},
        "sort": vocabulary(analysis.SORT_KEYS, ""), "order": vocabulary(("asc", "desc"), ""),
        "zoom": {**integer(), "description": "Alleen bij format=geojson van de samenvatting."},
        "tolerance_m": {**number, "description": "Alleen bij format=geojson van de samenvatting: de "
                                                 "vereenvoudiging van de grenzen in meters (RD)."},
    }, ["level", "walk_m", "min_inwoners", *terms_of, "nearest_max_m", "coverage_min", "partner_share_min",
        "cbs_jaar", "gemeente", "need"])
    labels = obj({s: text for s in analysis.STATUSES})
    counts = {name: integer() for name in analysis.SUMMARY_COLUMNS if name.startswith(("units", "inwoners_"))}
    summary = obj({
        "gemeentecode": code, "naam": nullable(text),
        "level": level_or_null("null: geen gebieden, of buurten en wijken gemengd."),
        **counts, "aantal_inwoners": nullable(integer()), "white_spot_share": nullable(share),
        "n_initiatives": integer(), "initiatives_per_1000": nullable(number), "partners_active": integer(),
        "priority_total": {**number, "minimum": 0, "description": "Som van de priority van de gebieden."},
        "no_initiative_nearby_share": nullable({**share, "description": "Aandeel inwoners in gebieden zonder "
                                                                        "initiatief binnen walk_m, wat de partners "
                                                                        "ook doen."}),
        "n_initiatives_outside": {**integer(minimum=0), "description": "Initiatieven van de gemeente (volgens hun "
                                                                      "CBS-codes) in geen van haar gebieden."},
        "n_initiatives_example": {**integer(minimum=0), "description": "Hoeveel van n_initiatives voorbeelden zijn."},
        "partners_active_example": {**integer(minimum=0),
                                    "description": "Hoeveel van partners_active voorbeelden zijn."},
    }, [name for name in analysis.SUMMARY_COLUMNS])
    demo = obj({"initiatives": integer(minimum=0), "initiatives_example": integer(minimum=0),
                "partners": integer(minimum=0), "partners_example": integer(minimum=0), "demo_data": {"type": "boolean"},
                "note": nullable({**text, "description": "De zin die pagina's tonen als er voorbeelddata meetelt."})},
               description="Tellen er voorbeeldgegevens (demo of benchmark) mee in deze cijfers?")
    per_level = obj({"with_figure": integer(minimum=0), "total": integer(minimum=0)})
    indicator = obj({
        "key": vocabulary(need_keys(), ""), "label": text, "description": text,
        "cbs_fields": {"type": "array", "items": text}, "derivation": text,
        "direction": vocabulary(("higher_is_more_need", "lower_is_more_need"), ""),
        "units": obj({level: per_level for level in analysis.LEVELS})})
    return {
        "GapIndicators": obj({"cbs_jaar": integer(), "high_score": share, "default_need": text,
                              "indicators": {"type": "array", "items": indicator}}),
        "GapParameters": used,
        "GapUnitFeature": obj({"type": {"type": "string", "enum": ["Feature"]}, "id": code,
                               "geometry": ref("MultiPolygon"), "properties": unit}),
        "GapUnitCollection": obj({
            "type": {"type": "string", "enum": ["FeatureCollection"]}, "parameters": ref("GapParameters"),
            "gemeente": obj({"code": code, "naam": nullable(text)}), "status_labels": labels,
            "numberReturned": integer(), "demo": ref("DemoData"),
            "features": {"type": "array", "items": ref("GapUnitFeature")}}),
        "DemoData": demo,
        "GapSummary": summary,
        "GapSummaryList": obj({"parameters": ref("GapParameters"), "status_labels": labels, "numberReturned": integer(),
                               "demo": ref("DemoData"), "gemeenten": {"type": "array", "items": ref("GapSummary")}}),
        "GapSummaryFeature": obj({"type": {"type": "string", "enum": ["Feature"]}, "id": code,
                                  "geometry": ref("MultiPolygon"), "properties": ref("GapSummary")}),
        "GapSummaryCollection": obj({
            "type": {"type": "string", "enum": ["FeatureCollection"]}, "parameters": ref("GapParameters"),
            "status_labels": labels, "numberReturned": integer(), "demo": ref("DemoData"),
            "features": {"type": "array", "items": ref("GapSummaryFeature")}}),
    }


# --- service areas per gemeente (/api/v1/service-areas) --------------------------------------------

def service_area_paths() -> dict:
    gemeente = param("gemeente", "CBS-code van de gemeente (GM0363); hoofdletters niet verplicht.",
                     {"type": "string", "example": "GM0363"}, required=True)
    return {"/api/v1/service-areas": operation(
        "gemeenteServiceAreas", "Partners",
        "De werkgebieden van alle partners die (deels) in een gemeente liggen; alleen de grens raken telt niet.",
        [gemeente], {"200": ok("Hele werkgebieden in WGS84, vereenvoudigd tot op 1 m; op naam van de partner.",
                               ref("GemeenteServiceAreaCollection"), GEOJSON)}, errors=("400", "404", "503"))}


def service_area_schemas() -> dict:
    text = {"type": "string"}
    properties = obj({
        "id": integer(), "partner_id": integer(), "partner_name": text, "name": text,
        "definition_type": vocabulary(SERVICE_AREA_TYPES, "Hoe het werkgebied is vastgelegd."),
        "cbs_jaar": nullable(integer()), "area_m2": {"type": "number", "description": "m² (RD New), het hele gebied"}})
    return {
        "GemeenteServiceAreaFeature": obj({"type": {"type": "string", "enum": ["Feature"]}, "id": integer(),
                                           "geometry": ref("MultiPolygon"), "properties": properties}),
        "GemeenteServiceAreaCollection": obj({
            "type": {"type": "string", "enum": ["FeatureCollection"]},
            "gemeente": obj({"code": {"type": "string", "pattern": CBS_CODE}, "naam": nullable(text)}),
            "numberPartners": {**integer(), "description": "Verschillende partners met een werkgebied hier."},
            "numberReturned": integer(),
            "features": {"type": "array", "items": ref("GemeenteServiceAreaFeature")}}),
    }


# --- outreach regions (/api/v1/outreach) -----------------------------------------------------------

def outreach_paths() -> dict:
    from ..analysis import outreach as analysis
    from . import outreach as outreach_api

    shared = {p["name"]: p for p in gap_paths()["/api/v1/gaps"]["get"]["parameters"]}  # the same gap settings
    parameters = [
        param("partner", "Id van een partner: regio's binnen reach_m van zijn werkgebieden. Niet samen met gemeente.",
              integer(minimum=1)),
        param("gemeente", "Of: CBS-code van een gemeente (GM0308): de regio's in die gemeente.",
              {"type": "string", "example": "GM0308"}),
        param("cluster_m", "Gebieden die elkaar raken of hooguit zoveel meter uit elkaar liggen (ook via andere "
                           "gebieden) vormen één regio.", integer(**analysis.CLUSTER_M)),
        param("reach_m", "Alleen met partner: gebieden binnen zoveel meter van zijn werkgebieden.",
              integer(**analysis.REACH_M)),
        param("include_no_support", "Ook gebieden met een initiatief in de buurt maar te weinig partnerdekking "
                                    "(no_support).", {"type": "boolean", "default": False}),
        *(shared[name] for name in ("level", "walk_m", "min_inwoners", "kind", "theme", "partner_services")),
        param("format", "geojson (standaard), csv of xlsx (Excel): een rij per regio, zonder geometrie; de codes, "
                        "namen en statussen van de gebieden gescheiden door ;.",
              {"type": "string", "enum": list(outreach_api.FORMATS), "default": "geojson"}),
    ]
    csv = {CSV: {"type": "string", "description": "CSV (UTF-8, komma's), een rij per regio: "
                 + ", ".join(analysis.REGION_CSV_COLUMNS) + ". Lijsten gescheiden door ;, in dezelfde volgorde."},
           XLSX: XLSX_SCHEMA}
    return {"/api/v1/outreach": operation(
        "outreachRegions", "Witte vlekken",
        "Regio's om te groeien: witte vlekken bij elkaar, op inwoners gesorteerd, voor een partner of een gemeente.",
        parameters, {"200": ok("De regio's; geometrie in WGS84 (vereniging van de gebieden, niet vereenvoudigd).",
                               ref("OutreachCollection"), GEOJSON, also=csv)}, errors=("400", "404", "503"))}


def outreach_schemas() -> dict:
    from ..analysis import gaps as analysis

    text, number, code = {"type": "string"}, {"type": "number"}, {"type": "string", "pattern": CBS_CODE}
    unit = obj({"code": code, "naam": nullable(text), "level": vocabulary(analysis.LEVELS, ""), "gemeentecode": code,
                "aantal_inwoners": integer(), "status": vocabulary(("white_spot", "no_support"), ""),
                "area_m2": {**number, "description": "m² (RD New)"}, "need": nullable(number),
                "need_source": nullable(vocabulary(("buurt", "wijk", None), "")), "need_reasons": text,
                "priority": nullable(number)})
    region = obj({"rank": integer(minimum=1), "n_units": integer(minimum=1),
                  "aantal_inwoners": {**integer(), "description": "Som van de inwoners van de gebieden."},
                  "priority": {**number, "description": "Som van de priority van de gebieden; de regio's staan "
                                                        "daarop gesorteerd."},
                  "area_m2": {**number, "description": "Oppervlakte van de regio in m² (RD New)."},
                  "units": {"type": "array", "items": unit, "description": "Hoogste priority eerst, dan meeste "
                                                                           "inwoners."}})
    used = {"allOf": [ref("GapParameters"), obj({
        "partner": nullable(integer()), "cluster_m": integer(), "reach_m": nullable(integer()),
        "include_no_support": {"type": "boolean"},
        "statuses": {"type": "array", "items": vocabulary(("white_spot", "no_support"), "")}})]}
    return {
        "OutreachFeature": obj({"type": {"type": "string", "enum": ["Feature"]}, "id": integer(minimum=1),
                                "geometry": ref("MultiPolygon"), "properties": region}),
        "OutreachCollection": obj({
            "type": {"type": "string", "enum": ["FeatureCollection"]}, "parameters": used,
            "numberReturned": integer(), "demo": ref("DemoData"),
            "features": {"type": "array", "items": ref("OutreachFeature")}}),
    }


def tile_paths() -> dict:
    """/tiles: Mapbox Vector Tiles of the CBS areas and the initiatives (geoservice/tiles.py)."""
    from .. import tiles

    layers = ", ".join(f"{layer} vanaf zoom {zoom}" for layer, zoom in tiles.MIN_ZOOM.items())
    number = {"type": "integer", "minimum": 0}
    return {"/tiles/{layer}/{z}/{x}/{y}.mvt": {"get": {
        "operationId": "tile", "tags": ["Gebieden"],
        "summary": "Vectortegel (Mapbox Vector Tile 2.1, Web Mercator, extent 4096) van een laag.",
        "description": (
            f"Lagen: {layers}; daaronder, of waar niets is, 204. Attributen: gemeenten, wijken en buurten van het "
            "actieve CBS-jaar code, naam, aantal_inwoners; wijken en buurten ook status, n_initiatives, n_nearby en "
            "coverage van de witte-vlekkenanalyse met de standaardinstellingen; initiatieven id, name, kind en "
            "themes (gescheiden door ;). Vereenvoudigd tot ongeveer één pixel per zoomniveau."),
        "parameters": [
            param("layer", "De laag.", {"type": "string", "enum": list(tiles.LAYERS)}, where="path", required=True),
            param("z", "Zoomniveau.", {**number, "maximum": tiles.MAX_ZOOM}, where="path", required=True),
            param("x", "Kolom van de tegel (0 tot 2^z).", number, where="path", required=True),
            param("y", "Rij van de tegel (0 tot 2^z, van noord naar zuid).", number, where="path", required=True),
        ],
        "responses": {
            "200": ok("De tegel.", {"type": "string", "format": "binary"}, tiles.MVT_TYPE),
            "204": {"description": "Niets op deze tegel (of onder de laagste zoom van de laag)."},
            "400": ref("E400", "responses"), "404": ref("E404", "responses"),
        }}}}


def merge_path_items(*groups: dict) -> dict:
    """Paths of several modules in one; a path documented by two (GET here, PATCH there) keeps both."""
    merged: dict = {}
    for group in groups:
        for path, item in group.items():
            merged[path] = {**merged.get(path, {}), **item}
    return merged


def document() -> dict:
    """The whole document; the server URL is the one this request came in on."""
    # the write endpoints' modules build on this one's helpers, so they are imported here, not at the top
    from . import openapi_moderation as moderation
    from . import openapi_partner_editing as partner_editing
    from . import openapi_support as support

    error = {"content": {JSON: {"schema": ref("Error")}}}
    return {
        "openapi": OPENAPI_VERSION,
        "info": {
            "title": "Samenkaart API",
            "version": "1",
            "description": "Initiatieven, partners en CBS-gebieden. GeoJSON in WGS84 (lon, lat; RFC 7946). "
                           "Alleen gepubliceerde initiatieven zijn zichtbaar. Fouten: {code, description}.",
            "license": {"name": "Data: CBS / Kadaster, CC BY 4.0"},
        },
        "servers": [{"url": request.url_root.rstrip("/")}],
        "tags": [{"name": n} for n in ("Initiatieven", "Partners", "Gebieden", "Witte vlekken", "Service",
                                       moderation.TAG_SUBMIT, moderation.TAG_MODERATION)],
        "paths": merge_path_items(paths(), gap_paths(), service_area_paths(), outreach_paths(), ogc_paths(), tile_paths(),
                                  moderation.paths(), partner_editing.paths(), support.paths()),
        "components": {
            "schemas": {**schemas(), **gap_schemas(), **service_area_schemas(), **outreach_schemas(),
                        **moderation.schemas(), **partner_editing.schemas(), **support.schemas()},
            "securitySchemes": partner_editing.bearer_scheme(),
            "responses": {
                "E400": {"description": "Ontbrekende of ongeldige parameter.", **error},
                "E404": {"description": "Bestaat niet (of niet gepubliceerd), of niets gevonden.", **error},
                "E503": {"description": "Geen CBS-kaart geladen, of de geocoder is niet bereikbaar.", **error},
            },
        },
    }


@api.get("/openapi.json")
def openapi_json():
    return respond(document(), OPENAPI_MEDIA)
