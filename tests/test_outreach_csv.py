"""GET /api/v1/outreach?format=csv: the same regions as the GeoJSON, one row each, without geometry."""

from __future__ import annotations

import csv
import io

import pytest

from geoservice.analysis.outreach import REGION_CSV_COLUMNS

from .conftest import app_on
from .helpers import AMALIAPARK, LAGE_VUURSCHE, SCHILDERSWIJK, seed_outreach, seeded_database


@pytest.fixture(scope="module")
def api(pg_server, template_db):
    """(test client, partner ids): a partner serving Baarn except three buurten, one initiative in Lage Vuursche."""
    with seeded_database(pg_server, template_db, "outreach_csv", seed_outreach) as (url, partners):
        app = app_on(url)
        yield app.test_client(), partners


def csv_rows(response) -> tuple[list[str], list[dict]]:
    reader = csv.DictReader(io.StringIO(response.get_data(as_text=True)))
    return reader.fieldnames, list(reader)


def expected_rows(features: list[dict]) -> list[dict]:
    """What each CSV row must say, worked out from the GeoJSON features."""
    rows = []
    for f in features:
        p, units = f["properties"], f["properties"]["units"]
        rows.append({
            "rank": str(p["rank"]), "priority": repr(float(p["priority"])), "n_units": str(p["n_units"]),
            "aantal_inwoners": str(p["aantal_inwoners"]),
            "area_m2": repr(float(p["area_m2"])),
            "unit_codes": ";".join(u["code"] for u in units), "unit_names": ";".join(u["naam"] for u in units),
            "unit_statuses": ";".join(u["status"] for u in units),
            "unit_needs": ";".join("" if u["need"] is None else repr(u["need"]) for u in units),
            "gemeentecodes": ";".join(dict.fromkeys(u["gemeentecode"] for u in units)), "demo_data": "false",
        })
    return rows


@pytest.mark.parametrize("query, filename", [
    ("gemeente=GM0308&cluster_m=300", "outreach-GM0308.csv"),
    ("gemeente=gm0308&cluster_m=5000&include_no_support=true", "outreach-GM0308.csv"),
    ("partner={baarn}&reach_m=2000&cluster_m=0", "outreach-partner-{baarn}.csv"),
    ("partner={baarn}&include_no_support=ja&walk_m=500", "outreach-partner-{baarn}.csv"),
])
def test_csv_has_the_regions_of_the_geojson(api, query, filename):
    client, ids = api
    query, filename = query.format(**ids), filename.format(**ids)
    geojson = client.get(f"/api/v1/outreach?{query}").get_json()
    assert geojson["features"]
    response = client.get(f"/api/v1/outreach?{query}&format=csv")
    assert response.status_code == 200 and response.mimetype == "text/csv"
    assert response.headers["Content-Disposition"] == f'attachment; filename="{filename}"'
    columns, rows = csv_rows(response)
    assert columns == list(REGION_CSV_COLUMNS)
    assert rows == expected_rows(geojson["features"])


def test_csv_ranks_by_inhabitants_and_lists_the_no_support_units(api):
    client, _ = api
    _, rows = csv_rows(client.get("/api/v1/outreach?gemeente=GM0308&cluster_m=500&include_no_support=true"
                                  "&format=csv"))
    # Amaliapark + Schilderswijk (650 + 1,975) first; Lage Vuursche (210, an initiative but no partner) second
    assert [(r["rank"], r["aantal_inwoners"], r["unit_codes"]) for r in rows] == [
        ("1", "2625", f"{SCHILDERSWIJK};{AMALIAPARK}"), ("2", "210", LAGE_VUURSCHE)]
    assert rows[0]["unit_names"] == "Schilderswijk;Amaliapark" and rows[1]["unit_statuses"] == "no_support"


def test_an_empty_answer_is_a_header_only(api):
    client, _ = api
    response = client.get("/api/v1/outreach?gemeente=GM0308&walk_m=10000&format=csv")
    assert response.status_code == 200
    assert response.get_data(as_text=True) == ",".join(REGION_CSV_COLUMNS) + "\r\n"


@pytest.mark.parametrize("query, status, code", [
    ("gemeente=GM0308&format=xml", 400, "InvalidParameterValue"),
    ("gemeente=GM0308&format=csv&cluster_m=-1", 400, "InvalidParameterValue"),
    ("gemeente=GM9999&format=csv", 404, "NotFound"),
    ("partner={empty}&format=csv", 400, "NoServiceArea"),
])
def test_csv_requests_are_refused_like_geojson_ones(api, query, status, code):
    client, ids = api
    response = client.get(f"/api/v1/outreach?{query.format(**ids)}")
    assert response.status_code == status and response.mimetype == "application/json"
    assert response.get_json()["code"] == code


def test_format_is_case_blind_and_geojson_by_default(api):
    client, _ = api
    assert client.get("/api/v1/outreach?gemeente=GM0308&format=CSV").mimetype == "text/csv"
    assert client.get("/api/v1/outreach?gemeente=GM0308").mimetype == "application/geo+json"
    assert client.get("/api/v1/outreach?gemeente=GM0308&format=geojson").mimetype == "application/geo+json"
