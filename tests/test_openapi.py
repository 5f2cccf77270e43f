"""GET /api/v1/openapi.json: a valid OpenAPI document that covers every route and tells the truth."""

from __future__ import annotations

import re

import pytest
from openapi_schema_validator import OAS30Validator
from openapi_spec_validator import validate

from geoservice.vocab import INITIATIVE_KINDS, THEMES

from .helpers import make_initiative
from .helpers import BUURT_GEOM, add_partner, add_service_area


@pytest.fixture(scope="module")
def document(app):
    response = app.test_client().get("/api/v1/openapi.json")
    assert response.status_code == 200
    assert response.mimetype == "application/vnd.oai.openapi+json"
    return response.get_json()


def test_the_document_is_valid_openapi(document):
    validate(document)
    assert document["openapi"].startswith("3.")


def _documented_path(rule: str) -> str:
    return re.sub(r"<(?:[a-z]+:)?([a-z_]+)>", r"{\1}", rule)


def _assert_documented(routes, document):
    for rule in routes:
        path = _documented_path(rule.rule)
        if path not in document["paths"] and path.rstrip("/") in document["paths"]:
            path = path.rstrip("/")  # the OGC landing page answers with and without a slash
        assert path in document["paths"], path
        for method in rule.methods - {"HEAD", "OPTIONS"}:
            assert method.lower() in document["paths"][path], (path, method)


def test_every_api_route_is_documented_with_its_methods(app, document):
    routes = [r for r in app.url_map.iter_rules() if r.rule.startswith(("/api/v1", "/healthz", "/tiles/"))]
    assert len(routes) >= 12
    _assert_documented(routes, document)


def test_the_tile_layers_and_zooms_documented_are_those_served(client, document):
    tile = document["paths"]["/tiles/{layer}/{z}/{x}/{y}.mvt"]["get"]
    by_name = {p["name"]: p["schema"] for p in tile["parameters"]}
    for layer in by_name["layer"]["enum"]:
        assert client.get(f"/tiles/{layer}/0/0/0.mvt").status_code in (200, 204), layer
    assert client.get("/tiles/onbekend/0/0/0.mvt").status_code == 404
    top = by_name["z"]["maximum"]
    assert client.get(f"/tiles/gemeenten/{top}/0/0.mvt").status_code in (200, 204)
    assert client.get(f"/tiles/gemeenten/{top + 1}/0/0.mvt").status_code == 400


def test_every_ogc_route_is_documented_once_the_ogc_paths_are_there(app, document):
    from geoservice.ogc.openapi import ogc_paths

    if not ogc_paths():
        pytest.skip("geoservice.ogc.openapi.ogc_paths() is still empty")
    routes = [r for r in app.url_map.iter_rules() if r.rule.startswith("/ogc/")]
    _assert_documented(routes, document)


def test_path_parameters_match_the_route_variables(app, document):
    for rule in app.url_map.iter_rules():
        path = _documented_path(rule.rule)
        if path.startswith("/api/v1") and rule.arguments:
            for method, operation in document["paths"][path].items():
                declared = {p["name"] for p in operation.get("parameters", []) if p["in"] == "path"}
                assert declared == set(rule.arguments), (path, method)


def test_vocabularies_are_the_service_vocabularies(document):
    schemas = document["components"]["schemas"]
    assert schemas["InitiativeKind"]["enum"] == list(INITIATIVE_KINDS)
    assert schemas["Theme"]["enum"] == list(THEMES)
    assert set(schemas["Error"]["required"]) == {"code", "description"}


def _query_params(document):
    for path, item in document["paths"].items():
        # the public reads; token-protected ones answer 401 before they look at parameters
        if path.startswith("/api/v1") and "{" not in path and "get" in item and "security" not in item["get"]:
            for p in item["get"].get("parameters", []):
                if p["in"] == "query":
                    yield path, p


# What a path needs before any other parameter can be tried on its own.
REQUIRED = {"/api/v1/initiatives/nearby": "lat=52.2165&lon=5.2878&", "/api/v1/gaps": "gemeente=GM0308&",
            "/api/v1/outreach": "gemeente=GM0308&", "/api/v1/service-areas": "gemeente=GM0308&",
            "/api/v1/support": "lat=52.2165&lon=5.2878&"}
EXCLUSIVE = {("/api/v1/outreach", "partner")}  # not together with the required gemeente


def test_documented_integer_ranges_are_enforced(client, document):
    checked = 0
    for path, p in _query_params(document):
        schema = p["schema"]
        if schema.get("type") != "integer" or (path, p["name"]) in EXCLUSIVE:
            continue
        prefix = REQUIRED.get(path, "")
        for bad in (schema.get("maximum", 0) + 1, schema.get("minimum", 0) - 1):
            if bad == schema.get("maximum", 0) + 1 and "maximum" not in schema:
                continue
            response = client.get(f"{path}?{prefix}{p['name']}={bad}")
            assert response.status_code == 400, (path, p["name"], bad)
        for good in (schema["minimum"], schema.get("maximum", schema["minimum"]), schema.get("default")):
            if good is not None:
                response = client.get(f"{path}?{prefix}{p['name']}={good}")
                assert response.status_code == 200, (path, p["name"], good)
        checked += 1
    assert checked >= 6


def test_documented_enums_are_accepted_and_others_refused(client, document):
    for path, p in _query_params(document):
        items = p["schema"].get("items", {})
        enum_ref = next((s["$ref"] for s in items.get("anyOf", []) if "$ref" in s), None)
        if not enum_ref:
            continue
        values = document["components"]["schemas"][enum_ref.rsplit("/", 1)[1]]["enum"]
        prefix = REQUIRED.get(path, "")
        assert client.get(f"{path}?{prefix}{p['name']}={';'.join(values)}").status_code == 200, path
        assert client.get(f"{path}?{prefix}{p['name']}=geen-van-alle").status_code == 400, path


def _validator(document, schema: dict) -> OAS30Validator:
    # the components travel along so that #/components/... references resolve
    return OAS30Validator({**schema, "components": document["components"]})


def _schema_of(document, path: str, status: str = "200", media: str | None = None) -> dict:
    responses = document["paths"][path]["get"]["responses"]
    response = responses[status]
    if "$ref" in response:
        response = document["components"]["responses"][response["$ref"].rsplit("/", 1)[1]]
    content = response["content"]
    return content[media or next(iter(content))]["schema"]


def test_real_responses_match_their_documented_schemas(fresh_db_url, engine_for, app_for):
    engine = engine_for(fresh_db_url)
    with engine.begin() as conn:
        initiative = make_initiative(conn, themes=["jeugd", "ontmoeting"], description="Voor en door de buurt")
        partner = add_partner(conn, "Stichting Voorbeeld", services=["advies"], website="https://example.org")
        add_service_area(conn, partner, "Staatsliedenwijk", BUURT_GEOM, code="BU03080102",
                         definition_type="codes", definition={"codes": ["BU03080102"]})
    app = app_for(fresh_db_url, geocoder="offline")
    client = app.test_client()
    document = client.get("/api/v1/openapi.json").get_json()
    cases = [
        ("/healthz", "/healthz", "200"),
        ("/api/v1/initiatives", "/api/v1/initiatives?limit=5", "200"),
        ("/api/v1/initiatives/nearby", "/api/v1/initiatives/nearby?lat=52.2165&lon=5.2878", "200"),
        ("/api/v1/initiatives/nearby", "/api/v1/initiatives/nearby?postcode=3741%20AB", "200"),
        ("/api/v1/initiatives/nearby", "/api/v1/initiatives/nearby?postcode=9999", "404"),
        ("/api/v1/initiatives/nearby", "/api/v1/initiatives/nearby?address=Laanstraat%201", "503"),
        ("/api/v1/initiatives/{initiative_id}", f"/api/v1/initiatives/{initiative}", "200"),
        ("/api/v1/initiatives/{initiative_id}", "/api/v1/initiatives/999999", "404"),
        ("/api/v1/partners", "/api/v1/partners", "200"),
        ("/api/v1/partners/{partner_id}", f"/api/v1/partners/{partner}", "200"),
        ("/api/v1/partners/{partner_id}/service-areas", f"/api/v1/partners/{partner}/service-areas", "200"),
        ("/api/v1/areas/lookup", "/api/v1/areas/lookup?lat=52.2165&lon=5.2878", "200"),
        ("/api/v1/areas/lookup", "/api/v1/areas/lookup?lat=52.2165", "400"),
        ("/api/v1/areas/{code}", "/api/v1/areas/BU03080102", "200"),
        ("/api/v1/areas/{code}", "/api/v1/areas/GM0308", "200"),
        ("/api/v1/areas/{code}", "/api/v1/areas/Baarn", "400"),
        ("/api/v1/areas/{code}/partners", "/api/v1/areas/BU03080102/partners", "200"),
        ("/api/v1/initiatives", "/api/v1/initiatives?bbox=1,2,3", "400"),
        ("/api/v1/service-areas", "/api/v1/service-areas?gemeente=GM0308", "200"),
        ("/api/v1/service-areas", "/api/v1/service-areas", "400"),
        ("/api/v1/service-areas", "/api/v1/service-areas?gemeente=GM9999", "404"),
        ("/api/v1/gaps/summary", "/api/v1/gaps/summary?gemeente=GM0308&format=geojson&zoom=10", "200"),
        ("/api/v1/gaps/summary", "/api/v1/gaps/summary?format=geojson&zoom=23", "400"),
        ("/api/v1/gaps", "/api/v1/gaps?gemeente=GM0308&need=ouderen:2,wmo", "200"),
        ("/api/v1/gaps", "/api/v1/gaps?gemeente=GM0308&need=leeftijd", "400"),
        ("/api/v1/gaps/indicators", "/api/v1/gaps/indicators", "200"),
        ("/api/v1/gaps/summary", "/api/v1/gaps/summary?gemeente=GM0308", "200"),
        ("/api/v1/outreach", "/api/v1/outreach?gemeente=GM0308", "200"),
    ]
    for path, url, status in cases:
        response = client.get(url)
        assert str(response.status_code) == status, url
        schema = _schema_of(document, path, status, response.mimetype)
        errors = sorted(_validator(document, schema).iter_errors(response.get_json()), key=str)
        assert not errors, (url, [e.message for e in errors[:3]])
    csv_response = client.get("/api/v1/initiatives?format=csv")
    assert "text/csv" in document["paths"]["/api/v1/initiatives"]["get"]["responses"]["200"]["content"]
    assert csv_response.mimetype == "text/csv"
