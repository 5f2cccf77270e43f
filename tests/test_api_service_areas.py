"""GET /api/v1/service-areas?gemeente=: the partners' service areas overlapping a gemeente, as GeoJSON."""

from __future__ import annotations

import os

import pytest
from openapi_schema_validator import OAS30Validator
from shapely.geometry import shape

from .helpers import BUURT_GEOM, add_partner, add_service_area

# A box east of Amsterdam whose west edge runs through the gemeente's easternmost point: it touches, no more.
TOUCHING = """(SELECT ST_MakeEnvelope(ST_XMax(geom), ST_YMin(geom), ST_XMax(geom) + 1000, ST_YMax(geom), 28992)
               FROM gemeente WHERE jaar = 2024 AND code = 'GM0363')"""


@pytest.fixture(scope="module")
def areas_client(pg_server, template_db):
    """Partners with service areas in Amsterdam, in Baarn, and one that only touches Amsterdam."""
    from geoservice.db import make_engine

    from .conftest import app_on

    name = f"geoservice_test_service_areas_{os.getpid()}"
    url = pg_server.create(name, template=template_db)
    engine = make_engine(url)
    with engine.begin() as conn:
        noord = add_partner(conn, "Buurtfonds Noord")
        add_service_area(conn, noord, "Planciusbuurt", BUURT_GEOM, code="BU0363AA01")
        add_service_area(conn, noord, "Westelijke eilanden", BUURT_GEOM, code="BU0363AA02")
        both = add_partner(conn, "Stichting <b>Overal</b>")
        add_service_area(conn, both, "Amsterdam en Baarn",
                         "(SELECT ST_Union(geom) FROM gemeente WHERE jaar = 2024 AND code IN ('GM0363', 'GM0308'))")
        baarn = add_partner(conn, "Energiehuis Baarn")
        add_service_area(conn, baarn, "Staatsliedenwijk", BUURT_GEOM, code="BU03080102")
        neighbour = add_partner(conn, "Buren")
        add_service_area(conn, neighbour, "Net ernaast", TOUCHING)
    engine.dispose()
    app = app_on(url)
    yield app.test_client()
    pg_server.drop(name)


def test_the_service_areas_overlapping_a_gemeente(areas_client):
    response = areas_client.get("/api/v1/service-areas?gemeente=gm0363")
    assert response.status_code == 200 and response.mimetype == "application/geo+json"
    body = response.get_json()
    assert body["gemeente"] == {"code": "GM0363", "naam": "Amsterdam"}
    names = [(f["properties"]["partner_name"], f["properties"]["name"]) for f in body["features"]]
    # by partner, then by name; Baarn's area and the one that only touches the border are not there
    assert names == [("Buurtfonds Noord", "Planciusbuurt"), ("Buurtfonds Noord", "Westelijke eilanden"),
                     ("Stichting <b>Overal</b>", "Amsterdam en Baarn")]
    assert body["numberReturned"] == 3 and body["numberPartners"] == 2
    for f in body["features"]:
        assert f["id"] == f["properties"]["id"] and f["geometry"]["type"] == "MultiPolygon"
        assert f["properties"]["area_m2"] > 0 and f["properties"]["definition_type"] == "geojson"
    whole = shape(body["features"][2]["geometry"])
    assert whole.bounds[0] < 5.3 < whole.bounds[2]  # not clipped: the area reaches Baarn


def test_the_partners_on_the_map_are_the_partners_the_summary_counts(areas_client):
    for code in ("GM0363", "GM0308", "GM0344"):
        body = areas_client.get(f"/api/v1/service-areas?gemeente={code}").get_json()
        summary = areas_client.get(f"/api/v1/gaps/summary?gemeente={code}").get_json()["gemeenten"][0]
        assert body["numberPartners"] == summary["partners_active"], code


@pytest.mark.parametrize("query, status, code", [
    ("", 400, "MissingParameterValue"),
    ("gemeente=", 400, "MissingParameterValue"),
    ("gemeente=Amsterdam", 400, "InvalidParameterValue"),
    ("gemeente=WK036300", 400, "InvalidParameterValue"),
    ("gemeente=GM9999", 404, "NotFound"),
])
def test_bad_input(areas_client, query, status, code):
    response = areas_client.get(f"/api/v1/service-areas?{query}")
    assert response.status_code == status
    assert response.get_json()["code"] == code and response.get_json()["description"]


def test_the_answer_matches_the_openapi_document(areas_client):
    document = areas_client.get("/api/v1/openapi.json").get_json()
    operation = document["paths"]["/api/v1/service-areas"]["get"]
    assert [p["name"] for p in operation["parameters"]] == ["gemeente"]
    schema = operation["responses"]["200"]["content"]["application/geo+json"]["schema"]
    validator = OAS30Validator({**schema, "components": document["components"]})
    errors = sorted(validator.iter_errors(areas_client.get("/api/v1/service-areas?gemeente=GM0363").get_json()),
                    key=str)
    assert not errors, [e.message for e in errors[:3]]
