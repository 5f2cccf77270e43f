"""GET /api/v1/areas/{code} and /areas/{code}/partners: figures, counts and covered shares."""

from __future__ import annotations

import os

import pytest
from shapely.geometry import shape
from sqlalchemy import text

from geoservice.db import make_engine
from geoservice.vocab import INITIATIVE_KINDS, THEMES

from .conftest import app_on
from .helpers import make_initiative, shipped
from .helpers import BUURT_GEOM, add_partner, add_service_area

BUURT = "BU03080102"  # Baarn, Staatsliedenwijk
NEIGHBOUR = "BU03080101"  # Professorenwijk, same wijk, shares a border


def _inside(code: str, shift: float = 0.0) -> dict:
    frame = shipped("buurten_2024_baarn.gpkg")
    p = frame.loc[frame["buurtcode"] == code].geometry.representative_point().to_crs(4326).iloc[0]
    return {"lon": p.x + shift, "lat": p.y}


def _halving_x(conn, code: str) -> float:
    """The RD x that splits the buurt into two halves of equal area (bisection)."""
    xmin, ymin, xmax, ymax = conn.execute(text(
        "SELECT ST_XMin(geom), ST_YMin(geom), ST_XMax(geom), ST_YMax(geom) FROM buurt WHERE code = :c"),
        {"c": code}).one()
    low, high = xmin, xmax
    for _ in range(40):
        mid = (low + high) / 2
        share = conn.execute(text(
            "SELECT ST_Area(ST_Intersection(geom, ST_MakeEnvelope(:x0, :y0, :x, :y1, 28992))) / ST_Area(geom) "
            "FROM buurt WHERE code = :c"), {"c": code, "x0": xmin - 1, "y0": ymin - 1, "x": mid, "y1": ymax + 1}
        ).scalar()
        low, high = (mid, high) if share < 0.5 else (low, mid)
    return (low + high) / 2


@pytest.fixture(scope="module")
def area_db(pg_server, template_db):
    name = f"geoservice_test_api_area_details_{os.getpid()}"
    url = pg_server.create(name, template=template_db)
    engine = make_engine(url)
    with engine.begin() as conn:
        make_initiative(conn, **_inside(BUURT), kind="bewonersinitiatief", themes=["ontmoeting", "jeugd"])
        make_initiative(conn, **_inside(BUURT, 0.0001), kind="bewonersinitiatief", themes=["ontmoeting"])
        make_initiative(conn, **_inside(BUURT, -0.0001), kind="energiecooperatie", themes=["energie_klimaat"])
        make_initiative(conn, **_inside(BUURT), kind="overig", themes=["cultuur"], status="pending")
        make_initiative(conn, **_inside(NEIGHBOUR), kind="zorgcooperatie", themes=["ouderen", "zorg_welzijn"])
        make_initiative(conn, **_inside("BU03080000"), kind="wijkbedrijf", themes=["werk_economie"])

        whole = add_partner(conn, "Heel")
        add_service_area(conn, whole, "De buurt", BUURT_GEOM, code=BUURT)
        double = add_partner(conn, "Dubbel")
        add_service_area(conn, double, "Een", BUURT_GEOM, code=BUURT)
        add_service_area(conn, double, "Twee", f"ST_Buffer({BUURT_GEOM}, 0)", code=BUURT)
        half = add_partner(conn, "Half")
        add_service_area(conn, half, "West", f"ST_Intersection({BUURT_GEOM}, ST_MakeEnvelope(0, 0, :x, 700000, 28992))",
                         code=BUURT, x=_halving_x(conn, BUURT))
        neighbour = add_partner(conn, "Buurman")
        add_service_area(conn, neighbour, "Professorenwijk", BUURT_GEOM, code=NEIGHBOUR)
        small = add_partner(conn, "Klein")
        add_service_area(conn, small, "Stipje", f"ST_Buffer(ST_PointOnSurface({BUURT_GEOM}), 5)", code=BUURT)
    engine.dispose()
    yield url
    pg_server.drop(name)


@pytest.fixture(scope="module")
def api(area_db):
    app = app_on(area_db)
    return app.test_client()


def test_a_buurt_with_figures_geometry_and_counts(api):
    response = api.get(f"/api/v1/areas/{BUURT.lower()}")
    assert response.status_code == 200 and response.mimetype == "application/geo+json"
    body = response.get_json()
    assert body["type"] == "Feature" and body["id"] == BUURT
    props = body["properties"]
    assert (props["level"], props["naam"], props["jaar"]) == ("buurt", "Staatsliedenwijk", 2024)
    assert (props["gemeentecode"], props["wijkcode"]) == ("GM0308", "WK030801")
    frame = shipped("buurten_2024_baarn.gpkg").set_index("buurtcode")
    assert props["aantal_inwoners"] == frame.loc[BUURT, "aantal_inwoners"]
    assert props["aantal_huishoudens"] == frame.loc[BUURT, "aantal_huishoudens"]
    assert {"pct_0_15", "pct_65plus", "bevolkingsdichtheid", "oppervlakte_land_ha", "kerncijfers"} <= set(props)
    geom = shape(body["geometry"])
    assert body["geometry"]["type"] == "MultiPolygon" and 5.2 < geom.centroid.x < 5.4 < 52.1 < geom.centroid.y
    expected = frame.loc[[BUURT]].to_crs(4326).geometry.iloc[0]
    assert geom.symmetric_difference(expected).area / expected.area < 0.001
    counts = props["counts"]
    assert counts["initiatives"] == 3
    assert counts["initiatives_by_kind"] == {k: {"bewonersinitiatief": 2, "energiecooperatie": 1}.get(k, 0)
                                             for k in INITIATIVE_KINDS}
    assert counts["initiatives_by_theme"] == {k: {"ontmoeting": 2, "jeugd": 1, "energie_klimaat": 1}.get(k, 0)
                                              for k in THEMES}
    assert counts["partners"] == 3  # Heel, Dubbel, Half; not the neighbour, not the 5 m dot


def test_a_wijk_and_a_gemeente_count_what_lies_inside(api):
    wijk = api.get("/api/v1/areas/WK030801").get_json()["properties"]
    assert (wijk["level"], wijk["gemeentecode"], wijk["wijkcode"]) == ("wijk", "GM0308", None)
    assert wijk["counts"]["initiatives"] == 4 and wijk["counts"]["initiatives_by_kind"]["zorgcooperatie"] == 1
    gemeente = api.get("/api/v1/areas/GM0308").get_json()["properties"]
    assert (gemeente["naam"], gemeente["aantal_inwoners"]) == ("Baarn", 25065)
    assert gemeente["counts"]["initiatives"] == 5 and gemeente["counts"]["initiatives_by_theme"]["ouderen"] == 1
    empty = api.get("/api/v1/areas/GM0344").get_json()["properties"]["counts"]
    assert empty["initiatives"] == 0 and empty["partners"] == 0


def test_covered_share_whole_half_double_and_touching(api):
    response = api.get(f"/api/v1/areas/{BUURT}/partners")
    assert response.status_code == 200
    body = response.get_json()
    assert body["area"] == {"code": BUURT, "naam": "Staatsliedenwijk", "level": "buurt", "jaar": 2024}
    shares = {p["name"]: p["covered_share"] for p in body["partners"]}
    assert shares["Heel"] == 1.0
    assert shares["Dubbel"] == 1.0  # overlapping service areas of one partner count once
    assert shares["Half"] == pytest.approx(0.5, abs=0.001)
    assert "Buurman" not in shares and "Klein" not in shares
    assert [p["name"] for p in body["partners"]] == ["Dubbel", "Heel", "Half"]  # by share, then name
    assert body["partners"][0]["service_areas"]


def test_min_share_zero_also_lists_tiny_overlaps_but_never_a_border(api):
    shares = {p["name"]: p["covered_share"]
              for p in api.get(f"/api/v1/areas/{BUURT}/partners?min_share=0").get_json()["partners"]}
    assert 0 < shares["Klein"] < 0.01 and "Buurman" not in shares
    only_whole = api.get(f"/api/v1/areas/{BUURT}/partners?min_share=1").get_json()["partners"]
    assert {p["name"] for p in only_whole} == {"Heel", "Dubbel"}


def test_wijk_share_is_the_part_of_the_wijk(api):
    shares = {p["name"]: p["covered_share"] for p in api.get("/api/v1/areas/WK030801/partners").get_json()["partners"]}
    frame = shipped("buurten_2024_baarn.gpkg")
    wijk = frame.loc[frame["wijkcode"] == "WK030801"]
    expected = wijk.loc[wijk["buurtcode"] == BUURT].area.sum() / wijk.area.sum()
    assert shares["Heel"] == pytest.approx(expected, abs=0.01)
    assert shares["Buurman"] > 0


@pytest.mark.parametrize("path, status, fragment", [
    ("Baarn", 400, "geen CBS-code"),
    ("BU030801", 400, "geen CBS-code"),
    ("GM9999", 404, "GM9999"),
    ("BU03449999", 404, "buurt"),
    ("WK9999%27%20OR%20%271%27=%271", 400, "geen CBS-code"),
    ("GM0308/partners?min_share=2", 400, "tussen 0 en 1"),
    ("GM0308/partners?min_share=veel", 400, "getal"),
    ("XX/partners", 400, "geen CBS-code"),
    ("GM9999/partners", 404, "GM9999"),
])
def test_bad_and_unknown_codes(api, path, status, fragment):
    response = api.get(f"/api/v1/areas/{path}")
    assert response.status_code == status
    body = response.get_json()
    assert set(body) == {"code", "description"} and fragment in body["description"]


def test_lookup_still_answers_beside_area_details(api):
    body = api.get("/api/v1/areas/lookup?lat=52.2165&lon=5.2878").get_json()
    assert body["buurt"]["code"] == BUURT


@pytest.mark.parametrize("value", ["' OR 1=1--", "GM0308'; DROP TABLE buurt;--", "\x00", "%", "GM0308%00", "9" * 40])
def test_injection_looking_values_never_give_500(api, value):
    from urllib.parse import quote

    for path in (f"/api/v1/areas/{quote(value)}", f"/api/v1/areas/{quote(value)}/partners"):
        response = api.get(path)
        assert response.status_code in (400, 404), path
        assert set(response.get_json()) == {"code", "description"}
    response = api.get("/api/v1/areas/GM0308/partners", query_string={"min_share": value})
    assert response.status_code == 400
    assert api.get(f"/api/v1/areas/{BUURT}").status_code == 200
