"""`geoservice import initiatives`: happy paths, every rejection, atomicity, idempotence, updates, areas."""

from __future__ import annotations

import csv
import datetime as dt
import json
import math
import os
import re
from pathlib import Path

import pytest
import shapely
from click.testing import CliRunner
from pyproj import Transformer
from shapely.geometry import Point
from sqlalchemy import create_engine, text

from geoservice.cli import main
from geoservice.errors import GeocodeNotFound, ImportRefused
from geoservice.imports.initiatives import import_initiatives, parse_defaults
from geoservice.registry.validation import stable_key

from .helpers import scalar, shipped

FIXTURES = Path(__file__).parent / "fixtures"
BAARN = {"lat": "52.2165", "lon": "5.2878"}  # Staatsliedenwijk, Baarn
DAM_RD = (121400.0, 487400.0)  # near the Dam, Amsterdam


def initiative_fingerprint(url: str) -> str:
    """A digest of every initiative row, timestamps included, to prove that nothing changed."""
    return scalar(url, "SELECT count(*) || ':' || coalesce(md5(string_agg(t::text, '|' ORDER BY t.id)), '') "
                       "FROM initiative t")


def stored(url: str, source: str | None = None) -> dict[str, dict]:
    """external_id -> the stored row, with RD x/y of the location."""
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            rows = conn.execute(text(
                "SELECT *, ST_X(location) AS x, ST_Y(location) AS y FROM initiative "
                "WHERE CAST(:source AS text) IS NULL OR source = :source"), {"source": source}).mappings().all()
    finally:
        engine.dispose()
    return {row["external_id"]: dict(row) for row in rows}


def run(runner_env, url: str, *args: str):
    return CliRunner().invoke(main, ["import", "initiatives", *map(str, args)], env=runner_env(url))


def write_csv(path: Path, rows: list[dict], delimiter: str = ",") -> Path:
    columns = list(dict.fromkeys(key for row in rows for key in row))
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, columns, delimiter=delimiter)
        writer.writeheader()
        writer.writerows(rows)
    return path


def valid_row(**overrides) -> dict:
    return {"id": "R-1", "name": "Testinitiatief (testdata)", "kind": "bewonersinitiatief",
            "themes": "ontmoeting", **BAARN, **overrides}


# --- happy paths -----------------------------------------------------------------------------

@pytest.mark.parametrize("filename", ["initiatives_basic.csv", "initiatives_basic_comma.csv"])
def test_csv_with_either_delimiter(fresh_db_url, runner_env, filename):
    result = run(runner_env, fresh_db_url, FIXTURES / filename)
    assert result.exit_code == 0, result.output
    assert "4 nieuw, 0 bijgewerkt, 0 ongewijzigd, 0 afgewezen" in result.output
    rows = stored(fresh_db_url)
    assert set(rows) == {"T-001", "T-002", "T-003", "T-004"}
    one = rows["T-001"]
    assert one["source"] == Path(filename).stem
    assert (one["name"], one["kind"], one["themes"]) == (
        "Buurtmoestuin Testlaan (testdata)", "bewonersinitiatief", ["groen_natuur", "ontmoeting"])
    assert (one["postcode"], one["address"], one["phone"]) == ("3741AB", "Testlaan 1", "035 123 4567")
    assert (one["status"], one["location_precision"], one["last_verified"]) == (
        "published", "manual", dt.date(2025, 1, 15))
    assert (one["gemeentecode"], one["buurtcode"][:6]) == ("GM0308", "BU0308")
    two = rows["T-002"]
    assert (two["x"], two["y"]) == DAM_RD
    assert two["website"] == "https://www.example.org"
    assert two["gemeentecode"] == "GM0363" and two["buurtcode"].startswith("BU0363")
    three = rows["T-003"]
    assert (three["kind"], three["status"]) == ("energiecooperatie", "pending")
    assert three["gemeentecode"] == "GM0308"
    assert rows["T-004"]["themes"] == ["ouderen", "zorg_welzijn"]
    assert rows["T-004"]["status"] == "archived"


def test_geojson(fresh_db_url, runner_env):
    result = run(runner_env, fresh_db_url, FIXTURES / "initiatives_basic.geojson", "--source", "proef")
    assert result.exit_code == 0, result.output
    assert "3 nieuw, 0 bijgewerkt, 0 ongewijzigd, 0 afgewezen" in result.output
    rows = stored(fresh_db_url, "proef")
    assert set(rows) == {"G-1", "G-2", "G-3"}
    assert (rows["G-1"]["kind"], rows["G-1"]["themes"]) == ("wijkcooperatie", ["openbare_ruimte", "wonen"])
    assert rows["G-2"]["themes"] == ["armoede_schulden", "voedsel"]
    assert rows["G-2"]["gemeentecode"] == "GM0363"
    assert rows["G-3"]["themes"] == [] and rows["G-3"]["gemeentecode"] == "GM0308"
    lonlat = scalar(fresh_db_url, "SELECT ST_AsText(ST_Transform(location, 4326)) FROM initiative "
                                  "WHERE external_id = 'G-1'")
    assert lonlat.startswith("POINT(5.2878") and " 52.2165" in lonlat


def test_geojson_in_rd_with_a_crs_member(fresh_db_url, engine_for, tmp_path):
    path = tmp_path / "rd.geojson"
    path.write_text(json.dumps({
        "type": "FeatureCollection",
        "crs": {"type": "name", "properties": {"name": "urn:ogc:def:crs:EPSG::28992"}},
        "features": [{"type": "Feature", "geometry": {"type": "Point", "coordinates": list(DAM_RD)},
                      "properties": {"id": "rd-1", "naam": "RD-punt (testdata)", "soort": "overig"}}]}))
    report = import_initiatives(engine_for(fresh_db_url), path)
    assert (report.inserted, report.problems) == (1, [])
    row = stored(fresh_db_url)["rd-1"]
    assert (row["x"], row["y"]) == DAM_RD and row["gemeentecode"] == "GM0363"


# --- rejections ----------------------------------------------------------------------------

@pytest.fixture(scope="module")
def reject_db_url(pg_server, template_db):
    """One copy of the template for the rejection cases: each proves it wrote nothing."""
    name = f"geoservice_test_reject_{os.getpid()}"
    yield pg_server.create(name, template=template_db)
    pg_server.drop(name)


OPTIONS = "kies uit: bewonersinitiatief, vrijwilligersgroep"
REJECTIONS = [
    # (changes to a valid row, column, reason (part of it))
    ({"name": ""}, "name", "is leeg"),
    ({"name": "   "}, "name", "is leeg"),
    ({"name": "Nul\x00teken"}, "name", "bevat een ongeldig (onzichtbaar) teken"),
    ({"kind": "kerkgenootschap"}, "kind", f"onbekend(e) soort 'kerkgenootschap'; {OPTIONS}"),
    ({"kind": ""}, "kind", "soort ontbreekt; kies uit: bewonersinitiatief"),
    ({"themes": "ontmoeting;ruimtevaart"}, "themes", "onbekend(e) thema 'ruimtevaart'; kies uit: zorg_welzijn"),
    ({"lat": "48.8566", "lon": "2.3522"}, "lat/lon", "ligt niet in Nederland"),  # Paris: outside the box
    ({"lat": "51.2194", "lon": "4.4025"}, "lat/lon", "ligt niet in Nederland"),  # Antwerp: in the box, no gemeente
    ({"lat": "53.0", "lon": "3.5"}, "lat/lon", "ligt niet in Nederland"),  # North Sea
    ({"lat": "5.2878", "lon": "52.2165"}, "lat/lon", "lat en lon lijken omgewisseld"),
    ({"lat": "95", "lon": "5.2"}, "lat/lon", "lat 95.0 / lon 5.2 bestaat niet; lat ligt tussen -90 en 90"),
    ({"lat": "noord", "lon": "5.2878"}, "lat/lon", "'noord' is geen getal"),
    ({"lat": "52.2", "lon": "nan"}, "lat/lon", "geen eindig getal"),
    ({"lat": "52.2165", "lon": ""}, "lat/lon", "lon ontbreekt; geef lat én lon"),
    ({"lat": "", "lon": ""}, "locatie", "geen plek: geef lat/lon, x/y (RD), een adres met postcode of een postcode"),
    ({"lat": "", "lon": "", "x": "487400", "y": "121400"}, "x/y", "x en y lijken omgewisseld"),
    ({"lat": "", "lon": "", "x": "900000", "y": "121400"}, "x/y", "ligt niet in Nederland"),
    ({"lat": "", "lon": "", "x": "121400"}, "x/y", "geef x én y"),
    ({"website": "javascript:alert(1)"}, "website", "is geen website"),
    ({"website": "javascript://example.org/%0aalert(1)"}, "website", "is geen website"),
    ({"website": "ftp://example.org/bestand"}, "website", "is geen website"),
    ({"website": "https://"}, "website", "is geen website"),
    ({"email": "info@"}, "email", "'info@' is geen geldig e-mailadres"),
    ({"email": "info at example.org"}, "email", "is geen geldig e-mailadres"),
    ({"phone": "bel ons maar"}, "phone", "is geen telefoonnummer"),
    ({"last_verified": "31-12-2024"}, "last_verified", "geen geldige datum; verwacht JJJJ-MM-DD"),
    ({"last_verified": "2024-02-30"}, "last_verified", "geen geldige datum"),
    ({"last_verified": "2999-01-01"}, "last_verified", "ligt in de toekomst"),
    ({"status": "verdwenen"}, "status", "onbekend(e) status 'verdwenen'; kies uit: pending, published, archived"),
    ({"postcode": "12345", "lat": "", "lon": ""}, "postcode", "'12345' is geen postcode"),
    ({"name": "x" * 201}, "name", "te lang (meer dan 200 tekens)"),
]


@pytest.mark.parametrize("changes, column, reason", REJECTIONS,
                         ids=[f"{column}:{reason[:25]}" for _c, column, reason in REJECTIONS])
def test_every_rejection_reason(reject_db_url, runner_env, tmp_path, changes, column, reason):
    before = initiative_fingerprint(reject_db_url)
    path = write_csv(tmp_path / "bad.csv", [valid_row(id="ok-1", **BAARN), valid_row(id="bad-1", **changes)])
    result = run(runner_env, reject_db_url, path)
    assert result.exit_code == 1, result.output
    lines = [line for line in result.output.splitlines() if line.startswith("rij ")]
    assert len(lines) == 1 and lines[0].startswith(f"rij 3: {column}: ") and reason in lines[0], result.output
    assert "0 nieuw, 0 bijgewerkt, 0 ongewijzigd, 1 afgewezen (niets opgeslagen)" in result.output
    assert initiative_fingerprint(reject_db_url) == before


def test_duplicate_id_in_one_file(reject_db_url, runner_env, tmp_path):
    path = write_csv(tmp_path / "dup.csv", [valid_row(id="A"), valid_row(id="B"), valid_row(id="A", name="Ander")])
    result = run(runner_env, reject_db_url, path)
    assert result.exit_code == 1
    assert "rij 4: id: id 'A' staat ook in rij 2" in result.output


def test_same_name_at_the_same_place_without_ids(reject_db_url, runner_env, tmp_path):
    rows = [{"naam": "Buurtkamer (testdata)", "soort": "overig", "x": "140000", "y": "470000"},
            {"naam": "buurtkamer (TESTDATA)", "soort": "overig", "x": "140002", "y": "470001"}]
    result = run(runner_env, reject_db_url, write_csv(tmp_path / "twice.csv", rows))
    assert result.exit_code == 1
    assert "rij 3: name: dezelfde naam op (bijna) dezelfde plek als rij 2" in result.output


def test_more_cells_than_columns(reject_db_url, runner_env, tmp_path):
    path = tmp_path / "shifted.csv"
    path.write_text("id,name,kind,lat,lon\nA,Goed (testdata),overig,52.2165,5.2878\n"
                    "B,Koffie, thee en meer (testdata),overig,52.2165,5.2878\n", encoding="utf-8")
    result = run(runner_env, reject_db_url, path)
    assert result.exit_code == 1
    assert "rij 3: rij: meer cellen dan kolommen" in result.output


BROKEN_GEOJSON = [
    ("{ not json", "is geen leesbare GeoJSON"),
    ('[{"type": "Feature"}]', "is geen GeoJSON FeatureCollection"),
    ('{"type": "Feature", "geometry": null, "properties": {"name": "x"}}', "is geen GeoJSON FeatureCollection"),
    ('{"type": "FeatureCollection"}', "'features' ontbreekt of is geen lijst"),
    ('{"type": "FeatureCollection", "features": [{"type": "Feature", "properties": {"name": "x"}, '
     '"geometry": {"type": "Polygon", "coordinates": [[[5, 52], [5.1, 52], [5, 52.1], [5, 52]]]}}]}',
     "object 1 heeft een Polygon-geometrie; alleen punten (Point)"),
    ('{"type": "FeatureCollection", "features": [{"type": "Feature", "properties": {"name": "x"}, '
     '"geometry": {"type": "Point", "coordinates": ["5", 52]}}]}', "object 1 heeft een punt zonder twee geldige"),
    ('{"type": "FeatureCollection", "features": [{"type": "Feature", "properties": {"name": "x"}, '
     '"geometry": {"type": "Point", "coordinates": [NaN, 52]}}]}', "object 1 heeft een punt zonder twee geldige"),
    ('{"type": "FeatureCollection", "features": [{"type": "Feature", "properties": {"name": "x"}, '
     '"geometry": {"type": "Point", "coordinates": [5.1, 52.1]}}, {"type": "Kenmerk"}]}',
     "object 2 is geen GeoJSON Feature"),
    ('{"type": "FeatureCollection", "features": [{"type": "Feature", "properties": {"soort": "overig"}, '
     '"geometry": {"type": "Point", "coordinates": [5.1, 52.1]}}]}', "geen kolom 'name' (of 'naam')"),
    ('{"type": "FeatureCollection", "crs": {"type": "name", "properties": {"name": "EPSG:3857"}}, "features": []}',
     "coördinatenstelsel 'EPSG:3857' wordt niet ondersteund"),
]


@pytest.mark.parametrize("content, message", BROKEN_GEOJSON, ids=[m[:30] for _c, m in BROKEN_GEOJSON])
def test_broken_geojson_is_refused_as_a_whole(reject_db_url, runner_env, tmp_path, content, message):
    before = initiative_fingerprint(reject_db_url)
    path = tmp_path / "broken.geojson"
    path.write_text(content, encoding="utf-8")
    result = run(runner_env, reject_db_url, path)
    assert result.exit_code == 1
    assert "Fout:" in result.output and message in result.output
    assert initiative_fingerprint(reject_db_url) == before


@pytest.mark.parametrize("content, message", [
    ("naam;soort\néén;overig\n".encode("utf-16-le"), "is geen tekstbestand"),
    (b"", "heeft geen kopregel"),
    (b"soort,lat,lon\noverig,52.2,5.2\n", "geen kolom 'name' (of 'naam')"),
    (b"name,naam\na,b\n", "De kolommen 'name' en 'naam' betekenen hetzelfde"),
])
def test_unusable_csv_is_refused_as_a_whole(reject_db_url, engine_for, tmp_path, content, message):
    path = tmp_path / "file.csv"
    path.write_bytes(content)
    with pytest.raises(ImportRefused, match=re.escape(message)):
        import_initiatives(engine_for(reject_db_url), path)


def test_missing_file_and_bad_defaults_are_usage_errors(reject_db_url, runner_env, tmp_path):
    assert run(runner_env, reject_db_url, tmp_path / "nergens.csv").exit_code == 2
    path = write_csv(tmp_path / "ok.csv", [valid_row()])
    result = run(runner_env, reject_db_url, path, "--default-kind", "kerk")
    assert result.exit_code == 2 and "onbekend(e) soort 'kerk'" in result.output
    result = run(runner_env, reject_db_url, path, "--default-themes", "zorg en welzijn;ruimtevaart")
    assert result.exit_code == 2 and "onbekend(e) thema 'ruimtevaart'" in result.output


# --- all or nothing, dry runs, skipping ----------------------------------------------------------

def seed(url: str, runner_env) -> str:
    """The basic CSV imported (source initiatives_basic); returns the initiative fingerprint."""
    assert run(runner_env, url, FIXTURES / "initiatives_basic.csv").exit_code == 0
    return initiative_fingerprint(url)


def test_one_invalid_row_changes_nothing(fresh_db_url, runner_env, tmp_path):
    before = seed(fresh_db_url, runner_env)
    path = write_csv(tmp_path / "initiatives_basic.csv", [
        valid_row(id="T-001", name="Nieuwe naam (testdata)"), valid_row(id="NEW"), valid_row(id="BAD", kind="?")])
    result = run(runner_env, fresh_db_url, path)
    assert result.exit_code == 1
    assert initiative_fingerprint(fresh_db_url) == before


def test_a_failure_while_writing_leaves_the_database_as_it_was(fresh_db_url, engine_for, runner_env, tmp_path,
                                                              monkeypatch):
    before = seed(fresh_db_url, runner_env)
    import geoservice.imports.initiatives as importer

    def fail(conn, rows, **_options):
        raise RuntimeError("schijf vol")

    monkeypatch.setattr(importer, "upsert_staged", fail)
    path = write_csv(tmp_path / "initiatives_basic.csv", [
        valid_row(id="T-001", name="Nieuwe naam (testdata)"), valid_row(id="NEW")])
    with pytest.raises(RuntimeError, match="schijf vol"):
        import_initiatives(engine_for(fresh_db_url), path)
    assert initiative_fingerprint(fresh_db_url) == before


def test_skip_invalid_imports_the_valid_rows(fresh_db_url, runner_env, tmp_path):
    path = write_csv(tmp_path / "mixed.csv", [
        valid_row(id="A"), valid_row(id="B", kind="kerk"), valid_row(id="C", website="javascript:alert(1)"),
        valid_row(id="D", **DAM_LATLON)])
    result = run(runner_env, fresh_db_url, path, "--skip-invalid")
    assert result.exit_code == 0, result.output
    assert "rij 3: kind: onbekend(e) soort 'kerk'" in result.output
    assert "rij 4: website: 'javascript:alert(1)' is geen website" in result.output
    assert "2 nieuw, 0 bijgewerkt, 0 ongewijzigd, 2 afgewezen" in result.output
    assert set(stored(fresh_db_url)) == {"A", "D"}


DAM_LATLON = {"lat": "52.3731", "lon": "4.8932"}


def test_dry_run_reports_and_writes_nothing(fresh_db_url, runner_env, tmp_path):
    before = seed(fresh_db_url, runner_env)
    path = write_csv(tmp_path / "initiatives_basic.csv", [
        valid_row(id="T-001", name="Nieuwe naam (testdata)"), valid_row(id="NEW")])
    result = run(runner_env, fresh_db_url, path, "--dry-run")
    assert result.exit_code == 0, result.output
    assert "1 nieuw, 1 bijgewerkt, 0 ongewijzigd, 0 afgewezen (proefdraai: niets opgeslagen)" in result.output
    assert initiative_fingerprint(fresh_db_url) == before
    bad = write_csv(tmp_path / "bad.csv", [valid_row(kind="kerk")])
    assert run(runner_env, fresh_db_url, bad, "--dry-run").exit_code == 1


# --- idempotence and updates ---------------------------------------------------------------------

@pytest.mark.parametrize("filename", ["initiatives_basic.csv", "initiatives_basic.geojson"])
def test_reimporting_the_same_file_changes_nothing(fresh_db_url, runner_env, filename):
    first = run(runner_env, fresh_db_url, FIXTURES / filename)
    assert first.exit_code == 0
    before = initiative_fingerprint(fresh_db_url)
    again = run(runner_env, fresh_db_url, FIXTURES / filename)
    assert again.exit_code == 0
    count = len(stored(fresh_db_url))
    assert f"0 nieuw, 0 bijgewerkt, {count} ongewijzigd, 0 afgewezen" in again.output
    assert initiative_fingerprint(fresh_db_url) == before


def test_an_edited_row_updates_its_initiative(fresh_db_url, runner_env, tmp_path):
    seed(fresh_db_url, runner_env)
    old = stored(fresh_db_url)
    text_ = (FIXTURES / "initiatives_basic.csv").read_text(encoding="utf-8-sig")
    # T-001 gets a new name and moves from Baarn to Amsterdam; the other rows stay as they are.
    edited = text_.replace("Buurtmoestuin Testlaan (testdata)", "Buurtmoestuin Nieuwlaan (testdata)") \
                  .replace("52.2165;5.2878", "52.3731;4.8932")
    path = tmp_path / "initiatives_basic.csv"
    path.write_text(edited, encoding="utf-8")
    result = run(runner_env, fresh_db_url, path)
    assert result.exit_code == 0, result.output
    assert "0 nieuw, 1 bijgewerkt, 3 ongewijzigd, 0 afgewezen" in result.output
    new = stored(fresh_db_url)
    assert new["T-001"]["id"] == old["T-001"]["id"]
    assert new["T-001"]["name"] == "Buurtmoestuin Nieuwlaan (testdata)"
    assert new["T-001"]["gemeentecode"] == "GM0363" and new["T-001"]["buurtcode"].startswith("BU0363")
    assert new["T-001"]["updated_at"] > old["T-001"]["updated_at"]
    assert new["T-001"]["created_at"] == old["T-001"]["created_at"]
    for key in ("T-002", "T-003", "T-004"):
        assert new[key] == old[key]


def test_files_without_ids_match_on_name_and_place(fresh_db_url, engine_for, tmp_path):
    engine = engine_for(fresh_db_url)
    # The centre of a 10 m cell of the key, so a move of a few metres stays in it.
    row = {"naam": "Voedselbank Proef (testdata)", "x": "140000", "y": "470000"}
    path = write_csv(tmp_path / "voedselbanken.csv", [row])
    defaults = parse_defaults("lokaal fonds", "voedsel")
    assert import_initiatives(engine, path, defaults=defaults).inserted == 1
    key = stable_key("Voedselbank Proef (testdata)", 140000, 470000)
    assert key == "auto:voedselbank-proef-testdata@140000,470000"
    assert set(stored(fresh_db_url)) == {key}
    assert import_initiatives(engine, path, defaults=defaults).unchanged == 1
    write_csv(path, [{**row, "x": "140003", "y": "469998"}])
    report = import_initiatives(engine, path, defaults=defaults)
    assert (report.inserted, report.updated) == (0, 1)
    assert (stored(fresh_db_url)[key]["x"], stored(fresh_db_url)[key]["y"]) == (140003, 469998)
    # The same name with different capitals and accents is the same initiative.
    write_csv(path, [{**row, "naam": "VOEDSELBANK PROÉF (testdata)", "x": "140003", "y": "469998"}])
    assert import_initiatives(engine, path, defaults=defaults).updated == 1
    assert set(stored(fresh_db_url)) == {key}


def test_defaults_fill_rows_without_kind_or_themes(fresh_db_url, runner_env, tmp_path):
    path = write_csv(tmp_path / "voedselbanken.csv", [
        {"naam": "Voedselbank Een (testdata)", "soort": "", "themas": "", **BAARN},
        {"naam": "Voedselbank Twee (testdata)", "soort": "vrijwilligersgroep", "themas": "ouderen", **DAM_LATLON}])
    result = run(runner_env, fresh_db_url, path, "--default-kind", "Lokaal fonds",
                 "--default-themes", "voedsel;Armoede en schulden", "--source", "voedselbanken-test")
    assert result.exit_code == 0, result.output
    rows = {row["name"]: row for row in stored(fresh_db_url, "voedselbanken-test").values()}
    one, two = rows["Voedselbank Een (testdata)"], rows["Voedselbank Twee (testdata)"]
    assert (one["kind"], one["themes"], one["status"]) == ("lokaal_fonds", ["armoede_schulden", "voedsel"],
                                                           "published")
    assert (two["kind"], two["themes"]) == ("vrijwilligersgroep", ["ouderen"])


def test_a_neutralised_formula_cell_is_read_back_as_its_text(fresh_db_url, engine_for, tmp_path):
    path = write_csv(tmp_path / "formules.csv", [valid_row(name="'=1+1 (testdata)", phone="'+31 35 123 4567")])
    import_initiatives(engine_for(fresh_db_url), path)
    row = stored(fresh_db_url)["R-1"]
    assert (row["name"], row["phone"]) == ("=1+1 (testdata)", "+31 35 123 4567")


def test_progress_is_reported_for_long_files(fresh_db_url, runner_env, tmp_path):
    # 2,500 invented initiatives on a 20 m grid in Amsterdam.
    rows = [{"id": f"P-{i}", "name": f"Proefinitiatief {i} (testdata)", "kind": "overig",
             "x": str(120000 + 20 * (i % 50)), "y": str(486000 + 20 * (i // 50))} for i in range(2500)]
    result = run(runner_env, fresh_db_url, write_csv(tmp_path / "lang.csv", rows))
    assert result.exit_code == 0, result.output
    assert "1000 rijen gecontroleerd" in result.output and "2000 rijen gecontroleerd" in result.output
    assert "1000/2500 rijen geschreven" in result.output
    assert "2500 nieuw, 0 bijgewerkt, 0 ongewijzigd, 0 afgewezen" in result.output
    assert scalar(fresh_db_url, "SELECT count(*) FROM initiative WHERE gemeentecode = 'GM0363'") == 2500


def test_without_cbs_areas_only_the_box_decides(empty_db_url, engine_for, tmp_path):
    path = write_csv(tmp_path / "leeg.csv", [valid_row(id="A"), valid_row(id="B", lat="48.8566", lon="2.3522")])
    report = import_initiatives(engine_for(empty_db_url), path, skip_invalid=True)
    assert report.inserted == 1
    assert [p.line() for p in report.problems] == ["rij 3: lat/lon: lat 48.8566 / lon 2.3522 ligt niet in Nederland"]
    row = stored(empty_db_url)["A"]
    assert (row["gemeentecode"], row["wijkcode"], row["buurtcode"]) == (None, None, None)


# --- locating by address or postcode ------------------------------------------------------------

class FakeGeocoder:
    """Stands in for the PDOK Locatieserver: a fixed answer per postcode."""

    def __init__(self, answers):
        self.answers = answers
        self.calls = []

    def locate(self, *, address=None, postcode=None):
        from geoservice.geocode import Located

        self.calls.append((address, postcode))
        if postcode not in self.answers:
            raise GeocodeNotFound(f"Postcode {postcode} is niet gevonden. Klopt de postcode?")
        lon, lat, precision = self.answers[postcode]
        return Located(lon=lon, lat=lat, precision=precision, label=postcode, source="fake")


def test_rows_are_located_by_address_and_postcode(fresh_db_url, engine_for, tmp_path):
    geocoder = FakeGeocoder({"3741AB": (5.2878, 52.2165, "address"), "1012": (4.8951, 52.3735, "postcode")})
    path = write_csv(tmp_path / "adressen.csv", [
        {"id": "A", "naam": "Op adres (testdata)", "soort": "overig", "adres": "Testlaan 1", "postcode": "3741 ab"},
        {"id": "B", "naam": "Op postcode (testdata)", "soort": "overig", "postcode": "1012"},
        {"id": "C", "naam": "Onbekend (testdata)", "soort": "overig", "postcode": "9999ZZ"},
        {"id": "D", "naam": "Met lat/lon (testdata)", "soort": "overig", "postcode": "1012", **BAARN}])
    report = import_initiatives(engine_for(fresh_db_url), path, geocoder=geocoder, skip_invalid=True)
    assert [p.line() for p in report.problems] == [
        "rij 4: postcode: Postcode 9999ZZ is niet gevonden. Klopt de postcode?"]
    rows = stored(fresh_db_url)
    assert (rows["A"]["location_precision"], rows["A"]["postcode"], rows["A"]["gemeentecode"]) == (
        "address", "3741AB", "GM0308")
    assert (rows["B"]["location_precision"], rows["B"]["gemeentecode"]) == ("postcode", "GM0363")
    assert rows["D"]["location_precision"] == "manual" and rows["D"]["gemeentecode"] == "GM0308"
    assert ("Testlaan 1", "3741AB") in geocoder.calls and len(geocoder.calls) == 3


def test_offline_geocoder_uses_the_shipped_postcode_centroids(fresh_db_url, engine_for, tmp_path):
    from geoservice.config import Settings

    path = write_csv(tmp_path / "pc4.csv", [
        {"id": "A", "naam": "Postcode Baarn (testdata)", "soort": "overig", "postcode": "3741 AB"},
        {"id": "B", "naam": "Alleen adres (testdata)", "soort": "overig", "adres": "Testlaan 1"}])
    report = import_initiatives(engine_for(fresh_db_url), path, settings=Settings(geocoder="offline"),
                                skip_invalid=True)
    assert report.inserted == 1
    assert [(p.row, p.field) for p in report.problems] == [(3, "address")]
    row = stored(fresh_db_url)["A"]
    assert (row["location_precision"], row["gemeentecode"]) == ("postcode", "GM0308")


# --- areas of imported points, checked against shapely on the shipped files ----------------------

def points_beside_shared_boundaries(frame, offset: float = 2.0, min_shared: float = 20.0) -> list[Point]:
    """Two points `offset` metres either side of the middle of every boundary two buurten share."""
    points = []
    geoms = list(frame.geometry)
    for i, geom in enumerate(geoms):
        for j in frame.sindex.query(geom, predicate="intersects"):
            if j <= i:
                continue
            shared = shapely.line_merge(shapely.intersection(geom.boundary, geoms[j].boundary))
            lines = [g for g in getattr(shared, "geoms", [shared]) if g.geom_type == "LineString"]
            if not lines or max(line.length for line in lines) < min_shared:
                continue
            line = max(lines, key=lambda candidate: candidate.length)
            middle = line.length / 2
            a, b = line.interpolate(middle - 0.5), line.interpolate(middle + 0.5)
            length = math.hypot(b.x - a.x, b.y - a.y)
            nx, ny = -(b.y - a.y) / length, (b.x - a.x) / length
            centre = line.interpolate(middle)
            points += [Point(centre.x + offset * nx, centre.y + offset * ny),
                       Point(centre.x - offset * nx, centre.y - offset * ny)]
    return points


def containing_buurt(frame, point: Point) -> dict | None:
    """The buurt of the shipped file that contains the point (None when not exactly one does)."""
    hits = frame.sindex.query(point, predicate="within")
    return frame.iloc[hits[0]] if len(hits) == 1 else None


@pytest.mark.parametrize("filename, gemeente", [("buurten_2024_baarn.gpkg", "GM0308"),
                                                ("buurten_2024_amsterdam.gpkg", "GM0363")])
def test_areas_of_points_beside_buurt_boundaries(fresh_db_url, engine_for, tmp_path, filename, gemeente):
    frame = shipped(filename)
    assert frame.crs.to_epsg() == 28992
    points = points_beside_shared_boundaries(frame)
    # ... and one point well inside every buurt
    points += [geom.representative_point() for geom in frame.geometry]
    expected = {}
    rows = []
    for number, point in enumerate(points):
        buurt = containing_buurt(frame, point)
        if buurt is None:  # a corner where no single buurt is a couple of metres away: not a fair test
            continue
        expected[f"B-{number}"] = buurt
        rows.append({"id": f"B-{number}", "naam": f"Grenspunt {number} (testdata)", "soort": "overig",
                     "x": repr(point.x), "y": repr(point.y)})
    assert len(rows) > 0.95 * len(points) and len(rows) > 2 * len(frame)
    report = import_initiatives(engine_for(fresh_db_url), write_csv(tmp_path / "grens.csv", rows))
    assert [p.line() for p in report.problems][:3] == []
    assert report.inserted == len(rows)
    got = stored(fresh_db_url)
    wrong = [(key, got[key]["buurtcode"], buurt.buurtcode) for key, buurt in expected.items()
             if (got[key]["buurtcode"], got[key]["wijkcode"], got[key]["gemeentecode"])
             != (buurt.buurtcode, buurt.wijkcode, buurt.gemeentecode)]
    assert wrong == []
    assert {row["gemeentecode"] for row in got.values()} == {gemeente}


def test_areas_of_points_given_in_lat_lon(fresh_db_url, engine_for, tmp_path):
    frame = shipped("buurten_2024_baarn.gpkg")
    to_wgs84 = Transformer.from_crs(28992, 4326, always_xy=True)
    points = points_beside_shared_boundaries(frame, offset=3.0)
    rows, expected = [], {}
    for number, point in enumerate(points):
        buurt = containing_buurt(frame, point)
        if buurt is not None:
            lon, lat = to_wgs84.transform(point.x, point.y)
            expected[f"L-{number}"] = buurt.buurtcode
            rows.append({"id": f"L-{number}", "name": f"Punt {number} (testdata)", "kind": "overig",
                         "lat": repr(lat), "lon": repr(lon)})
    import_initiatives(engine_for(fresh_db_url), write_csv(tmp_path / "latlon.csv", rows))
    got = stored(fresh_db_url)
    assert {key: got[key]["buurtcode"] for key in expected} == expected
