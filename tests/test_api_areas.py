"""GET /api/v1/areas/lookup and /healthz against the shipped CBS data."""

from __future__ import annotations

import pytest

from .helpers import shipped


def _inside_points(filename: str, every: int = 1):
    """For each buurt a point surely inside it (shapely), in WGS84, with the expected code."""
    frame = shipped(filename).iloc[::every]
    points = frame.geometry.representative_point().to_crs(4326)
    return [(code, p.y, p.x) for code, p in zip(frame["buurtcode"], points)]


BAARN = _inside_points("buurten_2024_baarn.gpkg")
AMSTERDAM = _inside_points("buurten_2024_amsterdam.gpkg", every=13)


@pytest.mark.parametrize("code, lat, lon", BAARN + AMSTERDAM)
def test_lookup_finds_the_buurt_that_contains_the_point(client, code, lat, lon):
    response = client.get(f"/api/v1/areas/lookup?lat={lat}&lon={lon}")
    assert response.status_code == 200
    body = response.get_json()
    assert body["buurt"]["code"] == code
    assert body["wijk"]["code"] == "WK" + code[2:8]
    assert body["gemeente"]["code"] == "GM" + code[2:6]
    assert body["jaar"] == 2024


def test_lookup_gives_names_and_population(client):
    code, lat, lon = BAARN[0]
    body = client.get(f"/api/v1/areas/lookup?lat={lat}&lon={lon}").get_json()
    assert body["gemeente"] == {"code": "GM0308", "naam": "Baarn", "aantal_inwoners": 25065}
    assert body["buurt"]["naam"] == "Centrum" and body["buurt"]["aantal_inwoners"] == 1825


def test_lookup_where_no_buurten_are_loaded_gives_wijk_and_null_buurt(client):
    # Utrecht, Domplein: wijken are loaded nationally, buurten only for Baarn and Amsterdam
    body = client.get("/api/v1/areas/lookup?lat=52.0907&lon=5.1214").get_json()
    assert body["gemeente"]["code"] == "GM0344"
    assert body["wijk"]["code"].startswith("WK0344")
    assert body["buurt"] is None


@pytest.mark.parametrize(
    "query, status, code, fragment",
    [
        ("", 400, "MissingParameterValue", "'lat' ontbreekt"),
        ("lat=52.2", 400, "MissingParameterValue", "'lon' ontbreekt"),
        ("lat=abc&lon=5.29", 400, "InvalidParameterValue", "getal"),
        ("lat=52.2&lon=5.2.9", 400, "InvalidParameterValue", "getal"),
        ("lat=1e999&lon=5.29", 400, "InvalidParameterValue", "eindig"),
        ("lat=95&lon=5.29", 400, "InvalidParameterValue", "tussen -90 en 90"),
        ("lat=52.2&lon=200", 400, "InvalidParameterValue", "tussen -180 en 180"),
        ("lat=52.2&lon=5.29'%20OR%201=1--", 400, "InvalidParameterValue", "getal"),
        ("lat=53.9&lon=3.0", 404, "NotFound", "geen enkel geladen gebied"),  # North Sea
        ("lat=5.2878&lon=52.2165", 404, "NotFound", "omgewisseld"),  # swapped
        ("lat=48.85&lon=2.35", 404, "NotFound", "geen enkel geladen gebied"),  # Paris
    ],
)
def test_lookup_errors_are_json(client, query, status, code, fragment):
    response = client.get(f"/api/v1/areas/lookup?{query}")
    assert response.status_code == status
    assert response.mimetype == "application/json"
    body = response.get_json()
    assert set(body) == {"code", "description"}
    assert body["code"] == code and fragment in body["description"]


def test_healthz_reports_database_year_and_counts(client):
    body = client.get("/healthz").get_json()
    assert body == {"status": "ok", "database": "ok", "cbs_jaar": 2024,
                    "counts": {"gemeente": 343, "wijk": 3475, "buurt": 539}}


def test_healthz_says_503_when_the_database_is_gone(pg_server):
    from geoservice import create_app

    from .conftest import settings_for

    app = create_app(settings_for(pg_server.url("does_not_exist")))
    response = app.test_client().get("/healthz")
    assert response.status_code == 503
    assert response.get_json()["database"] == "unreachable"
