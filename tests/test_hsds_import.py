"""`geoservice import initiatives FILE.json` reads the HSDS 3.0 that `export --format hsds` writes."""

from __future__ import annotations

import json
import os

import pytest
from click.testing import CliRunner

from geoservice.cli import main

from .test_export_initiatives import registry_url  # noqa: F401 (a fixture)
from .test_import_initiatives import initiative_fingerprint

REFERENCES = ("id", "organization_id", "service_id", "location_id", "link_id", "taxonomy_term_id", "taxonomy_id",
              "parent_id", "parent_organization_id")


@pytest.fixture
def other_db_url(pg_server, template_db):
    """Another deployment: the same CBS map, no initiatives (registry_url takes fresh_db_url)."""
    name = f"geoservice_test_hsds_{os.getpid()}"
    yield pg_server.create(name, template=template_db)
    pg_server.drop(name)


def cli(runner_env, url: str, *args):
    return CliRunner().invoke(main, [*map(str, args)], env=runner_env(url))


def without_ids(doc: dict) -> dict:
    """The document with every id, and every reference to one, replaced by the table and position of the record
    it names: what must survive a round trip (the links included)."""
    where = {record["id"]: f"{table}[{index}]" for table, records in doc.items() if isinstance(records, list)
             for index, record in enumerate(records)}
    return {table: [{k: where.get(v, v) if k in REFERENCES else v for k, v in record.items()} for record in records]
            if isinstance(records, list) else records for table, records in doc.items()}


def test_export_import_export_gives_the_same_document(registry_url, other_db_url, runner_env, tmp_path):  # noqa: F811
    exported = tmp_path / "register.json"
    assert cli(runner_env, registry_url, "export", "initiatives", "--format", "hsds", "--status", "all",
               "--output", exported).exit_code == 0
    first = json.loads(exported.read_text(encoding="utf-8"))
    assert len(first["organizations"]) == 5

    result = cli(runner_env, other_db_url, "import", "initiatives", exported)
    assert result.exit_code == 0, result.output
    assert "5 nieuw, 0 bijgewerkt, 0 ongewijzigd, 0 afgewezen" in result.output
    assert "Open Referral HSDS 3.0" in result.output
    again = cli(runner_env, other_db_url, "export", "initiatives", "--format", "hsds", "--status", "all")
    second = json.loads(again.stdout)
    assert without_ids(second) == without_ids(first)

    # the same document again changes nothing
    before = initiative_fingerprint(other_db_url)
    result = cli(runner_env, other_db_url, "import", "initiatives", exported)
    assert "0 nieuw, 0 bijgewerkt, 5 ongewijzigd, 0 afgewezen" in result.output
    assert initiative_fingerprint(other_db_url) == before


def test_a_bad_value_is_named_by_organization_and_field(registry_url, other_db_url, runner_env, tmp_path):  # noqa: F811
    doc = json.loads(cli(runner_env, registry_url, "export", "initiatives", "--format", "hsds").stdout)
    doc["organizations"][1]["website"] = "javascript:alert(1)"
    doc["locations"][0]["latitude"] = "noord"
    path = tmp_path / "kapot.json"
    path.write_text(json.dumps(doc), encoding="utf-8")
    result = cli(runner_env, other_db_url, "import", "initiatives", path)
    assert result.exit_code == 1
    assert "rij 1: locations.latitude/locations.longitude: 'noord' is geen getal" in result.output
    assert "rij 2: organizations.website: 'javascript:alert(1)' is geen website" in result.output
    assert initiative_fingerprint(other_db_url).startswith("0:")


def test_a_document_that_is_not_hsds_is_refused(other_db_url, runner_env, tmp_path):
    path = tmp_path / "raar.json"
    path.write_text(json.dumps({"organizations": {"name": "x"}}), encoding="utf-8")
    result = cli(runner_env, other_db_url, "import", "initiatives", path)
    assert result.exit_code == 1 and "'organizations' is geen lijst" in result.output
