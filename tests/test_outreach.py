"""Outreach regions (analysis, `geoservice outreach`, GET /api/v1/outreach) on the shipped Baarn buurten.

Setup: one partner serves every buurt of Baarn except Amaliapark (650 inhabitants), Schilderswijk
(1,975) and Lage Vuursche (210), so only those three are not covered. An initiative in Lage Vuursche
makes it no_support; it lies more than 4 km from the other two, which stay the only white spots of
Baarn. Amaliapark and Schilderswijk are 409 m apart.
"""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner
from shapely.geometry import shape
from sqlalchemy import text

from geoservice.analysis.gaps import GapParams
from geoservice.analysis.outreach import outreach_regions
from geoservice.cli import main
from geoservice.db import make_engine
from geoservice.errors import InvalidParameter, NotFound

from .conftest import app_on
from .helpers import AMALIAPARK, LAGE_VUURSCHE, OUTREACH_UNCOVERED, SCHILDERSWIJK, seed_outreach, seeded_database

UNCOVERED = OUTREACH_UNCOVERED


@pytest.fixture(scope="module")
def outreach_db(pg_server, template_db):
    with seeded_database(pg_server, template_db, "outreach", seed_outreach) as database:
        yield database


@pytest.fixture(scope="module")
def conn(outreach_db):
    engine = make_engine(outreach_db[0])
    with engine.connect() as connection:
        yield connection
    engine.dispose()


@pytest.fixture(scope="module")
def api(outreach_db):
    app = app_on(outreach_db[0])
    return app.test_client()


def unit_figures(conn, codes: list[str]) -> tuple[int, float]:
    """(inhabitants, area in m²) of buurten straight from the CBS table."""
    row = conn.execute(text("SELECT sum(aantal_inwoners), sum(ST_Area(geom)) FROM buurt "
                                "WHERE jaar = 2024 AND code = ANY(:codes)"), {"codes": codes}).one()
    return int(row[0]), float(row[1])


def codes_of(region: dict) -> list[str]:
    return sorted(u["code"] for u in region["units"])


# --- the analysis -------------------------------------------------------------------------------

def test_two_white_spots_409_m_apart_are_one_region_at_500_m(conn):
    distance = conn.execute(text(
        "SELECT ST_Distance(a.geom, b.geom) FROM buurt AS a, buurt AS b "
        "WHERE a.jaar = 2024 AND b.jaar = 2024 AND a.code = :a AND b.code = :b"),
        {"a": AMALIAPARK, "b": SCHILDERSWIJK}).scalar()
    assert 300 < distance < 500
    regions = outreach_regions(conn, gemeente="GM0308", cluster_m=500)
    assert len(regions) == 1
    (region,) = regions
    assert codes_of(region) == [AMALIAPARK, SCHILDERSWIJK]
    inhabitants, area = unit_figures(conn, [AMALIAPARK, SCHILDERSWIJK])
    assert region["rank"] == 1 and region["n_units"] == 2
    assert region["aantal_inwoners"] == inhabitants == 650 + 1975
    assert region["area_m2"] == pytest.approx(area, abs=1.0)
    assert {u["status"] for u in region["units"]} == {"white_spot"}
    # the union of two separate buurten: a MultiPolygon of two parts, in WGS84 around Baarn
    geometry = json.loads(region["geometry"])
    assert geometry["type"] == "MultiPolygon" and len(geometry["coordinates"]) == 2
    lon, lat = shape(geometry).representative_point().coords[0]
    assert 5.2 < lon < 5.35 and 52.15 < lat < 52.25


def test_at_300_m_they_are_two_regions_ranked_by_inhabitants(conn):
    regions = outreach_regions(conn, gemeente="GM0308", cluster_m=300)
    assert [codes_of(r) for r in regions] == [[SCHILDERSWIJK], [AMALIAPARK]]
    assert [r["rank"] for r in regions] == [1, 2]
    for region in regions:
        inhabitants, area = unit_figures(conn, codes_of(region))
        assert region["aantal_inwoners"] == inhabitants
        assert region["area_m2"] == pytest.approx(area, abs=1.0)
    assert [r["aantal_inwoners"] for r in regions] == [1975, 650]


def test_include_no_support_adds_those_units(conn):
    regions = outreach_regions(conn, gemeente="GM0308", cluster_m=500, include_no_support=True)
    assert [codes_of(r) for r in regions] == [[AMALIAPARK, SCHILDERSWIJK], [LAGE_VUURSCHE]]
    assert regions[1]["units"][0]["status"] == "no_support"
    assert regions[1]["aantal_inwoners"] == 210
    # within 5 km Lage Vuursche joins the others: one region with all three
    (joined,) = outreach_regions(conn, gemeente="GM0308", cluster_m=5000, include_no_support=True)
    assert codes_of(joined) == sorted(UNCOVERED) and joined["aantal_inwoners"] == 650 + 1975 + 210
    # units are listed most populous first
    assert [u["code"] for u in joined["units"]] == [SCHILDERSWIJK, AMALIAPARK, LAGE_VUURSCHE]


def test_touching_units_cluster_even_at_zero_metres(conn):
    from geoservice.queries.outreach import cluster_regions

    # Centrum and Schoonoordpark share a border; Lage Vuursche lies kilometres away
    units = [("BU03080000", "buurt"), ("BU03080001", "buurt"), (LAGE_VUURSCHE, "buurt")]
    regions = cluster_regions(conn, units, cluster_m=0, with_geometry=False)
    assert [(r["codes"], r["aantal_inwoners"]) for r in regions] == [
        (["BU03080000", "BU03080001"], 1825 + 1010), ([LAGE_VUURSCHE], 210)]
    assert cluster_regions(conn, [], cluster_m=500) == []


def test_without_geometry_and_a_gap_setting_that_leaves_no_white_spots(conn):
    (region,) = outreach_regions(conn, gemeente="GM0308", with_geometry=False)
    assert region["geometry"] is None
    # walking 10 km, the initiative in Lage Vuursche is near every buurt of Baarn: no white spots left
    assert outreach_regions(conn, gemeente="GM0308", params=GapParams(walk_m=10_000)) == []


def _within(conn, units: list[dict], partner: int, metres: int) -> bool:
    codes = [u["code"] for u in units]
    return conn.execute(text("""
        SELECT bool_and(EXISTS (SELECT 1 FROM service_area AS sa
                                WHERE sa.partner_id = :partner AND ST_DWithin(sa.geom, u.geom, :metres)))
        FROM (SELECT geom FROM buurt WHERE jaar = 2024 AND code = ANY(:codes)
              UNION ALL SELECT geom FROM wijk WHERE jaar = 2024 AND code = ANY(:codes)) AS u
    """), {"partner": partner, "metres": metres, "codes": codes}).scalar()


def test_partner_regions_respect_reach(conn, outreach_db):
    partner = outreach_db[1]["baarn"]
    near = [u for r in outreach_regions(conn, partner=partner, reach_m=10_000) for u in r["units"]]
    wide = [u for r in outreach_regions(conn, partner=partner, reach_m=30_000) for u in r["units"]]
    near_codes, wide_codes = {u["code"] for u in near}, {u["code"] for u in wide}
    assert {AMALIAPARK, SCHILDERSWIJK} <= near_codes and LAGE_VUURSCHE not in near_codes
    assert near_codes < wide_codes
    assert _within(conn, near, partner, 10_000)
    farther = [u for u in wide if u["code"] not in near_codes]
    assert not any(_within(conn, [u], partner, 10_000) for u in farther)
    # a far gemeente (Maastricht) is never in reach; neighbouring gemeenten count at wijk level
    assert not any(u["gemeentecode"] == "GM0935" for u in wide)
    assert {u["level"] for u in near} == {"buurt", "wijk"}
    assert all(u["status"] == "white_spot" for u in wide)


def test_partner_reach_zero_keeps_only_units_touching_its_areas(conn, outreach_db):
    partner = outreach_db[1]["baarn"]
    units = [u for r in outreach_regions(conn, partner=partner, reach_m=0) for u in r["units"]]
    assert {AMALIAPARK, SCHILDERSWIJK} <= {u["code"] for u in units}
    assert _within(conn, units, partner, 0)


@pytest.mark.parametrize("kwargs, error, match", [
    ({}, InvalidParameter, "precies één"),
    ({"gemeente": "GM0308", "partner": 1}, InvalidParameter, "precies één"),
    ({"gemeente": "GM0308", "cluster_m": 10_001}, InvalidParameter, "cluster_m"),
    ({"gemeente": "GM0308", "reach_m": -1}, InvalidParameter, "reach_m"),
    ({"gemeente": "GM9999"}, NotFound, "GM9999"),
    ({"partner": 999_999}, NotFound, "999999"),
])
def test_refusals(conn, kwargs, error, match):
    with pytest.raises(error, match=match):
        outreach_regions(conn, **kwargs)


def test_a_partner_without_service_areas_is_told_so(conn, outreach_db):
    with pytest.raises(InvalidParameter, match="geen werkgebied") as caught:
        outreach_regions(conn, partner=outreach_db[1]["empty"])
    assert caught.value.status == 400 and caught.value.code == "NoServiceArea"


# --- the API ------------------------------------------------------------------------------------

def test_api_gives_regions_as_geojson_with_the_parameters_used(api):
    response = api.get("/api/v1/outreach?gemeente=gm0308&cluster_m=300")
    assert response.status_code == 200 and response.mimetype == "application/geo+json"
    body = response.get_json()
    assert body["type"] == "FeatureCollection" and body["numberReturned"] == 2
    assert [f["id"] for f in body["features"]] == [1, 2]
    first = body["features"][0]
    assert first["geometry"]["type"] == "MultiPolygon"
    props = first["properties"]
    assert (props["rank"], props["n_units"], props["aantal_inwoners"]) == (1, 1, 1975)
    assert props["units"][0]["code"] == SCHILDERSWIJK and props["units"][0]["naam"] == "Schilderswijk"
    assert props["units"][0]["level"] == "buurt" and props["units"][0]["status"] == "white_spot"
    used = body["parameters"]
    assert {k: used[k] for k in ("partner", "gemeente", "cluster_m", "reach_m", "include_no_support", "statuses",
                                 "level", "walk_m", "min_inwoners", "kinds", "themes", "partner_services",
                                 "cbs_jaar")} == {
        "partner": None, "gemeente": "GM0308", "cluster_m": 300, "reach_m": None, "include_no_support": False,
        "statuses": ["white_spot"], "level": None, "walk_m": 1000, "min_inwoners": 50, "kinds": [], "themes": [],
        "partner_services": [], "cbs_jaar": 2024}


def test_api_partner_mode_and_gap_settings(api, outreach_db):
    partner = outreach_db[1]["baarn"]
    body = api.get(f"/api/v1/outreach?partner={partner}&reach_m=0&include_no_support=ja&walk_m=500"
                   "&kind=Energiecoöperatie&theme=energie_klimaat").get_json()
    used = body["parameters"]
    assert (used["partner"], used["reach_m"], used["include_no_support"], used["walk_m"]) == (partner, 0, True, 500)
    assert used["kinds"] == ["energiecooperatie"] and used["themes"] == ["energie_klimaat"]
    assert used["statuses"] == ["white_spot", "no_support"]
    status = {u["code"]: u["status"] for f in body["features"] for u in f["properties"]["units"]}
    # only energy initiatives count, and there are none: Lage Vuursche is a white spot now
    assert status[LAGE_VUURSCHE] == status[AMALIAPARK] == status[SCHILDERSWIJK] == "white_spot"


@pytest.mark.parametrize("query, status, code", [
    ("", 400, "MissingParameterValue"),
    ("gemeente=GM0308&partner=1", 400, "InvalidParameterValue"),
    ("gemeente=Baarn", 400, "InvalidParameterValue"),
    ("gemeente=WK030801", 400, "InvalidParameterValue"),
    ("partner=abc", 400, "InvalidParameterValue"),
    ("partner=0", 400, "InvalidParameterValue"),
    ("gemeente=GM0308&cluster_m=10001", 400, "InvalidParameterValue"),
    ("gemeente=GM0308&cluster_m=-1", 400, "InvalidParameterValue"),
    ("partner=1&reach_m=100001", 400, "InvalidParameterValue"),
    ("gemeente=GM0308&include_no_support=misschien", 400, "InvalidParameterValue"),
    ("gemeente=GM0308&walk_m=veel", 400, "InvalidParameterValue"),
    ("gemeente=GM0308&kind=geen-soort", 400, "InvalidParameterValue"),
    ("gemeente=GM9999", 404, "NotFound"),
    ("partner=999999", 404, "NotFound"),
    ("partner=99999999999999", 404, "NotFound"),
])
def test_api_errors(api, query, status, code):
    response = api.get(f"/api/v1/outreach?{query}")
    assert response.status_code == status and response.mimetype == "application/json"
    body = response.get_json()
    assert sorted(body) == ["code", "description"] and body["code"] == code


def test_api_partner_without_service_areas_is_400(api, outreach_db):
    response = api.get(f"/api/v1/outreach?partner={outreach_db[1]['empty']}")
    assert response.status_code == 400
    assert response.get_json()["code"] == "NoServiceArea"
    assert "geen werkgebied" in response.get_json()["description"]


def test_api_responses_match_the_openapi_document(api, outreach_db):
    from openapi_schema_validator import OAS30Validator

    document = api.get("/api/v1/openapi.json").get_json()
    operation = document["paths"]["/api/v1/outreach"]["get"]
    documented = {p["name"] for p in operation["parameters"]}
    assert documented == {"partner", "gemeente", "cluster_m", "reach_m", "include_no_support", "level", "walk_m",
                          "min_inwoners", "kind", "theme", "partner_services", "format"}
    schema = operation["responses"]["200"]["content"]["application/geo+json"]["schema"]
    validator = OAS30Validator({**schema, "components": document["components"]})
    for query in ("gemeente=GM0308", f"partner={outreach_db[1]['baarn']}&include_no_support=true"):
        body = api.get(f"/api/v1/outreach?{query}").get_json()
        assert body["features"]
        assert not sorted(validator.iter_errors(body), key=str), query


# --- the CLI ------------------------------------------------------------------------------------

def run(url: str, runner_env, *args):
    return CliRunner().invoke(main, ["outreach", *map(str, args)], env=runner_env(url))


def test_cli_table(outreach_db, runner_env):
    result = run(outreach_db[0], runner_env, "--gemeente", "GM0308", "--cluster-m", "300")
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert "2 regio's" in lines[0]
    first, second = [line for line in lines if line.strip()[:1].isdigit()]
    # rank, priority (inhabitants × need: 1,975 × 0.37 against 650 × 0.95), units, inhabitants
    assert first.split()[:4] == ["1", "722", "1", "1.975"] and "Schilderswijk (BU03080103)" in first
    assert second.split()[:4] == ["2", "617", "1", "650"] and "Amaliapark" in second


def test_cli_geojson_matches_the_api(outreach_db, runner_env, api):
    result = run(outreach_db[0], runner_env, "--partner", outreach_db[1]["baarn"], "--include-no-support",
                 "--format", "geojson")
    assert result.exit_code == 0, result.output
    body = json.loads(result.output)
    from_api = api.get(f"/api/v1/outreach?partner={outreach_db[1]['baarn']}&include_no_support=true").get_json()
    assert body == from_api


@pytest.mark.parametrize("args, exit_code, message", [
    ((), 2, "precies één"),
    (("--gemeente", "GM0308", "--partner", "1"), 2, "precies één"),
    (("--gemeente", "Baarn"), 2, "geen gemeentecode"),
    (("--gemeente", "GM0308", "--cluster-m", "20000"), 2, "--cluster-m"),
    (("--gemeente", "GM9999"), 1, "Fout: Er is geen gemeente met code GM9999"),
])
def test_cli_refusals(outreach_db, runner_env, args, exit_code, message):
    result = run(outreach_db[0], runner_env, *args)
    assert result.exit_code == exit_code and message in result.output
