"""GET /api/v1/gaps/summary?format=geojson&zoom=: the summary rows on the gemeente outlines, simplified for a zoom."""

from __future__ import annotations

import pytest
import shapely
from openapi_schema_validator import OAS30Validator
from pyproj import Transformer
from shapely.geometry import Polygon, shape

from geoservice.api.gaps import ZOOM

TO_RD = Transformer.from_crs(4326, 28992, always_xy=True).transform


def _geojson(client, query: str = "") -> dict:
    response = client.get(f"/api/v1/gaps/summary?format=geojson&{query}")
    assert response.status_code == 200, response.get_data(as_text=True)[:300]
    assert response.mimetype == "application/geo+json"
    return response.get_json()


def _vertices(body: dict) -> int:
    return sum(len(ring) for f in body["features"] for polygon in f["geometry"]["coordinates"] for ring in polygon)


def test_one_feature_per_summary_row_with_the_row_as_properties(client):
    rows = client.get("/api/v1/gaps/summary?sort=aantal_inwoners").get_json()["gemeenten"]
    body = _geojson(client, "sort=aantal_inwoners")
    assert body["type"] == "FeatureCollection"
    assert body["numberReturned"] == len(body["features"]) == len(rows)
    assert [f["id"] for f in body["features"]] == [r["gemeentecode"] for r in rows]  # the same order
    assert [f["properties"] for f in body["features"]] == rows
    assert body["parameters"]["zoom"] == ZOOM["default"] and body["parameters"]["sort"] == "aantal_inwoners"
    assert body["status_labels"]["white_spot"] == "witte vlek"


def test_geometries_are_valid_rfc7946_multipolygons(client):
    for zoom in (3, ZOOM["default"]):
        for f in _geojson(client, f"zoom={zoom}")["features"]:
            geometry = f["geometry"]
            assert geometry["type"] == "MultiPolygon" and geometry["coordinates"], f["id"]
            for polygon in geometry["coordinates"]:
                for ring in polygon:
                    assert len(ring) >= 4 and ring[0] == ring[-1], f["id"]
                    assert all(len(p) == 2 and 3.0 < p[0] < 7.5 and 50.5 < p[1] < 54.0 for p in ring), f["id"]
                # RFC 7946: exterior rings counter-clockwise, holes clockwise
                assert Polygon(polygon[0]).exterior.is_ccw, f["id"]
                assert all(not Polygon(hole).exterior.is_ccw for hole in polygon[1:]), f["id"]
            assert shape(geometry).is_valid, (zoom, f["id"])


def test_a_lower_zoom_gives_fewer_vertices_and_fewer_bytes(client):
    sizes, vertices = {}, {}
    for zoom in (5, 8, 11):
        response = client.get(f"/api/v1/gaps/summary?format=geojson&zoom={zoom}")
        sizes[zoom], vertices[zoom] = len(response.data), _vertices(response.get_json())
    assert vertices[5] < vertices[8] < vertices[11]
    assert sizes[5] < sizes[8] < sizes[11]


@pytest.mark.parametrize("zoom", [7, 9])
def test_outlines_stay_within_half_a_pixel_of_the_full_outline(client, zoom):
    """Simplified to about half a pixel at that zoom: nowhere farther from the real border (in RD metres)."""
    simplified = _geojson(client, f"gemeente=GM0308&zoom={zoom}")
    full = _geojson(client, "gemeente=GM0308&zoom=22")
    tolerance = simplified["parameters"]["tolerance_m"]
    assert tolerance == pytest.approx(156_543.034 * 0.6157 / 2 ** zoom / 2, rel=0.01)
    outline = shapely.transform(shape(simplified["features"][0]["geometry"]), TO_RD, interleaved=False)
    original = shapely.transform(shape(full["features"][0]["geometry"]), TO_RD, interleaved=False)
    assert outline.hausdorff_distance(original) <= tolerance * 1.1


def test_one_gemeente(client):
    row = client.get("/api/v1/gaps/summary?gemeente=GM0308").get_json()["gemeenten"][0]
    body = _geojson(client, "gemeente=gm0308&zoom=10")
    assert [f["id"] for f in body["features"]] == ["GM0308"]
    assert body["features"][0]["properties"] == row
    assert body["parameters"]["gemeente"] == "GM0308" and body["parameters"]["zoom"] == 10
    assert 5.2 < shape(body["features"][0]["geometry"]).centroid.x < 5.4  # Baarn


@pytest.mark.parametrize("query", ["format=geojson&zoom=23", "format=geojson&zoom=-1", "format=geojson&zoom=ver",
                                   "format=geojson&zoom=7.5", "zoom=23", "format=csv&zoom=99"])
def test_zoom_out_of_range_is_400_in_the_json_error_shape(client, query):
    response = client.get(f"/api/v1/gaps/summary?{query}")
    assert response.status_code == 400 and response.mimetype == "application/json"
    body = response.get_json()
    assert set(body) == {"code", "description"} and body["code"] == "InvalidParameterValue"
    assert "zoom" in body["description"]


def test_the_geojson_answer_matches_the_openapi_document(client):
    document = client.get("/api/v1/openapi.json").get_json()
    operation = document["paths"]["/api/v1/gaps/summary"]["get"]
    zoom = next(p for p in operation["parameters"] if p["name"] == "zoom")
    assert (zoom["schema"]["minimum"], zoom["schema"]["maximum"], zoom["schema"]["default"]) == (0, 22, 8)
    fmt = next(p for p in operation["parameters"] if p["name"] == "format")
    assert "geojson" in fmt["schema"]["enum"]
    schema = operation["responses"]["200"]["content"]["application/geo+json"]["schema"]
    validator = OAS30Validator({**schema, "components": document["components"]})
    errors = sorted(validator.iter_errors(_geojson(client, "zoom=6")), key=str)
    assert not errors, [e.message for e in errors[:3]]
