"""GET /api/v1/partners, /partners/{id} and /partners/{id}/service-areas on a real PostGIS."""

from __future__ import annotations

import math
import os

import pytest
from shapely.geometry import shape

from geoservice.db import make_engine

from .conftest import app_on
from .helpers import BUURT_GEOM, add_partner, add_service_area, shipped




@pytest.fixture(scope="module")
def partners_db(pg_server, template_db):
    name = f"geoservice_test_api_partners_{os.getpid()}"
    url = pg_server.create(name, template=template_db)
    engine = make_engine(url)
    ids = {}
    with engine.begin() as conn:
        ids["baarn"] = add_partner(conn, "Stichting Samen Baarn", services=["advies", "netwerk_kennisdeling"],
                                   website="https://example.org", email="info@example.org")
        add_service_area(conn, ids["baarn"], "Centrum", BUURT_GEOM, code="BU03080000",
                         definition_type="codes", definition={"codes": ["BU03080000"]})
        add_service_area(conn, ids["baarn"], "Rond het station",
                         "ST_Buffer(ST_Transform(ST_SetSRID(ST_MakePoint(5.2783, 52.2129), 4326), 28992), 500)",
                         definition_type="radius",
                         definition={"point": {"lat": 52.2129, "lon": 5.2783}, "radius_m": 500})
        ids["fonds"] = add_partner(conn, "Oranje Buurtfonds", kind="fonds", services=["financiering"])
        ids["amsterdam"] = add_partner(conn, "Amsterdamse Ondersteuners", kind="lokale_ondersteuner",
                                       services=["training", "vrijwilligers", "advies"])
        for n in range(7):
            add_partner(conn, f"Partner {n:02d}", kind="overig", services=["juridisch"])
    engine.dispose()
    yield url, ids
    pg_server.drop(name)


@pytest.fixture(scope="module")
def api(partners_db):
    app = app_on(partners_db[0])
    return app.test_client()


def names(body) -> list[str]:
    return [p["name"] for p in body["partners"]]


def test_list_gives_partners_by_name_with_their_service_areas(api):
    response = api.get("/api/v1/partners")
    assert response.status_code == 200 and response.mimetype == "application/json"
    body = response.get_json()
    assert body["numberMatched"] == body["numberReturned"] == 10
    assert names(body) == sorted(names(body))
    baarn = next(p for p in body["partners"] if p["name"] == "Stichting Samen Baarn")
    assert baarn["services"] == ["advies", "netwerk_kennisdeling"] and baarn["website"] == "https://example.org"
    assert [(a["name"], a["definition_type"]) for a in baarn["service_areas"]] == [
        ("Centrum", "codes"), ("Rond het station", "radius")]


@pytest.mark.parametrize("query, expected", [
    ("service=advies", ["Amsterdamse Ondersteuners", "Stichting Samen Baarn"]),
    ("service=Financiering", ["Oranje Buurtfonds"]),
    ("service=Netwerk%20en%20kennisdeling", ["Stichting Samen Baarn"]),
    ("service=financiering;training", ["Amsterdamse Ondersteuners", "Oranje Buurtfonds"]),
    ("service=financiering&service=training", ["Amsterdamse Ondersteuners", "Oranje Buurtfonds"]),
    ("service=ruimte_locatie", []),
    ("kind=fonds", ["Oranje Buurtfonds"]),
    ("kind=Lokale%20ondersteuner&service=advies", ["Amsterdamse Ondersteuners"]),
])
def test_filters(api, query, expected):
    body = api.get(f"/api/v1/partners?{query}").get_json()
    assert names(body) == expected and body["numberMatched"] == len(expected)


def test_paging_loses_and_repeats_nothing(api):
    everything = names(api.get("/api/v1/partners").get_json())
    seen, offset = [], 0
    while True:
        body = api.get(f"/api/v1/partners?limit=3&offset={offset}").get_json()
        seen += names(body)
        rels = {link["rel"] for link in body["links"]}
        if "next" not in rels:
            break
        offset += 3
    assert seen == everything


@pytest.mark.parametrize("query, fragment", [
    ("service=koffie", "dienst"), ("kind=bakker", "soort partner"), ("limit=0", "tussen 1 en 1000"),
    ("limit=1001", "tussen 1 en 1000"), ("offset=-3", "offset"), ("limit=' OR 1=1", "geheel getal"),
])
def test_bad_parameters_are_400(api, query, fragment):
    response = api.get(f"/api/v1/partners?{query}")
    assert response.status_code == 400
    body = response.get_json()
    assert set(body) == {"code", "description"} and fragment in body["description"]


def test_one_partner(api, partners_db):
    body = api.get(f"/api/v1/partners/{partners_db[1]['fonds']}").get_json()
    assert body["name"] == "Oranje Buurtfonds" and body["kind"] == "fonds" and body["service_areas"] == []


@pytest.mark.parametrize("path", ["999999", "0", "99999999999999999999", "abc", "-1", "999999/service-areas",
                                  "abc/service-areas"])
def test_unknown_partner_is_404_json(api, path):
    response = api.get(f"/api/v1/partners/{path}")
    assert response.status_code == 404
    assert set(response.get_json()) == {"code", "description"}


def test_service_areas_are_wgs84_multipolygons_with_their_definition(api, partners_db):
    response = api.get(f"/api/v1/partners/{partners_db[1]['baarn']}/service-areas")
    assert response.status_code == 200 and response.mimetype == "application/geo+json"
    body = response.get_json()
    assert body["type"] == "FeatureCollection" and body["numberReturned"] == 2
    centrum, station = body["features"]
    assert centrum["properties"]["definition"] == {"codes": ["BU03080000"]}
    assert station["properties"]["definition"]["radius_m"] == 500
    for feature in body["features"]:
        assert feature["geometry"]["type"] == "MultiPolygon"
        geom = shape(feature["geometry"])
        assert 5.2 < geom.centroid.x < 5.35 and 52.15 < geom.centroid.y < 52.25  # lon, lat order
        assert all(polygon.exterior.is_ccw for polygon in geom.geoms)  # RFC 7946 winding
        assert {"name", "definition_type", "definition", "area_m2", "partner_id"} <= set(feature["properties"])
    frame = shipped("buurten_2024_baarn.gpkg")
    expected = frame.loc[frame["buurtcode"] == "BU03080000"].geometry.area.iloc[0]
    assert abs(centrum["properties"]["area_m2"] - expected) / expected < 0.001
    polygon_32 = 16 * math.sin(2 * math.pi / 32) * 500**2  # ST_Buffer: a 32-gon of radius 500 m
    assert abs(station["properties"]["area_m2"] - polygon_32) < 1


def test_partner_without_service_areas_gives_an_empty_collection(api, partners_db):
    body = api.get(f"/api/v1/partners/{partners_db[1]['fonds']}/service-areas").get_json()
    assert body["features"] == [] and body["partner"]["name"] == "Oranje Buurtfonds"


@pytest.mark.parametrize("value", ["' OR 1=1--", "1; DROP TABLE partner;--", "\x00", "%", "advies'--", "9" * 40])
def test_injection_looking_values_never_give_500(api, partners_db, value):
    for name in ("service", "kind", "limit", "offset"):
        response = api.get("/api/v1/partners", query_string={name: value})
        # vocabulary matching ignores punctuation, so "advies'--" is simply advies: a normal answer
        assert response.status_code in (200, 400), (name, value)
    for path in (f"/api/v1/partners/{value}", f"/api/v1/partners/{value}/service-areas"):
        assert api.get(path).status_code in (400, 404)
    assert api.get("/api/v1/partners").get_json()["numberMatched"] == 10
