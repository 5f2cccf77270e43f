"""`geoservice import partners`: the documented shape, geometry of each definition, every refusal, atomicity,
idempotence, updates and the rebuild of codes-defined service areas after a new CBS year."""

from __future__ import annotations

import json
import math
import os
from pathlib import Path

import pytest
import shapely
import yaml
from click.testing import CliRunner
from pyproj import Transformer
from sqlalchemy import create_engine, text

from geoservice.cbs.loader import set_active_year
from geoservice.cli import main
from geoservice.errors import ImportRefused
from geoservice.imports.partners import import_partners
from geoservice.queries.service_areas import rebuild_code_service_areas, stale_code_service_areas

from .helpers import scalar, shipped

FIXTURES = Path(__file__).parent / "fixtures"
EXAMPLE = FIXTURES / "partners_example.yaml"
SQUARE = [[[5.27, 52.20], [5.30, 52.20], [5.30, 52.22], [5.27, 52.22], [5.27, 52.20]]]  # in Baarn
BOW_TIE = [[[5.27, 52.20], [5.30, 52.22], [5.30, 52.20], [5.27, 52.22], [5.27, 52.20]]]
TO_RD = Transformer.from_crs(4326, 28992, always_xy=True)


def fingerprint(url: str) -> str:
    """A digest of every partner and service-area row, timestamps included, to prove that nothing changed."""
    return " ".join(scalar(url, f"SELECT count(*) || ':' || coalesce(md5(string_agg(t::text, '|' ORDER BY t.id)), '') "
                                f"FROM {table} t") for table in ("partner", "service_area"))


def rows(url: str, sql: str, **params) -> list[dict]:
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return [dict(r) for r in conn.execute(text(sql), params).mappings()]
    finally:
        engine.dispose()


def areas(url: str) -> dict[str, dict]:
    """Service areas by name, with their area in m² and geometry type."""
    return {r["name"]: r for r in rows(url, """
        SELECT sa.*, p.name AS partner, ST_Area(sa.geom) AS area_m2, GeometryType(sa.geom) AS type,
               ST_NumGeometries(sa.geom) AS parts, ST_IsValid(sa.geom) AS valid, ST_SRID(sa.geom) AS srid
        FROM service_area sa JOIN partner p ON p.id = sa.partner_id""")}


def run(runner_env, url: str, *args):
    return CliRunner().invoke(main, ["import", "partners", *map(str, args)], env=runner_env(url))


def write_yaml(path: Path, partners: list[dict]) -> Path:
    path.write_text(yaml.safe_dump({"partners": partners}, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return path


def example() -> list[dict]:
    return yaml.safe_load(EXAMPLE.read_text(encoding="utf-8"))["partners"]


# --- the documented shape and the geometry of each definition --------------------------------------------

def test_the_documented_example_loads(fresh_db_url, runner_env):
    result = run(runner_env, fresh_db_url, EXAMPLE)
    assert result.exit_code == 0, result.output
    assert ("partners: 2 nieuw, 0 bijgewerkt, 0 ongewijzigd, 0 afgewezen; "
            "werkgebieden: 4 toegevoegd, 0 gewijzigd, 0 verwijderd, 0 ongewijzigd") in result.output
    partners = {r["name"]: r for r in rows(fresh_db_url, "SELECT * FROM partner")}
    one = partners["Stichting Voorbeeld (testdata)"]
    assert (one["kind"], one["services"], one["source"], one["external_id"]) == (
        "regionale_ondersteuner", ["advies", "netwerk_kennisdeling"], "file", "voorbeeld-1")
    assert (one["website"], one["email"], one["phone"]) == ("https://example.org", "info@example.org", "030 123 45 67")
    two = partners["Voorbeeldfonds Eemland (testdata)"]
    assert (two["kind"], two["services"], two["source"], two["external_id"], two["website"]) == (
        "fonds", ["financiering"], "file", None, "https://www.example.org/fonds")
    stored = areas(fresh_db_url)
    assert {name: (a["definition_type"], a["definition"], a["cbs_jaar"]) for name, a in stored.items()} == {
        "Heel Baarn": ("codes", {"codes": ["GM0308"]}, 2024),
        "Rond het kantoor": ("radius", {"point": {"lat": 52.21, "lon": 5.29}, "radius_m": 3000}, None),
        "Getekend gebied": ("geojson", {"geojson": {"type": "Polygon", "coordinates": SQUARE}}, None),
        "Baarn en een stuk Amsterdam": ("codes", {"codes": ["BU0363AA01", "GM0308", "WK0363AB"]}, 2024),
    }
    assert all((a["type"], a["srid"], a["valid"]) == ("MULTIPOLYGON", 28992, True) for a in stored.values())


def test_the_same_partners_in_json_are_the_same(fresh_db_url, runner_env):
    assert run(runner_env, fresh_db_url, EXAMPLE).exit_code == 0
    before = fingerprint(fresh_db_url)
    result = run(runner_env, fresh_db_url, FIXTURES / "partners_example.json")
    assert result.exit_code == 0, result.output
    assert "partners: 0 nieuw, 0 bijgewerkt, 1 ongewijzigd" in result.output
    assert "0 toegevoegd, 0 gewijzigd, 0 verwijderd, 3 ongewijzigd" in result.output
    assert fingerprint(fresh_db_url) == before


def test_codes_give_the_union_of_the_areas(fresh_db_url, runner_env):
    assert run(runner_env, fresh_db_url, EXAMPLE).exit_code == 0
    stored = areas(fresh_db_url)
    baarn = scalar(fresh_db_url, "SELECT ST_Area(geom) FROM gemeente WHERE jaar = 2024 AND code = 'GM0308'")
    assert abs(stored["Heel Baarn"]["area_m2"] - baarn) < 1
    assert scalar(fresh_db_url, """SELECT ST_Equals(sa.geom, g.geom) FROM service_area sa, gemeente g
                                   WHERE sa.name = 'Heel Baarn' AND g.jaar = 2024 AND g.code = 'GM0308'""")
    # A mix of levels, checked independently with shapely on the shipped files.
    parts = [shipped("gemeenten_2024.gpkg").query("gemeentecode == 'GM0308'").geometry,
             shipped("wijken_2024.gpkg").query("wijkcode == 'WK0363AB'").geometry,
             shipped("buurten_2024_amsterdam.gpkg").query("buurtcode == 'BU0363AA01'").geometry]
    assert all(len(p) == 1 for p in parts)
    expected = shapely.union_all([shapely.make_valid(p.iloc[0]) for p in parts]).area
    assert stored["Baarn en een stuk Amsterdam"]["area_m2"] == pytest.approx(expected, abs=1)


def test_a_radius_gives_a_circle_around_the_point(fresh_db_url, runner_env):
    assert run(runner_env, fresh_db_url, EXAMPLE).exit_code == 0
    circle = areas(fresh_db_url)["Rond het kantoor"]
    assert circle["area_m2"] == pytest.approx(math.pi * 3000 ** 2, rel=0.005)
    x, y = TO_RD.transform(5.29, 52.21)
    centre = rows(fresh_db_url, "SELECT ST_X(c) AS x, ST_Y(c) AS y FROM (SELECT ST_Centroid(geom) AS c "
                                "FROM service_area WHERE name = 'Rond het kantoor') s")[0]
    assert math.dist((centre["x"], centre["y"]), (x, y)) < 1


def test_a_drawn_polygon_is_transformed_to_rd(fresh_db_url, runner_env):
    assert run(runner_env, fresh_db_url, EXAMPLE).exit_code == 0
    expected = shapely.Polygon([TO_RD.transform(lon, lat) for lon, lat in SQUARE[0]]).area
    assert areas(fresh_db_url)["Getekend gebied"]["area_m2"] == pytest.approx(expected, rel=1e-6)


def test_a_self_intersecting_polygon_is_repaired_and_reported(fresh_db_url, runner_env, tmp_path):
    partner = {"name": "Strikjes (testdata)", "kind": "overig",
               "service_areas": [{"name": "Strik", "geojson": {"type": "Polygon", "coordinates": BOW_TIE}}]}
    result = run(runner_env, fresh_db_url, write_yaml(tmp_path / "p.yaml", [partner]))
    assert result.exit_code == 0, result.output
    assert ("partner 1 'Strikjes (testdata)', werkgebied 1 'Strik': ongeldige polygoon hersteld "
            "(de rand snijdt zichzelf)") in result.output
    strik = areas(fresh_db_url)["Strik"]
    assert (strik["type"], strik["parts"], strik["valid"]) == ("MULTIPOLYGON", 2, True)
    # The two triangles of the bow tie: together half the square they span.
    square = shapely.Polygon([TO_RD.transform(lon, lat) for lon, lat in SQUARE[0]]).area
    assert strik["area_m2"] == pytest.approx(square / 2, rel=0.01)
    assert strik["definition"] == {"geojson": {"type": "Polygon", "coordinates": BOW_TIE}}


def test_features_multipolygons_and_heights_are_accepted(fresh_db_url, engine_for, tmp_path):
    feature = {"type": "Feature", "properties": {},
               "geometry": {"type": "MultiPolygon", "coordinates": [[[p + [2.0] for p in SQUARE[0]]]]}}
    partner = {"name": "Hoogte (testdata)", "kind": "overig", "service_areas": [
        {"name": "Met hoogte", "geojson": feature}, {"name": "Gemengd", "codes": "gm0308; WK030801"}]}
    report = import_partners(engine_for(fresh_db_url), write_yaml(tmp_path / "p.yaml", [partner]))
    assert report.applied and report.areas.added == 2, report.lines()
    stored = areas(fresh_db_url)
    assert stored["Met hoogte"]["definition"]["geojson"]["type"] == "MultiPolygon"
    assert scalar(fresh_db_url, "SELECT ST_NDims(geom) FROM service_area WHERE name = 'Met hoogte'") == 2
    assert stored["Gemengd"]["definition"] == {"codes": ["GM0308", "WK030801"]}


# --- refusals ---------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def reject_db_url(pg_server, template_db):
    """One copy of the template for the refusals: each proves it wrote nothing."""
    name = f"geoservice_test_partner_reject_{os.getpid()}"
    yield pg_server.create(name, template=template_db)
    pg_server.drop(name)


BERLIN = [[[13.30, 52.45], [13.45, 52.45], [13.45, 52.55], [13.30, 52.55], [13.30, 52.45]]]
SYDNEY = [[[151.1, -33.9], [151.3, -33.9], [151.3, -33.8], [151.1, -33.8], [151.1, -33.9]]]
FLAT = [[[5.27, 52.20], [5.28, 52.21], [5.27, 52.20], [5.27, 52.20]]]  # there and back: no surface
A = "werkgebied 1 'Gebied', "
REFUSALS = [
    # (changes to the second partner, its service area (None: a valid one), field, reason (part of it))
    ({}, {"geojson": {"type": "Polygon", "coordinates": []}}, A + "geojson", "de polygoon is leeg"),
    ({}, {"geojson": {"type": "Polygon", "coordinates": FLAT}}, A + "geojson", "het gebied is leeg"),
    ({}, {"geojson": {"type": "Polygon", "coordinates": BERLIN}}, A + "geojson",
     "ligt buiten Nederland: raakt geen gemeente (CBS-jaar 2024)"),
    ({}, {"geojson": {"type": "Polygon", "coordinates": SYDNEY}}, A + "geojson", "ligt buiten Nederland"),
    ({}, {"point": {"lat": 52.52, "lon": 13.40}, "radius_m": 5000}, A + "point", "ligt buiten Nederland"),
    ({}, {"geojson": {"type": "Point", "coordinates": [5.29, 52.21]}}, A + "geojson",
     "type Point kan geen werkgebied zijn; gebruik Polygon of MultiPolygon"),
    ({}, {"geojson": {"type": "Polygon", "coordinates": [SQUARE[0][:-1]]}}, A + "geojson",
     "een ring is niet gesloten"),
    ({}, {"geojson": {"type": "Polygon", "coordinates": [[[140000, 460000], [141000, 460000], [141000, 461000],
                                                          [140000, 460000]]]}}, A + "geojson", "is geen lon/lat"),
    ({}, {"codes": ["GM0308", "GM9999", "BU03089999"]}, A + "codes",
     "onbekende code(s) in CBS-jaar 2024: BU03089999, GM9999"),
    ({}, {"codes": ["Baarn"]}, A + "codes", "geen CBS-code: Baarn; verwacht bijvoorbeeld GM0344"),
    ({}, {"codes": []}, A + "codes", "geen codes"),
    ({}, {"point": {"lat": 52.21, "lon": 5.29}, "radius_m": 0}, A + "radius_m",
     "moet tussen 1 en 100.000 meter liggen, niet 0"),
    ({}, {"point": {"lat": 52.21, "lon": 5.29}, "radius_m": 100_001}, A + "radius_m",
     "moet tussen 1 en 100.000 meter liggen"),
    ({}, {"point": {"lat": 52.21, "lon": 5.29}}, A + "radius_m", "ontbreekt"),
    ({}, {"point": {"lat": 52.21, "lon": 5.29}, "radius_m": "ver"}, A + "radius_m", "'ver' is geen getal"),
    ({}, {"point": {"lat": 5.29, "lon": 52.21}, "radius_m": 300}, A + "point", "lat en lon lijken omgewisseld"),
    ({}, {"point": [52.21, 5.29], "radius_m": 300}, A + "point", "moet lat en lon hebben"),
    ({}, {"codes": ["GM0308"], "radius_m": 300}, A + "radius_m", "hoort alleen bij een point"),
    ({}, {"codes": ["GM0308"], "point": {"lat": 52.21, "lon": 5.29}}, A + "definitie",
     "geef precies één van codes, point (met radius_m) of geojson, niet codes én point"),
    ({}, {}, A + "definitie", "geef precies één van codes"),
    ({}, {"name": "", "codes": ["GM0308"]}, "werkgebied 1, name", "is leeg; elk werkgebied heeft een naam nodig"),
    ({}, {"codes": ["GM0308"], "straal": 3}, A + "straal", "onbekend veld"),
    ({"kind": "kerkgenootschap"}, None, "kind",
     "onbekend(e) soort partner 'kerkgenootschap'; kies uit: landelijk_netwerk"),
    ({"kind": None}, None, "kind", "soort ontbreekt; kies uit: landelijk_netwerk"),
    ({"services": ["advies", "ruimtevaart"]}, None, "services", "onbekend(e) dienst 'ruimtevaart'; kies uit: advies"),
    ({"services": {"advies": True}}, None, "services", "moet een lijst van diensten zijn"),
    ({"website": "javascript:alert(1)"}, None, "website", "is geen website"),
    ({"website": "ftp://example.org/"}, None, "website", "is geen website"),
    ({"email": "info@"}, None, "email", "is geen geldig e-mailadres"),
    ({"phone": 301234567}, None, "phone", "zet het telefoonnummer tussen aanhalingstekens"),
    ({"servcies": ["advies"]}, None, "servcies", "onbekend veld; bekende velden: name, id, kind"),
    ({"description": ["twee", "regels"]}, None, "description", "moet tekst zijn"),
    ({"name": "x" * 201}, None, "name", "te lang (meer dan 200 tekens)"),
    ({"service_areas": {"name": "Gebied"}}, None, "service_areas", "moet een lijst van werkgebieden zijn"),
]
PARTNER_ONE = {"name": "Partner Een (testdata)", "kind": "lokale_ondersteuner",
               "service_areas": [{"name": "Baarn", "codes": ["GM0308"]}]}


def partner_two(changes: dict, area: dict | None) -> dict:
    partner = {"name": "Partner Twee (testdata)", "kind": "lokale_ondersteuner", "services": ["advies"],
               "service_areas": [{"name": "Gebied", **(area if area is not None else {"codes": ["GM0308"]})}]}
    partner.update(changes)
    return {k: v for k, v in partner.items() if v is not None}


@pytest.mark.parametrize("changes, area, field, reason", REFUSALS,
                         ids=[f"{field.split(', ')[-1]}:{reason[:30]}" for _c, _a, field, reason in REFUSALS])
def test_every_refusal_names_its_reason_and_changes_nothing(reject_db_url, runner_env, tmp_path,
                                                            changes, area, field, reason):
    before = fingerprint(reject_db_url)
    path = write_yaml(tmp_path / "bad.yaml", [PARTNER_ONE, partner_two(changes, area)])
    result = run(runner_env, reject_db_url, path)
    assert result.exit_code == 1, result.output
    lines = [line for line in result.output.splitlines() if line.startswith("partner ")]
    two = "Partner Twee (testdata)" if "name" not in changes else changes["name"][:60]
    assert len(lines) == 1 and lines[0].startswith(f"partner 2 '{two}', {field}: ") and reason in lines[0], \
        result.output
    assert "partners: 0 nieuw, 0 bijgewerkt, 0 ongewijzigd, 1 afgewezen" in result.output
    assert "(niets opgeslagen)" in result.output and "Niets opgeslagen" in result.output
    assert fingerprint(reject_db_url) == before


def test_a_missing_name_is_reported_by_position(reject_db_url, runner_env, tmp_path):
    path = write_yaml(tmp_path / "bad.yaml", [PARTNER_ONE, {"kind": "fonds"}, "geen partner"])
    result = run(runner_env, reject_db_url, path)
    assert result.exit_code == 1
    assert "partner 2, name: is leeg; elke partner heeft een naam nodig" in result.output
    assert "partner 3, partner: moet een blok met velden zijn" in result.output
    assert "2 afgewezen" in result.output


def test_every_problem_of_a_file_is_listed(reject_db_url, runner_env, tmp_path):
    bad = partner_two({"kind": "?", "website": "javascript:alert(1)"}, {"codes": ["GM9999"]})
    bad["service_areas"].append({"name": "Ver weg", "geojson": {"type": "Polygon", "coordinates": SYDNEY}})
    result = run(runner_env, reject_db_url, write_yaml(tmp_path / "bad.yaml", [bad, PARTNER_ONE]))
    assert result.exit_code == 1
    lines = [line for line in result.output.splitlines() if line.startswith("partner ")]
    # Field checks come first; the service areas are only built once the partner itself is valid.
    assert [line.split(": ")[0] for line in lines] == ["partner 1 'Partner Twee (testdata)', kind",
                                                       "partner 1 'Partner Twee (testdata)', website"]
    fixed = partner_two({}, {"codes": ["GM9999"]})
    fixed["service_areas"] = bad["service_areas"]
    result = run(runner_env, reject_db_url, write_yaml(tmp_path / "bad.yaml", [PARTNER_ONE, fixed]))
    lines = [line for line in result.output.splitlines() if line.startswith("partner ")]
    assert [line.split(": ")[0] for line in lines] == ["partner 2 'Partner Twee (testdata)', "
                                                       "werkgebied 1 'Gebied', codes",
                                                       "partner 2 'Partner Twee (testdata)', "
                                                       "werkgebied 2 'Ver weg', geojson"]


@pytest.mark.parametrize("partners, line", [
    ([PARTNER_ONE, {**PARTNER_ONE, "name": "partner  EEN (testdata)"}],
     "partner 2 'partner  EEN (testdata)', name: dezelfde naam als partner 1"),
    ([{**PARTNER_ONE, "id": "a"}, {**PARTNER_ONE, "name": "Ander (testdata)", "id": "a"}],
     "partner 2 'Ander (testdata)', id: id 'a' staat ook bij partner 1"),
    ([{**PARTNER_ONE, "service_areas": [{"name": "Baarn", "codes": ["GM0308"]},
                                        {"name": "baarn", "point": {"lat": 52.21, "lon": 5.29}, "radius_m": 9}]}],
     "partner 1 'Partner Een (testdata)', werkgebied 2 'baarn', name: dezelfde naam als werkgebied 1"),
])
def test_duplicates_in_one_file(reject_db_url, runner_env, tmp_path, partners, line):
    result = run(runner_env, reject_db_url, write_yaml(tmp_path / "dup.yaml", partners))
    assert result.exit_code == 1
    assert line in result.output


@pytest.mark.parametrize("name, content, message", [
    ("kapot.yaml", "partners:\n  - name: [niet gesloten\n", "is geen leesbare YAML (regel"),
    ("kapot.json", '{"partners": [', "is geen leesbare JSON"),
    ("leeg.yaml", "", "is leeg"),
    ("anders.yaml", "organisaties: []\n", "verwacht een lijst onder 'partners:'"),
    ("tekst.yaml", "partners: veel\n", "verwacht een lijst van partners"),
    ("dubbel.yaml", "partners:\n  - name: A\n    kind: fonds\n    kind: overig\n",
     "is geen leesbare YAML (regel 4): veld 'kind' staat twee keer in één blok"),
    ("dubbel.json", '{"partners": [{"name": "A", "name": "B"}]}', "veld 'name' staat twee keer in één object"),
    ("latin1.yaml", "partners:\n  - name: Caf\xe9\n".encode("latin-1"), "is geen UTF-8-tekst"),
])
def test_unreadable_files_are_refused_as_a_whole(reject_db_url, runner_env, tmp_path, name, content, message):
    path = tmp_path / name
    path.write_bytes(content if isinstance(content, bytes) else content.encode())
    result = run(runner_env, reject_db_url, path)
    assert result.exit_code == 1
    assert message in result.output


def test_a_missing_file_is_a_usage_error(reject_db_url, runner_env, tmp_path):
    result = run(runner_env, reject_db_url, tmp_path / "bestaat-niet.yaml")
    assert result.exit_code == 2 and "bestaat niet" in result.output


def test_service_areas_need_an_active_cbs_year(empty_db_url, engine_for, tmp_path):
    engine = engine_for(empty_db_url)
    with pytest.raises(ImportRefused, match="geen actief CBS-jaar"):
        import_partners(engine, EXAMPLE)
    assert fingerprint(empty_db_url) == "0: 0:"
    # Partners without service areas need no map.
    report = import_partners(engine, write_yaml(tmp_path / "p.yaml", [{"name": "Kaal (testdata)", "kind": "fonds"}]))
    assert report.applied and report.inserted == 1


# --- atomic, idempotent, updates --------------------------------------------------------------------------

def test_reimporting_the_same_file_changes_nothing(fresh_db_url, runner_env):
    assert run(runner_env, fresh_db_url, EXAMPLE).exit_code == 0
    before = fingerprint(fresh_db_url)
    result = run(runner_env, fresh_db_url, EXAMPLE)
    assert result.exit_code == 0, result.output
    assert ("partners: 0 nieuw, 0 bijgewerkt, 2 ongewijzigd, 0 afgewezen; "
            "werkgebieden: 0 toegevoegd, 0 gewijzigd, 0 verwijderd, 4 ongewijzigd") in result.output
    assert fingerprint(fresh_db_url) == before


def test_dry_run_reports_and_writes_nothing(fresh_db_url, runner_env):
    result = run(runner_env, fresh_db_url, EXAMPLE, "--dry-run")
    assert result.exit_code == 0, result.output
    assert "2 nieuw" in result.output and "4 toegevoegd" in result.output
    assert "(proefdraai: niets opgeslagen)" in result.output
    assert fingerprint(fresh_db_url) == "0: 0:"


def test_one_invalid_partner_changes_nothing(fresh_db_url, runner_env, tmp_path):
    assert run(runner_env, fresh_db_url, EXAMPLE).exit_code == 0
    before = fingerprint(fresh_db_url)
    partners = example()
    partners[0]["description"] = "Nieuwe tekst (testdata)"
    partners[0]["service_areas"].pop()
    partners.append({"name": "Nieuw (testdata)", "kind": "fonds"})
    partners.append(partner_two({}, {"codes": ["GM9999"]}))
    result = run(runner_env, fresh_db_url, write_yaml(tmp_path / "partners.yaml", partners))
    assert result.exit_code == 1
    assert fingerprint(fresh_db_url) == before


def test_a_failure_while_writing_leaves_the_database_as_it_was(fresh_db_url, engine_for, runner_env, tmp_path,
                                                              monkeypatch):
    assert run(runner_env, fresh_db_url, EXAMPLE).exit_code == 0
    before = fingerprint(fresh_db_url)
    import geoservice.imports.partners as importer

    def fail(*_args):
        raise RuntimeError("schijf vol")

    monkeypatch.setattr(importer, "insert_service_area", fail)
    partners = example()
    partners[0]["description"] = "Nieuwe tekst (testdata)"
    partners[0]["service_areas"].append({"name": "Extra", "codes": ["WK030801"]})
    with pytest.raises(RuntimeError, match="schijf vol"):
        import_partners(engine_for(fresh_db_url), write_yaml(tmp_path / "partners.yaml", partners))
    assert fingerprint(fresh_db_url) == before


def test_a_changed_partner_is_updated_and_its_areas_synced(fresh_db_url, runner_env, tmp_path):
    assert run(runner_env, fresh_db_url, EXAMPLE).exit_code == 0
    old_partners = {r["name"]: r for r in rows(fresh_db_url, "SELECT * FROM partner")}
    old_areas = areas(fresh_db_url)
    partners = example()
    one = partners[0]
    one["description"] = "Andere tekst (testdata)"
    one["service_areas"] = [
        one["service_areas"][0],  # Heel Baarn: as it was
        {**one["service_areas"][1], "radius_m": 1500},  # a smaller circle
        # Getekend gebied: gone
        {"name": "Lage Vuursche", "codes": ["WK030805"]},  # new
    ]
    result = run(runner_env, fresh_db_url, write_yaml(tmp_path / "partners.yaml", partners))
    assert result.exit_code == 0, result.output
    assert ("partners: 0 nieuw, 1 bijgewerkt, 1 ongewijzigd, 0 afgewezen; "
            "werkgebieden: 1 toegevoegd, 1 gewijzigd, 1 verwijderd, 2 ongewijzigd") in result.output
    new_partners = {r["name"]: r for r in rows(fresh_db_url, "SELECT * FROM partner")}
    changed, same = "Stichting Voorbeeld (testdata)", "Voorbeeldfonds Eemland (testdata)"
    assert new_partners[changed]["description"] == "Andere tekst (testdata)"
    assert new_partners[changed]["updated_at"] > old_partners[changed]["updated_at"]
    assert new_partners[same] == old_partners[same]
    new_areas = areas(fresh_db_url)
    assert set(new_areas) == {"Heel Baarn", "Rond het kantoor", "Lage Vuursche", "Baarn en een stuk Amsterdam"}
    assert new_areas["Heel Baarn"] == old_areas["Heel Baarn"]
    circle = new_areas["Rond het kantoor"]
    assert circle["id"] == old_areas["Rond het kantoor"]["id"]
    assert circle["updated_at"] > old_areas["Rond het kantoor"]["updated_at"]
    assert circle["area_m2"] == pytest.approx(math.pi * 1500 ** 2, rel=0.005)
    wijk = scalar(fresh_db_url, "SELECT ST_Area(geom) FROM wijk WHERE jaar = 2024 AND code = 'WK030805'")
    assert new_areas["Lage Vuursche"]["area_m2"] == pytest.approx(wijk, abs=1)


def test_an_id_keeps_the_partner_through_a_rename(fresh_db_url, engine_for, tmp_path):
    engine = engine_for(fresh_db_url)
    import_partners(engine, EXAMPLE)
    old_id = scalar(fresh_db_url, "SELECT id FROM partner WHERE external_id = 'voorbeeld-1'")
    partners = example()
    partners[0]["name"] = "Stichting Voorbeeld Nieuw (testdata)"
    report = import_partners(engine, write_yaml(tmp_path / "p.yaml", partners))
    assert (report.inserted, report.updated, report.unchanged, report.areas.unchanged) == (0, 1, 1, 4)
    assert scalar(fresh_db_url, "SELECT name FROM partner WHERE id = :id", id=old_id) == partners[0]["name"]
    # Renaming onto the name of another partner is refused.
    partners[0]["name"] = "Voorbeeldfonds Eemland (testdata)"
    partners.pop()
    report = import_partners(engine, write_yaml(tmp_path / "p.yaml", partners))
    assert not report.applied
    assert [(p.field, p.reason) for p in report.problems] == [("name", "naam is al in gebruik door een andere partner")]


def test_absent_service_areas_stay_and_an_empty_list_removes_them(fresh_db_url, engine_for, tmp_path):
    engine = engine_for(fresh_db_url)
    import_partners(engine, EXAMPLE)
    partners = example()
    for partner in partners:
        del partner["service_areas"]
    report = import_partners(engine, write_yaml(tmp_path / "p.yaml", partners))
    assert (report.unchanged, report.areas.removed, len(areas(fresh_db_url))) == (2, 0, 4)
    partners[0]["service_areas"] = []
    report = import_partners(engine, write_yaml(tmp_path / "p.yaml", partners))
    assert (report.unchanged, report.areas.removed) == (2, 3)
    assert set(areas(fresh_db_url)) == {"Baarn en een stuk Amsterdam"}


# --- rebuilding codes-defined areas after a new CBS year ---------------------------------------------------

def test_rebuild_code_service_areas_from_the_active_year(fresh_db_url, engine_for):
    engine = engine_for(fresh_db_url)
    import_partners(engine, EXAMPLE)
    with engine.begin() as conn:
        assert rebuild_code_service_areas(conn) == 0  # built from the active year already
    before = areas(fresh_db_url)
    with engine.begin() as conn:
        # A new year in which Baarn's boundary moved 100 m outwards and Amsterdam's areas are missing.
        conn.execute(text("INSERT INTO cbs_jaar (jaar) VALUES (2025)"))
        conn.execute(text("INSERT INTO gemeente (jaar, code, naam, geom) SELECT 2025, code, naam, "
                          "ST_Multi(ST_Buffer(geom, 100)) FROM gemeente WHERE jaar = 2024 AND code = 'GM0308'"))
        set_active_year(conn, 2025)  # activating a year rebuilds code-defined areas itself
        assert rebuild_code_service_areas(conn) == 0
        stale = stale_code_service_areas(conn)
    assert [(s["name"], s["cbs_jaar"], s["missing"]) for s in stale] == [
        ("Baarn en een stuk Amsterdam", 2024, ["BU0363AA01", "WK0363AB"])]
    after = areas(fresh_db_url)
    baarn_2025 = scalar(fresh_db_url, "SELECT ST_Area(geom) FROM gemeente WHERE jaar = 2025 AND code = 'GM0308'")
    assert after["Heel Baarn"]["cbs_jaar"] == 2025
    assert after["Heel Baarn"]["area_m2"] == pytest.approx(baarn_2025, abs=1)
    assert after["Heel Baarn"]["updated_at"] > before["Heel Baarn"]["updated_at"]
    for name in ("Rond het kantoor", "Getekend gebied", "Baarn en een stuk Amsterdam"):
        assert after[name] == before[name]  # radius, polygon and areas with missing codes stay as they were
    with engine.begin() as conn:
        assert rebuild_code_service_areas(conn) == 0
    # A re-import agrees with the rebuild for Baarn and refuses the codes the new year lacks.
    report = import_partners(engine, EXAMPLE)
    assert [(p.field, p.reason) for p in report.problems] == [
        ("werkgebied 1 'Baarn en een stuk Amsterdam', codes",
         "onbekende code(s) in CBS-jaar 2025: BU0363AA01, WK0363AB")]


def test_rebuild_without_an_active_year_does_nothing(empty_db_url, engine_for):
    with engine_for(empty_db_url).begin() as conn:
        assert rebuild_code_service_areas(conn) == 0
        assert stale_code_service_areas(conn) == []


def test_json_without_an_extension_is_sniffed(fresh_db_url, engine_for, tmp_path):
    """The same example, written as JSON without extension, is sniffed and gives the same rows."""
    path = tmp_path / "partners"
    path.write_text(json.dumps({"partners": example()}), encoding="utf-8")
    report = import_partners(engine_for(fresh_db_url), path)
    assert (report.inserted, report.areas.added) == (2, 4), report.lines()
    report = import_partners(engine_for(fresh_db_url), EXAMPLE)
    assert (report.unchanged, report.areas.unchanged) == (2, 4), report.lines()
