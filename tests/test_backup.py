"""`geoservice db dump` / `db restore`: every table comes back row for row; a wrong file changes nothing."""

from __future__ import annotations

import os
import subprocess

import psycopg
import pytest
from click.testing import CliRunner
from sqlalchemy import text

from geoservice import backup
from geoservice.cli import main

from .helpers import BUURT_GEOM, add_partner, add_service_area, make_initiative

SCHEMA_OBJECTS = {
    "indexes": "SELECT string_agg(indexdef, ';' ORDER BY indexdef) FROM pg_indexes WHERE schemaname = 'public'",
    "triggers": "SELECT string_agg(t, ',' ORDER BY t) FROM (SELECT tgrelid::regclass || '.' || tgname AS t "
                "FROM pg_trigger WHERE NOT tgisinternal) s",
    "functions": "SELECT string_agg(f, ',' ORDER BY f) FROM (SELECT p.oid::regprocedure::text AS f FROM pg_proc p "
                 "WHERE p.pronamespace = 'public'::regnamespace AND NOT EXISTS (SELECT 1 FROM pg_depend d "
                 "WHERE d.classid = 'pg_proc'::regclass AND d.objid = p.oid AND d.deptype = 'e')) s",
}


def digests(url: str) -> dict[str, str]:
    """Per table of the schema (found in the database, so tables added later are covered): rows and
    a digest of their content; per sequence its position; the indexes, triggers and functions."""
    with psycopg.connect(_libpq(url)) as conn:
        tables = [r[0] for r in conn.execute(
            "SELECT format('%I.%I', schemaname, tablename) FROM pg_tables "
            "WHERE schemaname NOT IN ('pg_catalog', 'information_schema') ORDER BY 1")]
        sequences = [r[0] for r in conn.execute(
            "SELECT format('%I.%I', schemaname, sequencename) FROM pg_sequences ORDER BY 1")]
        result = {t: conn.execute(
            f"SELECT count(*) || ':' || coalesce(md5(string_agg(t::text, '|' ORDER BY t::text)), '') FROM {t} t"
        ).fetchone()[0] for t in tables}
        result |= {s: str(conn.execute(f"SELECT last_value, is_called FROM {s}").fetchone()) for s in sequences}
        result |= {name: conn.execute(sql).fetchone()[0] for name, sql in SCHEMA_OBJECTS.items()}
    return result


def _libpq(url: str) -> str:
    return backup.libpq_target(url)[0]


def cli(args: list[str], env: dict):
    return CliRunner().invoke(main, args, env=env, catch_exceptions=False)


def add_registry_data(url: str, engine_for) -> None:
    with engine_for(url).begin() as conn:
        make_initiative(conn, name="Buurtmoestuin De Eng", themes=["groen", "ontmoeting"],
                        email="privé@example.org", phone="035 123 45 67")
        make_initiative(conn, name="Repair Café Baarn", lon=5.2900, lat=52.2100, status="pending")
        make_initiative(conn, name="Energiecoöperatie 'Zon & Wind'", lon=4.8952, lat=52.3702)
        partner = add_partner(conn, "Welzijn Baarn", external_id="wb-1")
        add_service_area(conn, partner, "Centrum", BUURT_GEOM, code="BU03080000")
        add_service_area(conn, partner, "Rondom het station",
                         "ST_Buffer(ST_Transform(ST_SetSRID(ST_MakePoint(5.2878, 52.2165), 4326), 28992), 800)",
                         definition={"point": [5.2878, 52.2165], "radius_m": 800}, definition_type="radius")


def test_round_trip_restores_every_table_row_for_row(fresh_db_url, runner_env, engine_for, tmp_path):
    add_registry_data(fresh_db_url, engine_for)
    before = digests(fresh_db_url)
    assert {"public.initiative", "public.partner", "public.service_area", "public.gemeente"} <= set(before)
    dump_file = tmp_path / "samenkaart.dump"

    dumped = cli(["db", "dump", str(dump_file)], runner_env(fresh_db_url))
    assert dumped.exit_code == 0, dumped.output
    assert "public.initiative" in dumped.output and "Klaar" in dumped.output
    assert dump_file.stat().st_mode & 0o077 == 0  # contact details: for the owner only
    assert cli(["db", "dump", str(dump_file)], runner_env(fresh_db_url)).exit_code == 2  # exists: no --force

    # Everything changes after the dump: rows edited and removed, a sequence moves, a table appears.
    with engine_for(fresh_db_url).begin() as conn:
        conn.execute(text("UPDATE partner SET name = 'Iemand anders'"))
        conn.execute(text("DELETE FROM service_area"))
        conn.execute(text("DELETE FROM initiative WHERE name LIKE 'Repair%'"))
        make_initiative(conn, name="Na de dump")
        conn.execute(text("CREATE TABLE later_added (id int)"))
    assert digests(fresh_db_url) != before

    restored = cli(["db", "restore", str(dump_file), "--yes"], runner_env(fresh_db_url))
    assert restored.exit_code == 0, restored.output
    assert "public.initiative: 3 rijen" in restored.output and "Teruggezet" in restored.output
    assert digests(fresh_db_url) == before  # later_added is gone too: the dump replaced everything

    # The restored sequences continue where they were: a new row does not collide.
    with engine_for(fresh_db_url).begin() as conn:
        make_initiative(conn, name="Na het terugzetten")


def test_refused_files_change_nothing(fresh_db_url, pg_server, runner_env, engine_for, tmp_path):
    add_registry_data(fresh_db_url, engine_for)
    good = tmp_path / "good.dump"
    assert cli(["db", "dump", str(good)], runner_env(fresh_db_url)).exit_code == 0
    with engine_for(fresh_db_url).begin() as conn:
        make_initiative(conn, name="Na de dump")  # so a restore that slipped through would show
    before = digests(fresh_db_url)

    garbage = tmp_path / "garbage.dump"
    garbage.write_bytes(b"PK\x03\x04 dit is een zip, geen dump " * 100)
    truncated = tmp_path / "truncated.dump"
    truncated.write_bytes(good.read_bytes()[: good.stat().st_size * 2 // 3])
    other = tmp_path / "other.dump"
    name = f"geoservice_test_not_ours_{os.getpid()}"
    other_url = pg_server.create(name)
    try:
        with psycopg.connect(_libpq(other_url)) as conn:
            conn.execute("CREATE TABLE notes (id int, body text)")
            conn.execute("INSERT INTO notes VALUES (1, 'niet van geoservice')")
        tools = backup.client_tools(uses_embedded_db=False)
        subprocess.run([tools.pg_dump, "-Fc", "-f", str(other), "-d", _libpq(other_url)], check=True)
    finally:
        pg_server.drop(name)

    for path, reason in [(garbage, "geen pg_dump-archief"), (other, "geen schema-versie"),
                         (truncated, "mislukt; er is niets veranderd")]:
        result = CliRunner().invoke(main, ["db", "restore", str(path), "--yes"], env=runner_env(fresh_db_url))
        assert result.exit_code == 1, result.output
        assert reason in result.output and "Traceback" not in result.output
        assert digests(fresh_db_url) == before, path.name


def test_a_database_without_schema_is_not_dumped(pg_server, runner_env, tmp_path):
    name = f"geoservice_test_no_schema_{os.getpid()}"
    url = pg_server.create(name)
    try:
        result = CliRunner().invoke(main, ["db", "dump", str(tmp_path / "x.dump")], env=runner_env(url))
    finally:
        pg_server.drop(name)
    assert result.exit_code == 1 and "geen geoservice-schema" in result.output
    assert not list(tmp_path.iterdir())


@pytest.mark.parametrize("line, skipped", [
    ("4345; 0 0 COMMENT - EXTENSION postgis ", True),
    ("5; 2615 2200 SCHEMA - public pg_database_owner", True),
    ("2; 3079 532709 EXTENSION - postgis ", False),
    ("4334; 0 533794 TABLE DATA public initiative geoservice", False),
])
def test_restore_skips_entries_that_need_a_superuser(line, skipped):
    assert bool(backup.SKIPPED_TOC.match(line)) is skipped
