"""Loading the CBS map: shipped counts, sentinels, idempotence, atomic failures, file shapes."""

from __future__ import annotations

import json

import pyogrio
import pytest
from click.testing import CliRunner
from shapely.geometry import Polygon

from geoservice.cbs.loader import load_cbs, shipped_files
from geoservice.cli import main
from geoservice.errors import LoadError

from .helpers import DATA, fingerprint, scalar, shipped, write_geojson

LEVEL_OF_LAYER = {"gemeenten": "gemeente", "wijken": "wijk", "buurten": "buurt"}


@pytest.mark.parametrize(
    "filename, expected",
    [("gemeenten_2024.gpkg", 343), ("wijken_2024.gpkg", 3475),
     ("buurten_2024_baarn.gpkg", 21), ("buurten_2024_amsterdam.gpkg", 518)],
)
def test_shipped_files_load_completely(shared_db_url, filename, expected):
    path = DATA / filename
    layer = pyogrio.list_layers(path)[0][0]
    assert pyogrio.read_info(path, layer=layer)["features"] == expected
    stored = scalar(shared_db_url, f"SELECT count(*) FROM {LEVEL_OF_LAYER[layer]} WHERE source = :s", s=str(path))
    assert stored == expected


def test_population_and_active_year(shared_db_url):
    assert scalar(shared_db_url, "SELECT sum(aantal_inwoners) FROM buurt WHERE gemeentecode = 'GM0308'") == 25065
    assert scalar(shared_db_url, "SELECT sum(aantal_inwoners) FROM wijk") == 17942715
    assert scalar(shared_db_url, "SELECT jaar FROM cbs_jaar WHERE is_active") == 2024
    # Amsterdam's buurten carry the CBS inhabitants (all but BU0363MK06, which has no CBS figure);
    # their wijk parents are derived from the codes.
    assert scalar(shared_db_url, "SELECT count(*) FROM buurt WHERE gemeentecode = 'GM0363' "
                                 "AND wijkcode = 'WK' || substr(code, 3, 6)") == 518
    assert scalar(shared_db_url, "SELECT string_agg(code, ',') FROM buurt WHERE gemeentecode = 'GM0363' "
                                 "AND aantal_inwoners IS NULL") == "BU0363MK06"
    assert scalar(shared_db_url, "SELECT sum(aantal_inwoners) FROM buurt WHERE gemeentecode = 'GM0363'") == 931300


def test_amsterdams_inhabitants_are_the_shipped_cbs_table(shared_db_url):
    """Every Amsterdam buurt has exactly the figure of its buurtcode in the shipped StatLine 85984NED table."""
    import csv

    with (DATA / "buurten_2024_inwoners.csv").open(newline="", encoding="utf-8") as f:
        table = {row["nhood_id"]: int(row["population"]) for row in csv.DictReader(f)}
    stored = scalar(shared_db_url, "SELECT json_object_agg(code, aantal_inwoners) FROM buurt "
                                   "WHERE jaar = 2024 AND gemeentecode = 'GM0363'")
    assert len(stored) == 518 and stored == {code: table.get(code) for code in stored}


def test_geometries_are_valid_multipolygons_in_rd(shared_db_url):
    for table in ("gemeente", "wijk", "buurt"):
        assert scalar(shared_db_url, f"SELECT count(*) FROM {table} WHERE NOT ST_IsValid(geom) "
                                     f"OR ST_SRID(geom) <> 28992 OR GeometryType(geom) <> 'MULTIPOLYGON'") == 0


def test_sentinels_in_the_shipped_data_become_null(shared_db_url):
    # Baarn's file has -99995 for geboorte_totaal in every buurt.
    assert shipped("buurten_2024_baarn.gpkg")["geboorte_totaal"].eq(-99995).all()
    assert scalar(shared_db_url, "SELECT count(*) FROM buurt WHERE gemeentecode = 'GM0308' "
                                 "AND kerncijfers ? 'geboorte_totaal' "
                                 "AND jsonb_typeof(kerncijfers->'geboorte_totaal') = 'null'") == 21


@pytest.mark.parametrize("sentinel", [-99995, -99997])
def test_sentinel_population_becomes_null(fresh_db_url, engine_for, tmp_path, sentinel):
    baarn = shipped("buurten_2024_baarn.gpkg")
    baarn.loc[baarn.buurtcode == "BU03080000", "aantal_inwoners"] = sentinel
    path = write_geojson(baarn, tmp_path / "baarn.geojson")
    load_cbs(engine_for(fresh_db_url), [path])
    assert scalar(fresh_db_url, "SELECT aantal_inwoners IS NULL FROM buurt WHERE code = 'BU03080000'") is True
    assert scalar(fresh_db_url, "SELECT sum(aantal_inwoners) FROM buurt WHERE gemeentecode = 'GM0308'") == 25065 - 1825


def test_reloading_changes_nothing(fresh_db_url, engine_for):
    before = fingerprint(fresh_db_url)
    summary = load_cbs(engine_for(fresh_db_url), shipped_files(DATA))
    assert fingerprint(fresh_db_url) == before
    assert all(s.inserted == 0 and s.updated == 0 for s in summary.levels.values())
    assert summary.levels["wijk"].unchanged == 3475


def test_a_changed_file_updates_only_its_rows(fresh_db_url, engine_for, tmp_path):
    baarn = shipped("buurten_2024_baarn.gpkg")
    baarn.loc[baarn.buurtcode == "BU03080001", "buurtnaam"] = "Nieuwe naam"
    path = tmp_path / "baarn.gpkg"
    baarn.to_file(path, layer="buurten")
    summary = load_cbs(engine_for(fresh_db_url), [path])
    # every row changed its source; one also changed its name
    assert summary.levels["buurt"].updated == 21
    assert scalar(fresh_db_url, "SELECT naam FROM buurt WHERE code = 'BU03080001'") == "Nieuwe naam"
    assert load_cbs(engine_for(fresh_db_url), [path]).levels["buurt"].unchanged == 21


def _truncated(tmp_path):
    text = (tmp_path / "src.geojson")
    write_geojson(shipped("buurten_2024_baarn.gpkg"), text)
    broken = tmp_path / "truncated.geojson"
    broken.write_text(text.read_text()[: len(text.read_text()) // 2])
    return broken, "niet leesbaar"


def _without_codes(tmp_path):
    frame = shipped("buurten_2024_baarn.gpkg")[["buurtnaam", "aantal_inwoners", "geometry"]]
    return write_geojson(frame, tmp_path / "nocodes.geojson"), "geen kolom met CBS-codes"


def _web_mercator_without_crs(tmp_path):
    frame = shipped("buurten_2024_baarn.gpkg").to_crs(3857)
    data = json.loads(frame.to_json(drop_id=True))
    data.pop("crs", None)
    path = tmp_path / "mercator.geojson"
    path.write_text(json.dumps(data))
    return path, "coördinatenstelsel is niet aangegeven"


def _bad_code_half_way(tmp_path):
    frame = shipped("buurten_2024_baarn.gpkg")
    frame.loc[15, "buurtcode"] = "BU-kapot"
    return write_geojson(frame, tmp_path / "badcode.geojson"), "object 16.*BU-kapot.*geen CBS-code"


def _points(tmp_path):
    frame = shipped("buurten_2024_baarn.gpkg")
    frame = frame.set_geometry(frame.geometry.centroid)
    return write_geojson(frame, tmp_path / "points.geojson"), "Point"


def _not_a_geo_file(tmp_path):
    path = tmp_path / "notes.geojson"
    path.write_text("dit is geen kaart")
    return path, "niet leesbaar"


@pytest.mark.parametrize("make", [_truncated, _without_codes, _web_mercator_without_crs,
                                  _bad_code_half_way, _points, _not_a_geo_file])
def test_broken_files_fail_clearly_and_change_nothing(fresh_db_url, engine_for, tmp_path, make):
    path, reason = make(tmp_path)
    before = fingerprint(fresh_db_url)
    with pytest.raises(LoadError, match=reason) as info:
        # the good file first: a failure in the second must undo nothing written for the first
        load_cbs(engine_for(fresh_db_url), [DATA / "buurten_2024_amsterdam.gpkg", path])
    assert path.name in info.value.description
    assert fingerprint(fresh_db_url) == before


def test_cli_reports_broken_file_and_exits_nonzero(fresh_db_url, runner_env, tmp_path):
    path, _ = _without_codes(tmp_path)
    before = fingerprint(fresh_db_url)
    result = CliRunner().invoke(main, ["load-cbs", str(path)], env=runner_env(fresh_db_url))
    assert result.exit_code == 1
    assert "Fout:" in result.output and "nocodes.geojson" in result.output
    assert fingerprint(fresh_db_url) == before


def test_pdok_style_geojson_with_camelcase_and_jrstatcode(empty_db_url, engine_for, tmp_path):
    frame = shipped("buurten_2024_baarn.gpkg")
    frame = frame.rename(columns={"aantal_inwoners": "aantalInwoners", "aantal_huishoudens": "aantalHuishoudens",
                                  "percentage_personen_65_jaar_en_ouder": "percentagePersonen65JaarEnOuder"})
    frame = frame.drop(columns=["jaar", "wijkcode", "gemeentecode"])
    path = write_geojson(frame, tmp_path / "pdok.geojson")
    summary = load_cbs(engine_for(empty_db_url), [path])
    assert summary.levels["buurt"].inserted == 21
    assert summary.active_year == 2024  # from jrstatcode "2024BU…"
    assert scalar(empty_db_url, "SELECT sum(aantal_inwoners) FROM buurt") == 25065
    assert scalar(empty_db_url, "SELECT pct_65plus FROM buurt WHERE code = 'BU03080501'") == 75
    assert scalar(empty_db_url, "SELECT wijkcode || gemeentecode FROM buurt WHERE code = 'BU03080501'") == "WK030805GM0308"


def test_official_geopackage_layout_of_another_year_in_rd(fresh_db_url, engine_for, tmp_path):
    """Three layers, snake_case, EPSG:28992: the shape of the CBS Wijk- en Buurtkaart download."""
    path = tmp_path / "wijkenbuurten_2023.gpkg"
    buurten = shipped("buurten_2024_baarn.gpkg")
    wijken = shipped("wijken_2024.gpkg").query("gemeentecode == 'GM0308'")
    gemeenten = shipped("gemeenten_2024.gpkg").query("gemeentecode == 'GM0308'")
    for layer, frame in (("gemeenten", gemeenten), ("wijken", wijken), ("buurten", buurten)):
        frame = frame.drop(columns=["jaar"])
        frame["jrstatcode"] = "2023" + frame.iloc[:, 0].astype(str)  # test fixture: relabelled year
        assert frame.crs.to_epsg() == 28992
        frame.to_file(path, layer=layer)
    summary = load_cbs(engine_for(fresh_db_url), [path])
    assert {lvl: s.inserted for lvl, s in summary.levels.items()} == {"gemeente": 1, "wijk": len(wijken), "buurt": 21}
    # the older year lives beside the active one and does not replace it
    assert summary.active_year == 2024
    assert scalar(fresh_db_url, "SELECT count(*) FROM buurt WHERE jaar = 2023") == 21
    assert scalar(fresh_db_url, "SELECT count(*) FROM buurt WHERE jaar = 2024") == 539


def test_geojson_in_rd_without_crs_member_is_recognised(empty_db_url, engine_for, tmp_path):
    frame = shipped("buurten_2024_baarn.gpkg")
    data = json.loads(frame.to_json(drop_id=True))  # RD metres
    data.pop("crs", None)
    path = tmp_path / "rd.geojson"
    path.write_text(json.dumps(data))
    load_cbs(engine_for(empty_db_url), [path])
    # had the metres been read as degrees, the area would be wildly different (or refused)
    area = scalar(empty_db_url, "SELECT sum(ST_Area(geom)) FROM buurt")
    assert area == pytest.approx(frame.geometry.area.sum(), abs=1)


def test_invalid_geometry_is_repaired_and_counted(empty_db_url, engine_for, tmp_path):
    frame = shipped("buurten_2024_baarn.gpkg").iloc[:2].copy()
    x, y = frame.geometry.iloc[0].centroid.coords[0]
    bowtie = Polygon([(x, y), (x + 100, y + 100), (x + 100, y), (x, y + 100), (x, y)])
    frame.loc[frame.index[0], "geometry"] = bowtie
    path = tmp_path / "bowtie.gpkg"
    frame.to_file(path, layer="buurten")
    summary = load_cbs(engine_for(empty_db_url), [path])
    assert summary.levels["buurt"].repaired == 1
    assert scalar(empty_db_url, "SELECT bool_and(ST_IsValid(geom)) FROM buurt") is True
    assert scalar(empty_db_url, f"SELECT round(ST_Area(geom)) FROM buurt WHERE code = '{frame.buurtcode.iloc[0]}'") == 5000


@pytest.mark.parametrize(
    "year_arg, drop_year, message",
    [(None, True, "geen jaar.*--year"), (2023, False, "noemt jaar 2024, maar --year zegt 2023")],
)
def test_year_must_be_known_and_consistent(empty_db_url, engine_for, tmp_path, year_arg, drop_year, message):
    frame = shipped("buurten_2024_baarn.gpkg")
    if drop_year:
        frame = frame.drop(columns=["jaar", "jrstatcode"])
    path = write_geojson(frame, tmp_path / "baarn.geojson")
    with pytest.raises(LoadError, match=message):
        load_cbs(engine_for(empty_db_url), [path], year=year_arg)
    assert scalar(empty_db_url, "SELECT count(*) FROM buurt") == 0


def test_year_option_fills_files_without_year(empty_db_url, runner_env, tmp_path):
    frame = shipped("buurten_2024_amsterdam.gpkg").drop(columns=["jaar", "begin_geldigheid"])
    path = write_geojson(frame, tmp_path / "amsterdam.geojson")
    result = CliRunner().invoke(main, ["load-cbs", str(path), "--year", "2024"], env=runner_env(empty_db_url))
    assert result.exit_code == 0, result.output
    assert "518 geladen (518 nieuw" in result.output
    assert "actief CBS-jaar: 2024" in result.output
