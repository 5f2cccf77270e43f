"""Vector tiles: /tiles/{layer}/{z}/{x}/{y}.mvt, decoded with the benchmarks' minimal protobuf reader (bench/_mvt.py)."""

from __future__ import annotations

import math

import pytest

from bench._mvt import decode
from geoservice.queries.tiles import tolerance_m
from geoservice.tiles import MIN_ZOOM, MVT_TYPE, render_tile

BAARN = (5.2878, 52.2165)  # lon, lat


def tile_at(lon: float, lat: float, z: int) -> tuple[int, int]:
    n = 2**z
    return int((lon + 180) / 360 * n), int((1 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2 * n)


def test_buurt_tile_over_baarn_has_the_buurten_of_the_api(client):
    x, y = tile_at(*BAARN, 12)
    response = client.get(f"/tiles/buurten/12/{x}/{y}.mvt")
    assert response.status_code == 200
    assert response.content_type == MVT_TYPE
    features = decode(response.data)["buurten"]
    by_code = {f["properties"]["code"]: f["properties"] for f in features}
    assert any(code.startswith("BU0308") for code in by_code)  # Baarn
    # The buurten of Baarn that the API finds in this tile (by their bounding box) are all there.
    west, south, east, north = _lonlat_bounds(12, x, y)
    gaps = client.get("/api/v1/gaps?gemeente=GM0308&level=buurt").get_json()
    api_units = {u["code"]: u for u in gaps["units"]} if "units" in gaps else {
        f["properties"]["code"]: f["properties"] for f in gaps["features"]}
    baarn_here = {code for code in by_code if code.startswith("BU0308")}
    assert baarn_here <= set(api_units)
    for code in baarn_here:
        area = client.get(f"/api/v1/areas/{code}").get_json()
        props = area.get("properties", area)
        assert by_code[code]["naam"] == props["naam"]
        assert by_code[code]["aantal_inwoners"] == props["aantal_inwoners"]
        for key in ("status", "n_initiatives", "n_nearby"):
            assert by_code[code][key] == api_units[code][key], (code, key)
        assert abs(by_code[code]["coverage"] - api_units[code]["coverage"]) <= 0.0005
        for key in ("need", "priority"):  # every buurt of Baarn has a need, and is a white spot here
            assert by_code[code][key] == pytest.approx(api_units[code][key], abs=1e-6), (code, key)
    # the buurt under the Baarn point itself is in it
    lookup = client.get(f"/api/v1/areas/lookup?lon={BAARN[0]}&lat={BAARN[1]}").get_json()
    assert lookup["buurt"]["code"] in by_code
    assert west < BAARN[0] < east and south < BAARN[1] < north


def _lonlat_bounds(z, x, y):
    from geoservice.tiles import tile_lonlat_bounds

    return tile_lonlat_bounds(z, x, y)


@pytest.mark.parametrize("layer", ["gemeenten", "wijken", "buurten", "initiatives"])
def test_a_tile_at_sea_is_empty(client, layer):
    x, y = tile_at(3.0, 53.5, 12)  # North Sea, west of Texel
    response = client.get(f"/tiles/{layer}/12/{x}/{y}.mvt")
    assert response.status_code == 204
    assert response.data == b""


def test_below_the_lowest_zoom_of_a_layer_the_tile_is_empty(client):
    z = MIN_ZOOM["buurten"] - 1
    x, y = tile_at(*BAARN, z)
    assert client.get(f"/tiles/buurten/{z}/{x}/{y}.mvt").status_code == 204
    assert client.get(f"/tiles/gemeenten/{z}/{x}/{y}.mvt").status_code == 200


@pytest.mark.parametrize("path, status", [
    ("/tiles/provincies/12/2108/1348.mvt", 404),
    ("/tiles/buurten/23/0/0.mvt", 400),
    ("/tiles/buurten/-1/0/0.mvt", 400),
    ("/tiles/buurten/2/4/0.mvt", 400),
    ("/tiles/buurten/2/0/-1.mvt", 400),
    ("/tiles/buurten/twaalf/0/0.mvt", 400),
])
def test_bad_tiles_get_the_json_error_shape(client, path, status):
    response = client.get(path)
    assert response.status_code == status
    assert set(response.get_json()) == {"code", "description"}


def test_gemeente_tile_attributes_match_the_api(client):
    x, y = tile_at(*BAARN, 8)
    features = decode(client.get(f"/tiles/gemeenten/8/{x}/{y}.mvt").data)["gemeenten"]
    baarn = next(f["properties"] for f in features if f["properties"]["code"] == "GM0308")
    area = client.get("/api/v1/areas/GM0308").get_json()
    props = area.get("properties", area)
    assert (baarn["naam"], baarn["aantal_inwoners"]) == (props["naam"], props["aantal_inwoners"])
    assert "status" not in baarn


def test_simplification_makes_low_zoom_tiles_smaller(app):
    from geoservice import db

    z = 8
    x, y = tile_at(*BAARN, z)
    with app.app_context():
        conn = db.get_session().connection()
        simplified = render_tile(conn, "wijken", z, x, y)
        full = render_tile(conn, "wijken", z, x, y, tolerance=0.0)
        vertices = {name: sum(len(f["geometry"]) for f in decode(data)["wijken"])
                    for name, data in (("simplified", simplified), ("full", full))}
    assert tolerance_m(z) > tolerance_m(12) > 0
    assert len(simplified) < len(full) * 0.8
    assert vertices["simplified"] < vertices["full"]
    assert len(decode(simplified)["wijken"]) == len(decode(full)["wijken"])  # same wijken, fewer vertices


def test_initiative_tile_shows_published_initiatives_only(app_for, fresh_db_url, engine_for):
    from .helpers import make_initiative

    with engine_for(fresh_db_url).begin() as conn:
        shown = make_initiative(conn, name="Zichtbaar", themes=["ontmoeting", "groen_natuur"])
        hidden = make_initiative(conn, name="Verborgen", status="pending")
    client = app_for(fresh_db_url).test_client()
    x, y = tile_at(*BAARN, 14)
    features = decode(client.get(f"/tiles/initiatives/14/{x}/{y}.mvt").data)["initiatives"]
    by_id = {f["properties"]["id"]: f for f in features}
    assert shown in by_id and hidden not in by_id
    assert by_id[shown]["id"] == shown
    assert by_id[shown]["properties"]["name"] == "Zichtbaar"
    assert by_id[shown]["properties"]["themes"].split(";") == ["ontmoeting", "groen_natuur"]
    z = MIN_ZOOM["initiatives"] - 1
    x, y = tile_at(*BAARN, z)
    assert client.get(f"/tiles/initiatives/{z}/{x}/{y}.mvt").status_code == 204


def test_buurt_tile_counts_a_new_initiative_before_and_after_the_refresh(app_for, fresh_db_url, engine_for):
    from geoservice.queries import gaps as gap_queries

    from .helpers import make_initiative

    engine = engine_for(fresh_db_url)
    client = app_for(fresh_db_url).test_client()
    x, y = tile_at(*BAARN, 12)

    def figures() -> dict[str, dict]:
        features = decode(client.get(f"/tiles/buurten/12/{x}/{y}.mvt").data)["buurten"]
        return {f["properties"]["code"]: f["properties"] for f in features}

    before = figures()
    with engine.begin() as conn:
        make_initiative(conn)  # at BAARN, not refreshed: the tile must count it all the same
    lookup = client.get(f"/api/v1/areas/lookup?lon={BAARN[0]}&lat={BAARN[1]}").get_json()
    home = lookup["buurt"]["code"]
    stale = figures()
    assert stale[home]["n_initiatives"] == before[home]["n_initiatives"] + 1
    assert stale[home]["n_nearby"] == before[home]["n_nearby"] + 1
    with engine.begin() as conn:
        assert gap_queries.refresh_counts(conn) is not None
    assert figures() == stale  # read from gap_counts now: the same figures
