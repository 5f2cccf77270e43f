"""OGC API – Features under /ogc on a real PostGIS, read by hand and by GDAL's OAPIF driver."""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
from urllib.parse import parse_qs, urlsplit

import pyogrio
import pytest
from openapi_schema_validator import OAS30Validator
from openapi_spec_validator import validate
from shapely.geometry import box, shape
from sqlalchemy import func, insert, text

from geoservice.db import make_engine
from geoservice.models import Partner, ServiceArea
from geoservice.ogc.collections import COLLECTIONS, CRS84, NL_BBOX
from geoservice.ogc.openapi import ogc_paths

from .conftest import app_on
from .helpers import make_initiative, shipped

BAARN_POINTS = [(5.270 + 0.004 * i, 52.200 + 0.003 * i) for i in range(12)]
AMSTERDAM_POINTS = [(4.860 + 0.007 * i, 52.340 + 0.004 * i) for i in range(12)]
CONFORMANCE = {
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/core",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/geojson",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/oas30",
}


def _rd_point(lon: float, lat: float):
    return func.ST_Transform(func.ST_SetSRID(func.ST_MakePoint(lon, lat), 4326), 28992)


@pytest.fixture(scope="module")
def ogc_db(pg_server, template_db):
    """The shipped CBS map plus 24 published initiatives, 2 hidden ones and 2 service areas of a partner."""
    name = f"geoservice_test_ogc_{os.getpid()}"
    url = pg_server.create(name, template=template_db)
    engine = make_engine(url)
    ids: dict = {"published": []}
    with engine.begin() as conn:
        for n, (lon, lat) in enumerate(BAARN_POINTS + AMSTERDAM_POINTS):
            ids["published"].append(make_initiative(
                conn, lon=lon, lat=lat, name=f"Initiatief {n:02d}", themes=["ontmoeting", "jeugd"],
                description="Samen koken" if n % 2 else None, website="https://example.org",
                postcode="3741AA" if n < 12 else "1011AB", last_verified=dt.date(2024, 5, 1) if n % 3 else None,
                kind="energiecooperatie" if n == 0 else "bewonersinitiatief"))
        ids["pending"] = make_initiative(conn, status="pending", name="Nog niet zichtbaar")
        ids["archived"] = make_initiative(conn, status="archived", name="Gestopt")
        partner = conn.execute(insert(Partner).values(
            name="Stichting Samen Baarn", kind="regionale_ondersteuner", services=["advies"],
            themes=["energie_klimaat"], source="test",
        ).returning(Partner.id)).scalar_one()
        centrum = text("(SELECT ST_Multi(geom) FROM buurt WHERE jaar = 2024 AND code = 'BU03080000')")
        ids["areas"] = [
            conn.execute(insert(ServiceArea).values(
                partner_id=partner, name="Centrum", definition_type="codes",
                definition={"codes": ["BU03080000"]}, cbs_jaar=2024, geom=centrum,
            ).returning(ServiceArea.id)).scalar_one(),
            conn.execute(insert(ServiceArea).values(
                partner_id=partner, name="Rond het station", definition_type="radius",
                definition={"point": {"lat": 52.2129, "lon": 5.2783}, "radius_m": 3000},
                geom=func.ST_Multi(func.ST_Buffer(_rd_point(5.2783, 52.2129), 3000)),
            ).returning(ServiceArea.id)).scalar_one(),
        ]
        ids["partner"] = partner
    engine.dispose()
    yield url, ids
    pg_server.drop(name)


@pytest.fixture(scope="module")
def ogc(ogc_db):
    app = app_on(ogc_db[0])
    return app.test_client()


_SERVE = """
import logging, sys
from werkzeug.serving import make_server
from geoservice import create_app
from geoservice.config import Settings
logging.getLogger("werkzeug").setLevel(logging.ERROR)
server = make_server("127.0.0.1", 0, create_app(Settings(database_url=sys.argv[1], secret_key="test")), threaded=True)
print(server.server_port, flush=True)
server.serve_forever()
"""


@pytest.fixture(scope="module")
def served(ogc_db):
    """The app behind a real HTTP server on a free port, for GDAL."""
    # In another process, not a thread: pyogrio holds the GIL while GDAL downloads, so a server
    # thread in this process would never get to answer (a deadlock).
    process = subprocess.Popen([sys.executable, "-c", _SERVE, ogc_db[0]], stdout=subprocess.PIPE, text=True)
    try:
        port = int(process.stdout.readline())
        yield f"http://127.0.0.1:{port}/ogc"
    finally:
        process.terminate()
        process.wait(timeout=10)


def _links(body) -> dict[str, dict]:
    return {link["rel"]: link for link in body["links"]}


def _follow(client, url: str) -> list[dict]:
    """Every feature reached by following next links from url."""
    features = []
    pages = 0
    while url:
        response = client.get(url)
        assert response.status_code == 200 and response.mimetype == "application/geo+json"
        body = response.get_json()
        assert body["numberReturned"] == len(body["features"])
        features += body["features"]
        url = _links(body).get("next", {}).get("href")
        pages += 1
        assert pages < 100
    return features


# --- landing page, conformance, collections ---------------------------------------------------------

@pytest.mark.parametrize("path", ["/ogc", "/ogc/", "/ogc?f=json"])
def test_landing_page_links_to_api_conformance_and_data(ogc, path):
    response = ogc.get(path)
    assert response.status_code == 200 and response.mimetype == "application/json"
    body = response.get_json()
    assert body["title"] and body["description"]
    links = _links(body)
    assert links["self"]["href"] == "http://localhost/ogc"
    assert links["service-desc"]["href"] == "http://localhost/api/v1/openapi.json"
    assert links["service-desc"]["type"] == "application/vnd.oai.openapi+json;version=3.0"
    assert links["conformance"]["href"] == "http://localhost/ogc/conformance"
    assert links["data"]["href"] == "http://localhost/ogc/collections"


def test_conformance_names_core_geojson_and_oas30(ogc):
    response = ogc.get("/ogc/conformance")
    assert response.status_code == 200 and response.mimetype == "application/json"
    assert set(response.get_json()["conformsTo"]) == CONFORMANCE


def test_collections_lists_all_five_with_extent_crs_and_links(ogc):
    body = ogc.get("/ogc/collections").get_json()
    assert [c["id"] for c in body["collections"]] == ["gemeenten", "wijken", "buurten", "initiatives",
                                                       "service_areas"]
    assert _links(body)["self"]["href"] == "http://localhost/ogc/collections"
    for collection in body["collections"]:
        assert collection["itemType"] == "feature" and collection["crs"] == [CRS84]
        assert collection["extent"]["spatial"]["crs"] == CRS84
        [bbox] = collection["extent"]["spatial"]["bbox"]
        assert 3.0 < bbox[0] < bbox[2] < 7.5 and 50.5 < bbox[1] < bbox[3] < 53.8, collection["id"]
        links = _links(collection)
        assert links["self"]["href"] == f"http://localhost/ogc/collections/{collection['id']}"
        assert links["items"]["href"] == f"http://localhost/ogc/collections/{collection['id']}/items"
        assert links["items"]["type"] == "application/geo+json"
        assert ogc.get(f"/ogc/collections/{collection['id']}").get_json() == collection


def test_extents_come_from_the_data_and_contain_it(ogc):
    extent = {c["id"]: c["extent"]["spatial"]["bbox"][0] for c in ogc.get("/ogc/collections").get_json()["collections"]}
    lons = [p[0] for p in BAARN_POINTS + AMSTERDAM_POINTS]
    lats = [p[1] for p in BAARN_POINTS + AMSTERDAM_POINTS]
    minx, miny, maxx, maxy = extent["initiatives"]
    # the pending/archived initiatives lie in Baarn too, so the published points decide the box
    assert minx <= min(lons) and miny <= min(lats) and maxx >= max(lons) and maxy >= max(lats)
    assert min(lons) - minx < 0.01 and maxy - max(lats) < 0.01
    assert extent["buurten"][0] < 4.8 and extent["buurten"][2] > 5.3  # Amsterdam to Baarn
    assert extent["gemeenten"][1] < 50.8 and extent["gemeenten"][3] > 53.4  # Zuid-Limburg to the Wadden


def test_an_empty_collection_advertises_the_netherlands(client):
    # the shared database has the CBS map but no service areas
    collection = client.get("/ogc/collections/service_areas").get_json()
    assert collection["extent"]["spatial"]["bbox"][0] == pytest.approx(NL_BBOX, abs=1e-5)
    body = client.get("/ogc/collections/service_areas/items").get_json()
    assert body["numberMatched"] == 0 and body["features"] == [] and "next" not in _links(body)


# --- items: paging, limits, bbox ---------------------------------------------------------------------

def test_items_are_a_geojson_feature_collection_with_counts_and_links(ogc):
    response = ogc.get("/ogc/collections/gemeenten/items")
    assert response.status_code == 200 and response.mimetype == "application/geo+json"
    assert response.headers["Access-Control-Allow-Origin"] == "*"
    body = response.get_json()
    assert body["type"] == "FeatureCollection"
    assert body["numberMatched"] == 343 and body["numberReturned"] == 10 == len(body["features"])
    stamp = dt.datetime.fromisoformat(body["timeStamp"].replace("Z", "+00:00"))
    assert abs((dt.datetime.now(dt.UTC) - stamp).total_seconds()) < 60
    links = _links(body)
    assert set(links) == {"self", "next", "collection"}
    assert parse_qs(urlsplit(links["next"]["href"]).query) == {"limit": ["10"], "offset": ["10"]}
    assert links["next"]["type"] == "application/geo+json"
    assert links["collection"]["href"] == "http://localhost/ogc/collections/gemeenten"
    first = body["features"][0]
    assert first["type"] == "Feature" and first["id"] == first["properties"]["code"] == "GM0014"
    assert first["geometry"]["type"] == "MultiPolygon"
    lon, lat = first["geometry"]["coordinates"][0][0][0]
    assert 6.5 < lon < 6.9 and 53.1 < lat < 53.4  # Groningen, in lon/lat order


def test_prev_link_goes_back_one_page(ogc):
    body = ogc.get("/ogc/collections/gemeenten/items?limit=50&offset=120").get_json()
    links = _links(body)
    assert parse_qs(urlsplit(links["prev"]["href"]).query) == {"limit": ["50"], "offset": ["70"]}
    assert parse_qs(urlsplit(links["next"]["href"]).query) == {"limit": ["50"], "offset": ["170"]}
    near_start = _links(ogc.get("/ogc/collections/gemeenten/items?limit=50&offset=20").get_json())
    assert parse_qs(urlsplit(near_start["prev"]["href"]).query)["offset"] == ["0"]


@pytest.mark.parametrize("collection_id, limit", [("buurten", 100), ("gemeenten", 37), ("initiatives", 5),
                                                   ("service_areas", 1)])
def test_paging_by_hand_loses_and_repeats_nothing(ogc, ogc_db, collection_id, limit):
    total = ogc.get(f"/ogc/collections/{collection_id}/items?limit=1").get_json()["numberMatched"]
    features = _follow(ogc, f"/ogc/collections/{collection_id}/items?limit={limit}")
    ids = [f["id"] for f in features]
    assert len(ids) == len(set(ids)) == total
    assert ids == sorted(ids)
    expected = {"buurten": 21 + 518, "gemeenten": 343, "initiatives": 24, "service_areas": 2}[collection_id]
    assert total == expected
    if collection_id == "initiatives":
        assert ids == ogc_db[1]["published"]


def test_a_limit_above_the_maximum_is_clamped_to_1000(ogc):
    body = ogc.get("/ogc/collections/wijken/items?limit=5000").get_json()
    assert body["numberMatched"] == 3475 and body["numberReturned"] == 1000
    assert parse_qs(urlsplit(_links(body)["next"]["href"]).query) == {"limit": ["1000"], "offset": ["1000"]}


def test_an_offset_past_the_end_gives_an_empty_page(ogc):
    body = ogc.get("/ogc/collections/gemeenten/items?offset=400").get_json()
    assert body["numberMatched"] == 343 and body["numberReturned"] == 0 and body["features"] == []
    assert "next" not in _links(body) and "prev" in _links(body)


def test_only_published_initiatives_are_served(ogc, ogc_db):
    ids = ogc_db[1]
    for hidden in (ids["pending"], ids["archived"]):
        assert ogc.get(f"/ogc/collections/initiatives/items/{hidden}").status_code == 404
    body = ogc.get("/ogc/collections/initiatives/items?limit=1000").get_json()
    assert [f["id"] for f in body["features"]] == ids["published"]


def test_bbox_selects_the_initiatives_inside_it(ogc, ogc_db):
    minx, miny, maxx, maxy = 5.275, 52.2025, 5.3065, 52.2265  # between the test points, never on one
    body = ogc.get(f"/ogc/collections/initiatives/items?bbox={minx},{miny},{maxx},{maxy}&limit=100").get_json()
    inside = [i for i, (lon, lat) in zip(ogc_db[1]["published"], BAARN_POINTS + AMSTERDAM_POINTS)
              if minx < lon < maxx and miny < lat < maxy]
    assert len(inside) == 7
    assert [f["id"] for f in body["features"]] == inside and body["numberMatched"] == 7
    for f in body["features"]:
        lon, lat = f["geometry"]["coordinates"]
        assert minx < lon < maxx and miny < lat < maxy


def test_bbox_selects_the_buurten_that_shapely_says_intersect_it(ogc):
    bbox = (5.272, 52.205, 5.301, 52.222)
    frame = shipped("buurten_2024_baarn.gpkg").to_crs(4326)
    expected = sorted(frame.loc[frame.intersects(box(*bbox)), "buurtcode"])
    assert 3 < len(expected) < 21
    url = "/ogc/collections/buurten/items?bbox={},{},{},{}&limit=100".format(*bbox)
    features = _follow(ogc, url)
    assert [f["id"] for f in features] == expected
    for f in features:
        assert shape(f["geometry"]).intersects(box(*bbox))
    # the bbox travels along in the paging links
    body = ogc.get(url.replace("limit=100", "limit=2")).get_json()
    assert parse_qs(urlsplit(_links(body)["next"]["href"]).query)["bbox"] == [",".join(map(str, bbox))]


@pytest.mark.parametrize("bbox, matched", [
    ("-180,-90,180,90", 343),  # the whole world: RD cannot project all of it, the filter must cope
    ("100,0,101,1", 0),  # Asia
    ("-10,40,3.3,50.5", 0),  # Biscay to Calais: inside the RD window, outside the Netherlands
    ("-180,-90,-1000,180,90,9000", 343),  # with heights, as OGC API Features Core allows
])
def test_bbox_far_and_wide(ogc, bbox, matched):
    response = ogc.get(f"/ogc/collections/gemeenten/items?bbox={bbox}")
    assert response.status_code == 200
    assert response.get_json()["numberMatched"] == matched


@pytest.fixture(scope="module")
def gemeenten_wgs84():
    from shapely import make_valid

    frame = shipped("gemeenten_2024.gpkg").to_crs(4326)
    frame["geometry"] = frame.geometry.apply(make_valid)
    return frame


@pytest.mark.parametrize("bbox", [
    (5.2878, 52.2165, 5.2878, 52.2165),  # a point in Baarn
    (5.2878, 52.205, 5.2878, 52.225),  # a north-south line: Baarn and the tip of Eemnes
    (5.2878, 52.2, 5.2878, 52.3),
    (5.0, 52.21, 5.6, 52.21),  # an east-west line
    (5.1, 52.0, 5.5, 52.4),  # het Gooi to Amersfoort
    (3.3, 51.2, 4.2, 51.8),  # Zeeland
])
def test_bbox_on_gemeenten_agrees_with_shapely(ogc, gemeenten_wgs84, bbox):
    from shapely.geometry import LineString, Point

    minx, miny, maxx, maxy = bbox
    probe = (Point(minx, miny) if (minx, miny) == (maxx, maxy)
             else LineString([(minx, miny), (maxx, maxy)]) if minx == maxx or miny == maxy else box(*bbox))
    expected = sorted(gemeenten_wgs84.loc[gemeenten_wgs84.intersects(probe), "gemeentecode"])
    features = _follow(ogc, "/ogc/collections/gemeenten/items?bbox={},{},{},{}&limit=1000".format(*bbox))
    assert [f["id"] for f in features] == expected


# --- single features ---------------------------------------------------------------------------------

def test_a_gemeente_by_code_with_population(ogc):
    response = ogc.get("/ogc/collections/gemeenten/items/GM0308")
    assert response.status_code == 200 and response.mimetype == "application/geo+json"
    body = response.get_json()
    assert body["type"] == "Feature" and body["id"] == "GM0308"
    assert body["properties"]["naam"] == "Baarn" and body["properties"]["aantal_inwoners"] == 25065
    assert body["properties"]["jaar"] == 2024
    links = _links(body)
    assert links["self"]["href"] == "http://localhost/ogc/collections/gemeenten/items/GM0308"
    assert links["collection"]["href"] == "http://localhost/ogc/collections/gemeenten"
    assert ogc.get("/ogc/collections/gemeenten/items/gm0308").get_json()["id"] == "GM0308"


def test_a_buurt_has_its_parent_codes(ogc):
    properties = ogc.get("/ogc/collections/buurten/items/BU0363AA01").get_json()["properties"]
    assert properties["wijkcode"] == "WK0363AA" and properties["gemeentecode"] == "GM0363"
    assert list(properties) == COLLECTIONS["buurten"].property_names


def test_an_initiative_by_id(ogc, ogc_db):
    first = ogc_db[1]["published"][0]
    body = ogc.get(f"/ogc/collections/initiatives/items/{first}").get_json()
    assert body["id"] == first
    assert body["geometry"]["type"] == "Point"
    assert body["geometry"]["coordinates"] == pytest.approx(list(BAARN_POINTS[0]), abs=1e-6)
    p = body["properties"]
    assert p["id"] == first and p["name"] == "Initiatief 00" and p["kind"] == "energiecooperatie"
    assert p["themes"] == ["ontmoeting", "jeugd"] and p["postcode"] == "3741AA"
    assert p["gemeentecode"] == "GM0308" and p["buurtcode"].startswith("BU0308")
    assert p["location_precision"] == "manual" and p["last_verified"] is None
    assert list(p) == COLLECTIONS["initiatives"].property_names
    second = ogc.get(f"/ogc/collections/initiatives/items/{ogc_db[1]['published'][1]}").get_json()
    assert second["properties"]["last_verified"] == "2024-05-01"


def test_a_service_area_names_its_partner(ogc, ogc_db):
    ids = ogc_db[1]
    body = ogc.get(f"/ogc/collections/service_areas/items/{ids['areas'][1]}").get_json()
    assert body["properties"] == {"id": ids["areas"][1], "partner_id": ids["partner"],
                                  "partner_name": "Stichting Samen Baarn", "partner_services": ["advies"],
                                  "partner_themes": ["energie_klimaat"], "name": "Rond het station",
                                  "definition_type": "radius"}
    assert body["geometry"]["type"] == "MultiPolygon"


def test_every_collection_serves_exactly_its_documented_properties(ogc):
    for collection in COLLECTIONS.values():
        body = ogc.get(f"/ogc/collections/{collection.id}/items?limit=3").get_json()
        assert body["features"], collection.id
        for feature in body["features"]:
            assert list(feature["properties"]) == collection.property_names


# --- errors ------------------------------------------------------------------------------------------

@pytest.mark.parametrize("path, status, fragment", [
    ("/ogc/collections/bestaat-niet", 404, "Beschikbaar: gemeenten"),
    ("/ogc/collections/bestaat-niet/items", 404, "bestaat niet"),
    ("/ogc/collections/gemeenten/items/GM9999", 404, "bestaat niet"),
    ("/ogc/collections/gemeenten/items/GM0308%00", 404, "bestaat niet"),
    ("/ogc/collections/gemeenten/items/" + "X" * 300, 404, "bestaat niet"),
    ("/ogc/collections/initiatives/items/abc", 404, "bestaat niet"),
    ("/ogc/collections/initiatives/items/0", 404, "bestaat niet"),
    ("/ogc/collections/initiatives/items/99999999999", 404, "bestaat niet"),
    ("/ogc/collections/initiatives/items/999999", 404, "bestaat niet"),
    ("/ogc/collections/service_areas/items/-1", 404, "bestaat niet"),
    ("/ogc/collections/gemeenten/items?bbox=1,2,3", 400, "vier getallen"),
    ("/ogc/collections/gemeenten/items?bbox=1,2,3,4,5", 400, "vier getallen"),
    ("/ogc/collections/gemeenten/items?bbox=5,52,x,6,53,100", 400, "getal"),
    ("/ogc/collections/gemeenten/items?bbox=a,b,c,d", 400, "getal"),
    ("/ogc/collections/gemeenten/items?bbox=6,53,5,52", 400, "verkeerde volgorde"),
    ("/ogc/collections/gemeenten/items?bbox=-200,0,0,10", 400, "buiten de wereld"),
    ("/ogc/collections/gemeenten/items?bbox=nan,52,6,53", 400, "eindig"),
    ("/ogc/collections/gemeenten/items?limit=0", 400, "limit"),
    ("/ogc/collections/gemeenten/items?limit=-5", 400, "limit"),
    ("/ogc/collections/gemeenten/items?limit=tien", 400, "geheel getal"),
    ("/ogc/collections/gemeenten/items?limit=" + "9" * 5000, 400, "geheel getal"),
    ("/ogc/collections/gemeenten/items?offset=-1", 400, "offset"),
    ("/ogc/collections/gemeenten/items?offset=99999999999999999999999", 400, "offset"),
    ("/ogc/collections/gemeenten/items?f=html", 400, "f=json"),
    ("/ogc/collections?f=xml", 400, "f=json"),
    ("/ogc?f=html", 400, "f=json"),
    ("/ogc/collections/gemeenten/items?bbox-crs=http://www.opengis.net/def/crs/EPSG/0/28992", 400, "CRS84"),
    ("/ogc/collections/gemeenten/items?crs=EPSG:28992", 400, "CRS84"),
    ("/ogc/collections/gemeenten/items?datetime=gisteren", 400, "RFC 3339"),
    ("/ogc/collections/gemeenten/items?datetime=../..", 400, "interval"),
])
def test_errors_are_json_with_code_and_description(ogc, path, status, fragment):
    response = ogc.get(path)
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.mimetype == "application/json"
    body = response.get_json()
    assert sorted(body) == ["code", "description"]
    assert fragment in body["description"]


@pytest.mark.parametrize("query", [
    "foo=bar", "f=json", "F=html", "bbox=", "limit=", "offset=",
    "bbox-crs=http://www.opengis.net/def/crs/OGC/1.3/CRS84", "crs=%5BOGC:CRS84%5D",
    "datetime=2024-01-01T00:00:00Z", "datetime=2024-01-01/..", "datetime=../2024-12-31T23:59:59%2B01:00",
])
def test_unknown_parameters_are_ignored_and_valid_extras_filter_nothing(ogc, query):
    response = ogc.get(f"/ogc/collections/gemeenten/items?{query}")
    assert response.status_code == 200
    assert response.get_json()["numberMatched"] == 343


# --- the OpenAPI paths ---------------------------------------------------------------------------

def test_ogc_paths_are_valid_openapi_and_cover_every_route(ogc):
    document = {"openapi": "3.0.3", "info": {"title": "t", "version": "1"}, "paths": ogc_paths()}
    validate(document)
    rules = [r for r in ogc.application.url_map.iter_rules() if r.rule.startswith("/ogc")]
    for rule in rules:
        path = rule.rule.rstrip("/").replace("<", "{").replace(">", "}")
        operation = document["paths"][path]["get"]
        declared = {p["name"] for p in operation["parameters"] if p["in"] == "path"}
        assert declared == set(rule.arguments), path
    items = {p["name"]: p for p in document["paths"]["/ogc/collections/{collection_id}/items"]["get"]["parameters"]}
    assert items["limit"]["schema"] == {"type": "integer", "minimum": 1, "maximum": 1000, "default": 10}
    assert items["collection_id"]["schema"]["enum"] == list(COLLECTIONS)


def test_real_responses_match_the_documented_schemas(ogc, ogc_db):
    paths = ogc_paths()
    first = ogc_db[1]["published"][0]
    cases = [
        ("/ogc", "/ogc", "200"),
        ("/ogc/conformance", "/ogc/conformance", "200"),
        ("/ogc/collections", "/ogc/collections", "200"),
        ("/ogc/collections/{collection_id}", "/ogc/collections/buurten", "200"),
        ("/ogc/collections/{collection_id}", "/ogc/collections/x", "404"),
        *[("/ogc/collections/{collection_id}/items", f"/ogc/collections/{c}/items?limit=3", "200")
          for c in COLLECTIONS],
        ("/ogc/collections/{collection_id}/items", "/ogc/collections/wijken/items?limit=0", "400"),
        ("/ogc/collections/{collection_id}/items/{feature_id}", "/ogc/collections/buurten/items/BU03080102", "200"),
        ("/ogc/collections/{collection_id}/items/{feature_id}", f"/ogc/collections/initiatives/items/{first}",
         "200"),
        ("/ogc/collections/{collection_id}/items/{feature_id}", "/ogc/collections/initiatives/items/x", "404"),
    ]
    for path, url, status in cases:
        response = ogc.get(url)
        assert str(response.status_code) == status, url
        content = paths[path]["get"]["responses"][status]["content"]
        assert list(content) == [response.mimetype], url
        errors = list(OAS30Validator(content[response.mimetype]["schema"]).iter_errors(response.get_json()))
        assert not errors, (url, [e.message[:200] for e in errors[:3]])


# --- GDAL's OGC API Features driver, over real HTTP ------------------------------------------------

def test_gdal_has_the_oapif_driver():
    assert "OAPIF" in pyogrio.list_drivers()


def test_gdal_lists_every_collection(served):
    layers = pyogrio.list_layers(f"OAPIF:{served}")
    assert [name for name, _ in layers] == list(COLLECTIONS)


@pytest.mark.parametrize("page_size", [None, "100"])
def test_gdal_reads_every_collection_completely(served, ogc, page_size):
    # PAGE_SIZE=100 makes GDAL follow several next links (343 gemeenten, 539 buurten, 3475 wijken);
    # without it GDAL asks for 1000 a page, the maximum.
    options = {"PAGE_SIZE": page_size} if page_size else {}
    for collection in COLLECTIONS.values():
        expected = ogc.get(f"/ogc/collections/{collection.id}/items?limit=1000").get_json()
        frame = pyogrio.read_dataframe(f"OAPIF:{served}", layer=collection.id, **options)
        assert len(frame) == expected["numberMatched"], collection.id
        assert frame.crs.to_epsg() == 4326
        key = "code" if collection.id_type == "string" else "id"
        assert frame[key].is_unique
        for name in collection.property_names:
            assert name in frame.columns, (collection.id, name)
        first = expected["features"][0]
        row = frame.loc[frame[key] == first["properties"][key]].iloc[0]
        for name, value in first["properties"].items():
            if value is None:
                continue
            got = row[name]
            got = list(got) if name == "themes" else got
            assert got == pytest.approx(value) if isinstance(value, float) else got == value, (collection.id, name)


def test_gdal_reads_attribute_values(served):
    gemeenten = pyogrio.read_dataframe(f"OAPIF:{served}", layer="gemeenten", PAGE_SIZE="100")
    baarn = gemeenten.loc[gemeenten["code"] == "GM0308"].iloc[0]
    assert baarn["naam"] == "Baarn" and baarn["aantal_inwoners"] == 25065
    assert baarn.geometry.contains(shape({"type": "Point", "coordinates": [5.2878, 52.2165]}))
    initiatives = pyogrio.read_dataframe(f"OAPIF:{served}", layer="initiatives")
    assert sorted(initiatives["name"]) == [f"Initiatief {n:02d}" for n in range(24)]
    assert all(list(themes) == ["ontmoeting", "jeugd"] for themes in initiatives["themes"])
    areas = pyogrio.read_dataframe(f"OAPIF:{served}", layer="service_areas")
    assert sorted(areas["name"]) == ["Centrum", "Rond het station"]
    assert set(areas["partner_name"]) == {"Stichting Samen Baarn"}
    radius = areas.loc[areas["name"] == "Rond het station"].iloc[0].geometry
    assert radius.area == pytest.approx(3.14159 * 3000**2 / (111_320 * 68_300), rel=0.05)  # in degrees²


def test_gdal_passes_a_bbox_to_the_server(served, ogc):
    bbox = (5.272, 52.205, 5.301, 52.222)
    frame = pyogrio.read_dataframe(f"OAPIF:{served}", layer="buurten", bbox=bbox)
    url = "/ogc/collections/buurten/items?bbox={},{},{},{}&limit=100".format(*bbox)
    assert sorted(frame["code"]) == [f["id"] for f in _follow(ogc, url)]


def test_gdal_feature_count_is_number_matched(served):
    info = pyogrio.read_info(f"OAPIF:{served}", layer="wijken")
    assert info["features"] == 3475
    assert info["geometry_type"] == "MultiPolygon"
