"""GET /api/v1/gaps and /api/v1/gaps/summary on a real PostGIS: GeoJSON, CSV, parameters, errors, schemas."""

from __future__ import annotations

import csv
import io
from collections import Counter

import pytest
from openapi_schema_validator import OAS30Validator
from shapely.geometry import shape

from geoservice.analysis.gaps import (NEAREST_COLUMNS, SUMMARY_COLUMNS, SUMMARY_CSV_COLUMNS, UNIT_COLUMNS,
                                      UNIT_CSV_COLUMNS)

from sqlalchemy import text

from .helpers import BUURT_GEOM, add_partner, add_service_area, make_initiative


@pytest.fixture(scope="module")
def gaps_client(pg_server, template_db):
    """A client on a copy with one initiative and one partner in Baarn."""
    import os

    from geoservice.db import make_engine

    from .conftest import app_on

    name = f"geoservice_test_gaps_api_{os.getpid()}"
    url = pg_server.create(name, template=template_db)
    engine = make_engine(url)
    with engine.begin() as conn:
        make_initiative(conn, kind="energiecooperatie", themes=["energie_klimaat"])  # in Staatsliedenwijk
        partner = add_partner(conn, "Energiehuis Baarn", services=["advies"])
        add_service_area(conn, partner, "Staatsliedenwijk", BUURT_GEOM, code="BU03080102",
                         definition_type="codes", definition={"codes": ["BU03080102"]})
    engine.dispose()
    app = app_on(url)
    yield app.test_client()
    pg_server.drop(name)


def _csv_rows(response) -> list[dict]:
    return list(csv.DictReader(io.StringIO(response.get_data(as_text=True))))


def _same(json_value, csv_value: str) -> bool:
    if json_value is None:
        return csv_value == ""
    if isinstance(json_value, bool):
        return csv_value == str(json_value).lower()
    if isinstance(json_value, float):
        return float(csv_value) == json_value
    return str(json_value) == csv_value


def test_units_of_a_gemeente_as_geojson(gaps_client):
    response = gaps_client.get("/api/v1/gaps?gemeente=gm0308&walk_m=500&kind=Energiecoöperatie")
    assert response.status_code == 200
    assert response.mimetype == "application/geo+json"
    body = response.get_json()
    assert body["type"] == "FeatureCollection" and body["numberReturned"] == len(body["features"]) == 21
    assert body["gemeente"] == {"code": "GM0308", "naam": "Baarn"}
    assert body["parameters"] == {
        "level": None, "walk_m": 500, "min_inwoners": 50, "kinds": ["energiecooperatie"], "themes": [],
        "partner_services": [], "nearest_max_m": 50000, "coverage_min": 0.5, "partner_share_min": 0.5,
        "cbs_jaar": 2024, "gemeente": "GM0308",
        "need": {"ouderen": 1.0, "alleenwonend": 1.0, "lage_inkomens": 1.0, "wmo": 1.0}}
    assert body["status_labels"]["white_spot"] == "witte vlek"
    by_code = {f["id"]: f for f in body["features"]}
    home = by_code["BU03080102"]["properties"]
    assert list(home) == [*UNIT_COLUMNS, "need_scores", *NEAREST_COLUMNS, "demo_data"]
    assert home["demo_data"] is False and body["demo"]["demo_data"] is False
    assert (home["n_initiatives"], home["coverage"], home["n_partners"], home["status"]) == (1, 1.0, 1, "ok")
    assert by_code["BU03080003"]["properties"]["status"] == "no_support"  # Zandvoort: next door, not covered
    assert by_code["BU03080500"]["properties"]["status"] == "white_spot"
    geometry = shape(by_code["BU03080102"]["geometry"])
    assert geometry.geom_type == "MultiPolygon" and 5.27 < geometry.centroid.x < 5.30


def test_filters_reach_the_analysis(gaps_client):
    def statuses(query):
        body = gaps_client.get(f"/api/v1/gaps?gemeente=GM0308&{query}").get_json()
        return {f["id"]: f["properties"]["status"] for f in body["features"]}

    assert statuses("kind=wijkcooperatie")["BU03080102"] == "no_initiative"  # covered, but no such initiative
    assert statuses("theme=energie_klimaat;wonen")["BU03080102"] == "ok"
    assert statuses("partner_services=financiering")["BU03080102"] == "no_support"
    assert statuses("min_inwoners=2000")["BU03080102"] == "low_population"  # 1,325 inhabitants
    assert set(statuses("level=wijk")) == {"WK030800", "WK030801", "WK030802", "WK030804", "WK030805"}


def test_csv_matches_json(gaps_client):
    body = gaps_client.get("/api/v1/gaps?gemeente=GM0308").get_json()
    response = gaps_client.get("/api/v1/gaps?gemeente=GM0308&format=csv")
    assert response.status_code == 200 and response.mimetype == "text/csv"
    assert 'filename="witte-vlekken-GM0308.csv"' in response.headers["Content-Disposition"]
    rows = _csv_rows(response)
    assert list(rows[0]) == list(UNIT_CSV_COLUMNS)
    assert len(rows) == len(body["features"])
    for row, feature in zip(rows, body["features"]):
        for name, value in feature["properties"].items():
            if name == "need_scores":  # GeoJSON only
                continue
            assert _same(value, row[name]), (feature["id"], name, value, row[name])


def test_summary_of_one_gemeente_and_of_the_country(gaps_client):
    one = gaps_client.get("/api/v1/gaps/summary?gemeente=GM0308").get_json()
    assert one["numberReturned"] == 1 and one["parameters"]["gemeente"] == "GM0308"
    row = one["gemeenten"][0]
    assert list(row) == list(SUMMARY_COLUMNS)
    assert (row["units"], row["units_ok"], row["partners_active"], row["n_initiatives"]) == (21, 1, 1, 1)
    national = gaps_client.get("/api/v1/gaps/summary?sort=units_white_spot").get_json()
    assert national["numberReturned"] == 343
    assert national["parameters"]["sort"] == "units_white_spot" and national["parameters"]["order"] == "desc"
    counts = [r["units_white_spot"] for r in national["gemeenten"]]
    assert counts == sorted(counts, reverse=True)
    ascending = gaps_client.get("/api/v1/gaps/summary?sort=units_white_spot&order=asc").get_json()
    assert [r["units_white_spot"] for r in ascending["gemeenten"]] == sorted(counts)


def test_summary_csv_matches_json(gaps_client):
    body = gaps_client.get("/api/v1/gaps/summary?sort=naam").get_json()
    response = gaps_client.get("/api/v1/gaps/summary?sort=naam&format=csv")
    assert response.mimetype == "text/csv"
    rows = _csv_rows(response)
    assert len(rows) == 343 and list(rows[0]) == list(SUMMARY_CSV_COLUMNS)
    for row, item in zip(rows, body["gemeenten"]):
        assert all(_same(value, row[name]) for name, value in item.items()), item["gemeentecode"]


@pytest.mark.parametrize("query, code", [
    ("", "MissingParameterValue"),
    ("gemeente=", "MissingParameterValue"),
    ("gemeente=Baarn", "InvalidParameterValue"),
    ("gemeente=WK030800", "InvalidParameterValue"),
    ("gemeente=GM0308&walk_m=-1", "InvalidParameterValue"),
    ("gemeente=GM0308&walk_m=50001", "InvalidParameterValue"),
    ("gemeente=GM0308&walk_m=ver", "InvalidParameterValue"),
    ("gemeente=GM0308&min_inwoners=100001", "InvalidParameterValue"),
    ("gemeente=GM0308&level=stad", "InvalidParameterValue"),
    ("gemeente=GM0344&level=buurt", "InvalidParameterValue"),
    ("gemeente=GM0308&kind=sportclub", "InvalidParameterValue"),
    ("gemeente=GM0308&theme=onbekend", "InvalidParameterValue"),
    ("gemeente=GM0308&partner_services=geld", "InvalidParameterValue"),
    ("gemeente=GM0308&format=xml", "InvalidParameterValue"),
])
def test_units_refuse_bad_input_with_400(gaps_client, query, code):
    response = gaps_client.get(f"/api/v1/gaps?{query}")
    assert response.status_code == 400
    assert response.get_json()["code"] == code
    assert response.get_json()["description"]


@pytest.mark.parametrize("query", ["sort=geom", "order=omhoog", "format=xml", "walk_m=50001", "gemeente=GM03",
                                   "min_inwoners=-1", "kind=x"])
def test_summary_refuses_bad_input_with_400(gaps_client, query):
    response = gaps_client.get(f"/api/v1/gaps/summary?{query}")
    assert response.status_code == 400 and set(response.get_json()) == {"code", "description"}


@pytest.mark.parametrize("url", ["/api/v1/gaps?gemeente=GM9999", "/api/v1/gaps/summary?gemeente=GM9999"])
def test_unknown_gemeente_is_404(gaps_client, url):
    response = gaps_client.get(url)
    assert response.status_code == 404
    assert "GM9999" in response.get_json()["description"]


def test_responses_match_the_openapi_document(gaps_client):
    document = gaps_client.get("/api/v1/openapi.json").get_json()
    for path in ("/api/v1/gaps", "/api/v1/gaps/summary"):
        assert path in document["paths"]
        names = {p["name"] for p in document["paths"][path]["get"]["parameters"]}
        assert {"gemeente", "level", "walk_m", "min_inwoners", "kind", "theme", "partner_services", "format"} <= names
    cases = [("/api/v1/gaps", "/api/v1/gaps?gemeente=GM0308", "200"),
             ("/api/v1/gaps", "/api/v1/gaps?gemeente=GM0344&level=wijk", "200"),
             ("/api/v1/gaps", "/api/v1/gaps", "400"),
             ("/api/v1/gaps", "/api/v1/gaps?gemeente=GM9999", "404"),
             ("/api/v1/gaps/summary", "/api/v1/gaps/summary?gemeente=GM0308", "200"),
             ("/api/v1/gaps/summary", "/api/v1/gaps/summary?level=buurt", "200"),
             ("/api/v1/gaps/summary", "/api/v1/gaps/summary?sort=x", "400")]
    for path, url, status in cases:
        response = gaps_client.get(url)
        assert str(response.status_code) == status, url
        spec = document["paths"][path]["get"]["responses"][status]
        if "$ref" in spec:
            spec = document["components"]["responses"][spec["$ref"].rsplit("/", 1)[1]]
        schema = spec["content"][response.mimetype]["schema"]
        validator = OAS30Validator({**schema, "components": document["components"]})
        errors = sorted(validator.iter_errors(response.get_json()), key=str)
        assert not errors, (url, [e.message for e in errors[:3]])


def _vertices(collection: dict) -> int:
    return sum(len(ring) for f in collection["features"] for polygon in f["geometry"]["coordinates"]
               for ring in polygon)


def test_units_can_be_simplified_for_a_map_zoom(gaps_client):
    full = gaps_client.get("/api/v1/gaps?gemeente=GM0308").get_json()
    coarse = gaps_client.get("/api/v1/gaps?gemeente=GM0308&zoom=10").get_json()
    assert coarse["parameters"]["zoom"] == 10
    # the same units and figures, drawn with fewer vertices; outlines stay valid and roughly the same
    assert [f["properties"] for f in coarse["features"]] == [f["properties"] for f in full["features"]]
    assert _vertices(coarse) < _vertices(full) / 2
    tolerance_deg = 47 / 68_000  # zoom 10: half a pixel is ~47 m; a degree of longitude at 52°N is ~68 km
    for before, after in zip(full["features"], coarse["features"]):
        simplified, exact = shape(after["geometry"]), shape(before["geometry"])
        # no outline point moves further than about the tolerance (a pixel on the map)
        assert simplified.is_valid and simplified.hausdorff_distance(exact) < 2 * tolerance_deg
    refused = gaps_client.get("/api/v1/gaps?gemeente=GM0308&zoom=23")
    assert refused.status_code == 400 and refused.get_json()["code"] == "InvalidParameterValue"


DAM = (4.8930, 52.3731)  # lon, lat


def test_amsterdams_buurten_have_cbs_inhabitants_and_real_statuses(fresh_db_url, engine_for, app_for):
    """Amsterdam at buurt level shows CBS inhabitants and every kind of status, not 'onbekend' everywhere.

    Test data: one initiative at the Dam, one partner serving the Dam's buurt and the populous buurt farthest away."""
    with engine_for(fresh_db_url).begin() as conn:
        make_initiative(conn, lon=DAM[0], lat=DAM[1], name="Buurtkamer bij de Dam (test)")
        dam = conn.execute(text(
            "SELECT code FROM buurt WHERE jaar = 2024 AND ST_Contains(geom, "
            "ST_Transform(ST_SetSRID(ST_MakePoint(:lon, :lat), 4326), 28992))"),
            {"lon": DAM[0], "lat": DAM[1]}).scalar()
        far = conn.execute(text(
            "SELECT code FROM buurt WHERE jaar = 2024 AND gemeentecode = 'GM0363' AND aantal_inwoners >= 1000 "
            "ORDER BY ST_Distance(geom, (SELECT geom FROM buurt WHERE jaar = 2024 AND code = :dam)) DESC LIMIT 1"),
            {"dam": dam}).scalar()
        partner = add_partner(conn, "Buurtwerk Amsterdam (test)")
        add_service_area(conn, partner, "Dam", BUURT_GEOM, code=dam)
        add_service_area(conn, partner, "Ver weg", BUURT_GEOM, code=far)
    response = app_for(fresh_db_url).test_client().get("/api/v1/gaps?gemeente=GM0363&level=buurt")
    assert response.status_code == 200
    units = {f["properties"]["code"]: f["properties"] for f in response.get_json()["features"]}
    populated = [u["aantal_inwoners"] for u in units.values() if u["aantal_inwoners"] is not None]
    assert len(units) == 518 and len(populated) >= 517
    assert sum(populated) == pytest.approx(931_300, rel=0.01)
    statuses = Counter(u["status"] for u in units.values())
    assert (units[dam]["status"], units[far]["status"]) == ("ok", "no_initiative")
    assert units["BU0363MK06"]["status"] == "unknown" and statuses["unknown"] == 1
    assert statuses["no_support"] >= 1 and statuses["white_spot"] > 400
