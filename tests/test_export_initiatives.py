"""`geoservice export initiatives`: GeoJSON and CSV equal the selection, round-trip, formulas, HSDS links."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import re
import uuid
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import create_engine, text

from geoservice.cli import main
from geoservice.registry.exports import COLUMNS, CSV_COLUMNS, FORMULA_STARTS

from .helpers import make_initiative

FIXTURES = Path(__file__).parent / "fixtures"
INJECTION = {  # invented values that a spreadsheet would run as formulas
    "name": '=HYPERLINK("https://example.org/x","klik") (testdata)',
    "description": "@SUM(A1:A2) testdata",
    "address": "-Testlaan 1",
    "postcode": "3741AB",
    "phone": "+31 35 123 4567",
}


def run(runner_env, url: str, *args: str):
    return CliRunner().invoke(main, ["export", "initiatives", *map(str, args)], env=runner_env(url))


def selection(url: str, statuses=("published",)) -> list[dict]:
    """The initiatives an export should contain, straight from the database, ordered by id."""
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            rows = conn.execute(text(
                f"SELECT {', '.join(COLUMNS)}, ST_X(ST_Transform(location, 4326)) AS lon, "
                f"ST_Y(ST_Transform(location, 4326)) AS lat, ST_X(location) AS x, ST_Y(location) AS y "
                f"FROM initiative WHERE status = ANY(:statuses) ORDER BY id"), {"statuses": list(statuses)})
            return [dict(row._mapping) for row in rows]
    finally:
        engine.dispose()


@pytest.fixture
def registry_url(fresh_db_url, runner_env):
    """A database with the basic test initiatives (2 published, 1 pending, 1 archived) and a formula trap."""
    result = CliRunner().invoke(main, ["import", "initiatives", str(FIXTURES / "initiatives_basic.csv")],
                                env=runner_env(fresh_db_url))
    assert result.exit_code == 0, result.output
    engine = create_engine(fresh_db_url)
    with engine.begin() as conn:
        make_initiative(conn, source="test", external_id="formula", website="https://example.org/",
                        themes=["cultuur", "ontmoeting"], last_verified=dt.date(2025, 3, 1), **INJECTION)
    engine.dispose()
    return fresh_db_url


def as_json(value):
    return value.isoformat() if isinstance(value, dt.date) else value


def test_geojson_equals_the_selection(registry_url, runner_env):
    result = run(runner_env, registry_url, "--format", "geojson")
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert doc["type"] == "FeatureCollection" and "crs" not in doc
    expected = selection(registry_url)
    assert len(expected) == 3
    assert [f["id"] for f in doc["features"]] == [row["id"] for row in expected]
    for feature, row in zip(doc["features"], expected):
        assert feature["type"] == "Feature" and feature["geometry"]["type"] == "Point"
        lon, lat = feature["geometry"]["coordinates"]
        assert lon == pytest.approx(row["lon"], abs=1e-7) and lat == pytest.approx(row["lat"], abs=1e-7)
        assert 3 < lon < 8 and 50 < lat < 54  # RFC 7946 order: lon, lat
        assert feature["properties"] == {name: as_json(row[name]) for name in COLUMNS}


@pytest.mark.parametrize("statuses, expected", [
    ((), {"published"}), (("all",), {"published", "pending", "archived"}),
    (("pending", "archived"), {"pending", "archived"})])
def test_status_selects_what_is_exported(registry_url, runner_env, statuses, expected):
    args = [arg for status in statuses for arg in ("--status", status)]
    doc = json.loads(run(runner_env, registry_url, "--format", "geojson", *args).stdout)
    assert {f["properties"]["status"] for f in doc["features"]} == expected
    assert len(doc["features"]) == len(selection(registry_url, tuple(expected)))


def read_csv(text_: str) -> list[dict]:
    return list(csv.DictReader(io.StringIO(text_, newline="")))


def test_csv_equals_the_selection_and_neutralises_formulas(registry_url, runner_env, tmp_path):
    path = tmp_path / "initiatieven.csv"
    result = run(runner_env, registry_url, "--format", "csv", "--output", path, "--status", "all")
    assert result.exit_code == 0, result.output
    assert "5 initiatieven geschreven naar" in result.output
    raw = path.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")  # so spreadsheet programs read it as UTF-8
    text_ = raw.decode("utf-8-sig")
    assert text_.splitlines()[0] == ",".join(CSV_COLUMNS)
    rows = read_csv(text_)
    expected = selection(registry_url, ("published", "pending", "archived"))
    assert [int(row["id"]) for row in rows] == [row["id"] for row in expected]
    for row, want in zip(rows, expected):
        assert float(row["lon"]) == pytest.approx(want["lon"], abs=1e-7)
        assert float(row["lat"]) == pytest.approx(want["lat"], abs=1e-7)
        for name in COLUMNS:
            value = want[name]
            cell = "" if value is None else ";".join(value) if isinstance(value, list) else str(as_json(value))
            if cell.startswith(FORMULA_STARTS):
                cell = "'" + cell
            assert row[name] == cell, name
    trap = next(row for row in rows if row["name"].startswith("'="))
    assert (trap["name"], trap["description"], trap["address"], trap["phone"]) == (
        "'" + INJECTION["name"], "'@SUM(A1:A2) testdata", "'-Testlaan 1", "'+31 35 123 4567")
    # No cell at all starts a formula.
    assert not [cell for row in rows for cell in row.values() if cell.startswith(("=", "+", "-", "@"))]


def test_csv_on_standard_output(registry_url, runner_env):
    result = run(runner_env, registry_url, "--format", "csv")
    assert result.exit_code == 0
    assert not result.stdout.startswith("\ufeff")
    assert len(read_csv(result.stdout)) == 3


@pytest.mark.parametrize("fmt, suffix", [("geojson", "geojson"), ("csv", "csv"), ("xlsx", "xlsx")])
def test_export_then_import_gives_the_same_initiatives(registry_url, runner_env, tmp_path, fmt, suffix):
    path = tmp_path / f"export.{suffix}"
    assert run(runner_env, registry_url, "--format", fmt, "--output", path, "--status", "all").exit_code == 0
    result = CliRunner().invoke(main, ["import", "initiatives", str(path), "--source", "terug"],
                                env=runner_env(registry_url))
    assert result.exit_code == 0, result.output
    assert "5 nieuw, 0 bijgewerkt, 0 ongewijzigd, 0 afgewezen" in result.output
    engine = create_engine(registry_url)
    with engine.connect() as conn:
        pairs = conn.execute(text(
            "SELECT o.*, c.name AS c_name, c.kind AS c_kind, c.themes AS c_themes, c.description AS c_description, "
            "c.website AS c_website, c.email AS c_email, c.phone AS c_phone, c.address AS c_address, "
            "c.postcode AS c_postcode, c.status AS c_status, c.last_verified AS c_last_verified, "
            "c.gemeentecode AS c_gemeentecode, c.wijkcode AS c_wijkcode, c.buurtcode AS c_buurtcode, "
            "ST_Distance(o.location, c.location) AS moved "
            "FROM initiative AS o JOIN initiative AS c ON c.source = 'terug' AND c.external_id = o.id::text "
            "WHERE o.source <> 'terug'")).mappings().all()
    engine.dispose()
    assert len(pairs) == 5
    for pair in pairs:
        for name in ("name", "kind", "themes", "description", "website", "email", "phone", "address", "postcode",
                     "status", "last_verified", "gemeentecode", "wijkcode", "buurtcode"):
            assert pair[f"c_{name}"] == pair[name], name
        assert pair["moved"] < 0.02  # coordinates are exported to 7 decimals (about 1 cm)


def test_hsds_records_link_up(registry_url, runner_env):
    result = run(runner_env, registry_url, "--format", "hsds", "--status", "all")
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert doc["hsds_version"] == "3.0"
    expected = selection(registry_url, ("published", "pending", "archived"))
    for table in ("organizations", "services", "locations", "service_at_locations"):
        assert len(doc[table]) == len(expected), table
    ids = {table: {record["id"] for record in doc[table]} for table in doc if isinstance(doc[table], list)}
    all_ids = [record["id"] for table in doc if isinstance(doc[table], list) for record in doc[table]]
    assert len(all_ids) == len(set(all_ids))  # unique across the document
    assert all(uuid.UUID(value).version == 5 for value in all_ids)
    for service in doc["services"]:
        assert service["organization_id"] in ids["organizations"]
        assert service["status"] in ("active", "inactive", "defunct", "temporarily closed")
        assert service["name"] and service["id"]
    for location in doc["locations"]:
        assert location["organization_id"] in ids["organizations"] and location["location_type"] == "physical"
        assert -180 <= location["longitude"] <= 180 and -90 <= location["latitude"] <= 90
    for link in doc["service_at_locations"]:
        assert link["service_id"] in ids["services"] and link["location_id"] in ids["locations"]
    assert {link["service_id"] for link in doc["service_at_locations"]} == ids["services"]
    for area in doc["service_areas"]:
        assert area["service_id"] in ids["services"] and re.search(r"\((BU|WK|GM)\w+\)", area["name"])
    assert len(doc["service_areas"]) == len(expected)  # every test initiative lies in a loaded buurt
    for address in doc["addresses"]:
        assert address["location_id"] in ids["locations"] and address["country"] == "NL"
    for phone in doc["phones"]:
        assert phone["organization_id"] in ids["organizations"] and phone["service_id"] in ids["services"]
    terms = {term["id"]: term for term in doc["taxonomy_terms"]}
    assert {term["taxonomy_id"] for term in terms.values()} == ids["taxonomies"]
    for attribute in doc["attributes"]:
        assert attribute["link_entity"] == "service" and attribute["link_id"] in ids["services"]
        assert attribute["taxonomy_term_id"] in terms
    # Each service carries its kind and its themes as attributes.
    by_name = {row["name"]: row for row in expected}
    service_names = {service["id"]: service["name"] for service in doc["services"]}
    for service_id, name in service_names.items():
        codes = sorted(terms[a["taxonomy_term_id"]]["code"] for a in doc["attributes"] if a["link_id"] == service_id)
        assert codes == sorted([by_name[name]["kind"], *by_name[name]["themes"]])
    published = [s for s in doc["services"] if s["status"] == "active"]
    assert len(published) == 3


def test_hsds_ids_are_stable_between_exports(registry_url, runner_env):
    first = run(runner_env, registry_url, "--format", "hsds").stdout
    assert first == run(runner_env, registry_url, "--format", "hsds").stdout


def test_an_empty_registry_exports_empty_documents(empty_db_url, runner_env):
    assert json.loads(run(runner_env, empty_db_url, "--format", "geojson").stdout)["features"] == []
    assert run(runner_env, empty_db_url, "--format", "csv").stdout.strip() == ",".join(CSV_COLUMNS)
    assert json.loads(run(runner_env, empty_db_url, "--format", "hsds").stdout)["services"] == []


def test_bad_options_are_usage_errors(empty_db_url, runner_env):
    assert run(runner_env, empty_db_url).exit_code == 2
    assert run(runner_env, empty_db_url, "--format", "xml").exit_code == 2
    assert run(runner_env, empty_db_url, "--format", "csv", "--status", "verwijderd").exit_code == 2
