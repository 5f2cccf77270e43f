"""Gap analysis (geoservice.analysis.gaps) and `geoservice gaps` on a real PostGIS.

Hand-checkable cases on the shipped Baarn buurten, and an independent shapely computation on the
same data that must agree unit by unit.
"""

from __future__ import annotations

import csv
import io
import json
import os

import numpy as np
import pytest
import shapely
from click.testing import CliRunner
from pyproj import Transformer
from shapely import wkb
from sqlalchemy import text

from geoservice.analysis.gaps import (STATUSES, SUMMARY_COLUMNS, SUMMARY_CSV_COLUMNS, UNIT_COLUMNS, GapParams,
                                      check_params, gap_units, gemeente_summaries, make_params, status_of)
from geoservice.cli import main
from geoservice.db import make_engine
from geoservice.errors import InvalidParameter, NotFound, ServiceUnavailable
from geoservice.partners.validation import AreaDefinition
from geoservice.queries import gaps as queries
from geoservice.queries.service_areas import build_service_area, insert_service_area

from .helpers import add_partner, add_service_area, make_initiative, shipped

BAARN, UTRECHT, AMSTERDAM = "GM0308", "GM0344", "GM0363"
STAATSLIEDENWIJK = "BU03080102"
TO_WGS84 = Transformer.from_crs(28992, 4326, always_xy=True)
CIRCLE = "ST_Buffer(ST_Transform(ST_SetSRID(ST_MakePoint(:lon, :lat), 4326), 28992), :radius, 'quad_segs=32')"
# Distances (m) from the default make_initiative point (in Staatsliedenwijk) to each Baarn buurt, by shapely:
# within 1,000 m are these 13; Pr. Hendrikpark is 1,015.5 m away, the rest farther.
WITHIN_1000 = {"BU03080102", "BU03080003", "BU03080103", "BU03080101", "BU03080000", "BU03080002", "BU03080200",
               "BU03080007", "BU03080001", "BU03080006", "BU03080104", "BU03080004", "BU03080100"}


DEFAULTS = GapParams()


def _units(conn, params=DEFAULTS, **kwargs) -> dict[str, dict]:
    return {u["code"]: u for u in gap_units(conn, params, **kwargs)}


def _codes_area(conn, partner: int, name: str, codes: list[str]) -> int:
    """A service area defined by CBS codes, built the way the partner import builds it."""
    area = AreaDefinition(name, "codes", {"codes": codes})
    return insert_service_area(conn, partner, area, build_service_area(conn, area, 2024))


def _inside(code: str) -> dict:
    frame = shipped("buurten_2024_baarn.gpkg")
    p = frame.loc[frame["buurtcode"] == code].geometry.representative_point().to_crs(4326).iloc[0]
    return {"lon": p.x, "lat": p.y}


# --- hand-checkable cases ---------------------------------------------------------------------------

def test_one_initiative_makes_its_neighbours_within_walking_distance_no_support(fresh_db_url, engine_for):
    engine = engine_for(fresh_db_url)
    with engine.begin() as conn:
        make_initiative(conn)  # in Staatsliedenwijk
        make_initiative(conn, status="pending", **_inside("BU03080500"))  # not published: never counts
        units = _units(conn, gemeente=BAARN)
    assert len(units) == 21 and {u["level"] for u in units.values()} == {"buurt"}
    assert {c for c, u in units.items() if u["status"] == "no_support"} == WITHIN_1000
    assert {c for c, u in units.items() if u["status"] == "white_spot"} == set(units) - WITHIN_1000
    home = units[STAATSLIEDENWIJK]
    assert (home["n_initiatives"], home["n_nearby"], home["nearest_m"]) == (1, 1, 0.0)
    assert home["initiatives_per_1000"] == round(1 / 1325 * 1000, 3)
    assert units["BU03080201"]["nearest_m"] == pytest.approx(1015.5, abs=0.1)
    assert units["BU03080500"]["n_initiatives"] == 0 and units["BU03080500"]["nearest_m"] > 5000
    assert all(u["coverage"] == 0 and u["n_partners"] == 0 for u in units.values())
    with engine.connect() as conn:
        wider = _units(conn, GapParams(walk_m=1020), gemeente=BAARN)
    assert {c for c, u in wider.items() if u["n_nearby"]} == WITHIN_1000 | {"BU03080201"}


def test_a_service_area_defined_by_codes_covers_exactly_those_buurten(fresh_db_url, engine_for):
    engine = engine_for(fresh_db_url)
    covered = {"BU03080000", "BU03080001", "BU03080102"}
    with engine.begin() as conn:
        partner = add_partner(conn, "Buurtsteun Baarn")
        _codes_area(conn, partner, "Centrum en omgeving", sorted(covered))
        make_initiative(conn)
        units = _units(conn, gemeente=BAARN)
    for code, unit in units.items():
        if code in covered:
            assert unit["coverage"] == pytest.approx(1.0, abs=1e-6), code
            assert unit["n_partners"] == 1
        else:
            assert unit["coverage"] < 1e-6, code  # neighbours only touch the area
            assert unit["n_partners"] == 0
    assert units[STAATSLIEDENWIJK]["status"] == "ok"
    assert units["BU03080000"]["status"] == "ok"  # within walking distance and covered
    assert units["BU03080003"]["status"] == "no_support"
    assert units["BU03080500"]["status"] == "white_spot"


def test_a_unit_under_the_minimum_population_is_low_population(fresh_db_url, engine_for):
    engine = engine_for(fresh_db_url)
    with engine.connect() as conn:
        default = _units(conn, gemeente=BAARN)
        stricter = _units(conn, GapParams(min_inwoners=100), gemeente=BAARN)
        amsterdam = _units(conn, gemeente=AMSTERDAM)
    assert default["BU03080501"]["aantal_inwoners"] == 70  # Verspreide huizen Lage Vuursche
    assert default["BU03080501"]["status"] == "white_spot"
    assert [c for c, u in stricter.items() if u["status"] == "low_population"] == ["BU03080501"]
    # Amsterdam's buurten carry CBS inhabitants, except BU0363MK06: only that one is unknown
    assert len(amsterdam) == 518
    assert [c for c, u in amsterdam.items() if u["status"] == "unknown"] == ["BU0363MK06"]
    assert amsterdam["BU0363MK06"]["aantal_inwoners"] is None
    assert {c for c, u in amsterdam.items() if u["status"] == "low_population"} == {
        c for c, u in amsterdam.items() if u["aantal_inwoners"] is not None and u["aantal_inwoners"] < 50}


def test_half_coverage_is_enough_and_a_partners_areas_are_united(fresh_db_url, engine_for):
    engine = engine_for(fresh_db_url)
    with engine.begin() as conn:
        x0, y0, x1, y1 = conn.execute(text(
            "SELECT ST_XMin(geom), ST_YMin(geom), ST_XMax(geom), ST_YMax(geom) FROM buurt WHERE code = :c"),
            {"c": STAATSLIEDENWIJK}).one()
        partner = add_partner(conn, "Twee helften")
        # the west 60 % of the bounding box, twice (overlapping): counted once
        box = "ST_MakeEnvelope(:x0, :y0, :x, :y1, 28992)"
        for name in ("west", "west opnieuw"):
            add_service_area(conn, partner, name, box, x0=x0 - 1, y0=y0 - 1, x=x0 + 0.6 * (x1 - x0), y1=y1 + 1)
        share = conn.execute(text(f"SELECT ST_Area(ST_Intersection(geom, {box})) / ST_Area(geom) FROM buurt "
                                  "WHERE code = :c"), {"c": STAATSLIEDENWIJK, "x0": x0 - 1, "y0": y0 - 1,
                                                      "x": x0 + 0.6 * (x1 - x0), "y1": y1 + 1}).scalar()
        unit = _units(conn, gemeente=BAARN)[STAATSLIEDENWIJK]
    assert unit["coverage"] == pytest.approx(share, abs=1e-6)
    assert (unit["n_partners"] == 1) == (share >= 0.5)
    assert unit["status"] == ("no_initiative" if share >= 0.5 else "white_spot")


def test_a_partners_share_is_that_of_the_union_of_its_areas(fresh_db_url, engine_for):
    """Two areas each under half the unit: together over half (counts), or overlapping and under (does not)."""
    frame = shipped("buurten_2024_baarn.gpkg")
    unit = frame.loc[frame["buurtcode"] == STAATSLIEDENWIJK].geometry.iloc[0]
    x0, y0, x1, y1 = unit.bounds
    strips = {"Twee stroken": [(0.0, 0.35), (0.65, 1.0)], "Overlap": [(0.0, 0.4), (0.05, 0.45)]}

    def box(a, c):
        return (x0 + a * (x1 - x0) - 1, y0 - 1, x0 + c * (x1 - x0) + 1, y1 + 1)

    def share(boxes):
        return unit.intersection(shapely.union_all([shapely.box(*b) for b in boxes])).area / unit.area

    boxes = {name: [box(a, c) for a, c in parts] for name, parts in strips.items()}
    for parts in boxes.values():  # each area alone is under half, the pieces add up to more
        assert all(share([b]) < 0.5 for b in parts) and sum(share([b]) for b in parts) > 0.5
    assert share(boxes["Twee stroken"]) > 0.5 > share(boxes["Overlap"])
    engine = engine_for(fresh_db_url)
    with engine.begin() as conn:
        for name, parts in boxes.items():
            partner = add_partner(conn, name)
            for k, (bx0, by0, bx1, by1) in enumerate(parts):
                add_service_area(conn, partner, f"strook {k}", "ST_MakeEnvelope(:x0, :y0, :x1, :y1, 28992)",
                                 x0=bx0, y0=by0, x1=bx1, y1=by1)
        found = _units(conn, gemeente=BAARN)[STAATSLIEDENWIJK]
    assert found["n_partners"] == 1
    assert found["coverage"] == pytest.approx(share([b for parts in boxes.values() for b in parts]), abs=1e-6)


def test_status_follows_the_definitions_literally():
    assert status_of(None, 5, 1.0, 50) == "unknown"
    assert status_of(49, 5, 1.0, 50) == "low_population"
    assert status_of(50, 0, 0.4999, 50) == "white_spot"
    assert status_of(50, 0, 0.5, 50) == "no_initiative"
    assert status_of(50, 1, 0.4999, 50) == "no_support"
    assert status_of(50, 1, 0.5, 50) == "ok"
    assert status_of(0, 0, 0.0, 0) == "white_spot"


# --- an independent computation with shapely --------------------------------------------------------

def _scenario(pg_server, template_db, name: str, stored: bool) -> str:
    """Random published/pending initiatives and partners in Baarn and Utrecht (seeded, so reproducible).

    stored: the partner coverage refreshed into gap_coverage (as every import does), else left marked
    stale, so that the analysis computes it on the fly.
    """
    url = pg_server.create(name, template=template_db)
    engine = make_engine(url)
    rng = np.random.default_rng(4)
    kinds = ["bewonersinitiatief", "energiecooperatie", "zorgcooperatie"]
    themes = [["ontmoeting"], ["energie_klimaat"], ["zorg_welzijn", "ouderen"], []]
    with engine.begin() as conn:
        # Baarn's town centre and eastern Utrecht: Lage Vuursche and western Utrecht stay without
        for box, n in (((146_000, 468_000, 150_000, 471_000), 16), ((135_000, 450_000, 142_000, 460_000), 20)):
            for x, y in zip(rng.uniform(box[0], box[2], n), rng.uniform(box[1], box[3], n)):
                lon, lat = TO_WGS84.transform(x, y)
                make_initiative(conn, lon=lon, lat=lat, kind=kinds[rng.integers(3)], themes=themes[rng.integers(4)],
                                status="published" if rng.random() < 0.85 else "pending")
        advies = add_partner(conn, "Advies Eemland", services=["advies"])
        _codes_area(conn, advies, "Centrum", ["BU03080000", "BU03080001"])
        add_service_area(conn, advies, "Rond het station", CIRCLE, lon=5.2783, lat=52.2129, radius=800)
        geld = add_partner(conn, "Fonds Midden", kind="fonds", services=["financiering"])
        add_service_area(conn, geld, "Oosterhei", CIRCLE, lon=5.3020, lat=52.2160, radius=1500)
        add_service_area(conn, geld, "Utrecht-Oost", "ST_MakeEnvelope(137000, 454000, 140500, 458500, 28992)")
        _codes_area(conn, geld, "Lage Vuursche", ["BU03080500"])
        training = add_partner(conn, "Leren Utrecht", services=["training", "advies"])
        _codes_area(conn, training, "West", ["WK034401"])
        add_service_area(conn, training, "Centrum", CIRCLE, lon=5.1214, lat=52.0907, radius=2500)
        if stored:
            queries.refresh_coverage(conn)
        else:
            queries.mark_coverage_stale(conn)
        assert queries.stored_coverage_is_fresh(conn) == stored
    engine.dispose()
    return url


@pytest.fixture(scope="module")
def scenario_url(pg_server, template_db):
    """The scenario with coverage computed on the fly."""
    name = f"geoservice_test_gaps_{os.getpid()}"
    yield _scenario(pg_server, template_db, name, stored=False)
    pg_server.drop(name)


@pytest.fixture(scope="module")
def stored_scenario_url(pg_server, template_db):
    """The same scenario with coverage read from gap_coverage."""
    name = f"geoservice_test_gaps_stored_{os.getpid()}"
    yield _scenario(pg_server, template_db, name, stored=True)
    pg_server.drop(name)


def _shipped_units() -> list[tuple[str, int | None, object]]:
    buurten = shipped("buurten_2024_baarn.gpkg")
    wijken = shipped("wijken_2024.gpkg")
    wijken = wijken[wijken["gemeentecode"] == UTRECHT]
    units = []
    for frame, column in ((buurten, "buurtcode"), (wijken, "wijkcode")):
        for code, people, geom in zip(frame[column], frame["aantal_inwoners"], frame.geometry):
            people = None if people is None or np.isnan(people) or people < 0 else int(people)
            units.append((code, people, geom))
    return units


def _expected(conn, params: GapParams) -> dict[str, dict]:
    """The definitions computed with shapely: points and service areas read from the DB, units from the files."""
    points = []
    for kind, themes, status, x, y in conn.execute(text(
            "SELECT kind, themes, status, ST_X(location), ST_Y(location) FROM initiative")):
        if status == "published" and (not params.kinds or kind in params.kinds) and (
                not params.themes or set(themes) & set(params.themes)):
            points.append(shapely.Point(x, y))
    by_partner: dict[int, list] = {}
    for partner_id, services, geom in conn.execute(text(
            "SELECT sa.partner_id, p.services, ST_AsBinary(sa.geom) FROM service_area sa "
            "JOIN partner p ON p.id = sa.partner_id")):
        if not params.partner_services or set(services) & set(params.partner_services):
            by_partner.setdefault(partner_id, []).append(wkb.loads(bytes(geom)))
    unions = {p: shapely.union_all(geoms) for p, geoms in by_partner.items()}
    everything = shapely.union_all(list(unions.values())) if unions else None
    expected = {}
    for code, people, unit in _shipped_units():
        distances = [unit.distance(p) for p in points]
        coverage = everything.intersection(unit).area / unit.area if everything is not None else 0.0
        shares = [u.intersection(unit).area / unit.area for u in unions.values()]
        n_nearby = sum(d <= params.walk_m for d in distances)
        nearest = min(distances, default=None)
        expected[code] = {
            "n_initiatives": sum(unit.intersects(p) for p in points), "n_nearby": n_nearby,
            "nearest_m": nearest if nearest is not None and nearest <= 50_000 else None,
            "coverage": coverage, "n_partners": sum(round(s, 6) >= 0.5 for s in shares),
            "status": status_of(people, n_nearby, round(coverage, 6), params.min_inwoners),
            "aantal_inwoners": people, "area_m2": unit.area,
        }
    return expected


@pytest.mark.parametrize("params", [
    GapParams(),
    GapParams(walk_m=300, min_inwoners=1000),
    GapParams(walk_m=0),
    GapParams(kinds=("energiecooperatie",)),
    GapParams(themes=("energie_klimaat", "ouderen")),
    GapParams(partner_services=("financiering",)),
    GapParams(kinds=("zorgcooperatie",), partner_services=("training",), walk_m=2500),
], ids=repr)
@pytest.mark.parametrize("scenario", ["scenario_url", "stored_scenario_url"])
def test_postgis_agrees_with_an_independent_shapely_computation(request, scenario, engine_for, params):
    with engine_for(request.getfixturevalue(scenario)).connect() as conn:
        expected = _expected(conn, params)
        found = {**_units(conn, params, gemeente=BAARN), **_units(conn, params, gemeente=UTRECHT)}
    assert set(found) == set(expected)
    statuses = set()
    for code, want in expected.items():
        got = found[code]
        for name in ("n_initiatives", "n_nearby", "n_partners", "status", "aantal_inwoners"):
            assert got[name] == want[name], (code, name, got[name], want[name])
        assert got["coverage"] == pytest.approx(want["coverage"], abs=1e-6), code
        assert got["area_m2"] == pytest.approx(want["area_m2"], abs=0.1), code
        if want["nearest_m"] is None:
            assert got["nearest_m"] is None, code
        else:
            assert got["nearest_m"] == pytest.approx(want["nearest_m"], abs=0.051), code
        statuses.add(got["status"])
    if params == GapParams():
        assert statuses >= {"white_spot", "no_support", "ok", "no_initiative"}  # the scenario exercises them


@pytest.mark.parametrize("params", [
    GapParams(), GapParams(level="wijk", walk_m=300), GapParams(kinds=("zorgcooperatie",)),
], ids=repr)
def test_stored_coverage_gives_the_same_rows_as_computing_it(scenario_url, stored_scenario_url, engine_for, params):
    """The whole country, read from gap_coverage and computed on the fly: identical, to the last digit."""
    with engine_for(scenario_url).connect() as computing, engine_for(stored_scenario_url).connect() as reading:
        computed = gap_units(computing, params)
        read = gap_units(reading, params)
        assert queries.stored_coverage_is_fresh(reading) and not queries.stored_coverage_is_fresh(computing)
    assert read == computed
    assert sum(u["coverage"] > 0 for u in read) > 15 and sum(u["n_partners"] for u in read) > 5


def test_filters_change_the_result_as_expected(scenario_url, engine_for):
    with engine_for(scenario_url).connect() as conn:
        everything = _units(conn, gemeente=BAARN)
        energy = _units(conn, GapParams(kinds=("energiecooperatie",)), gemeente=BAARN)
        themed = _units(conn, GapParams(themes=("energie_klimaat",)), gemeente=BAARN)
        funds = _units(conn, GapParams(partner_services=("financiering",)), gemeente=BAARN)
        nobody = _units(conn, GapParams(partner_services=("juridisch",)), gemeente=BAARN)
    assert sum(u["n_initiatives"] for u in energy.values()) < sum(u["n_initiatives"] for u in everything.values())
    assert all(energy[c]["n_nearby"] <= u["n_nearby"] for c, u in everything.items())
    assert all(themed[c]["n_nearby"] <= u["n_nearby"] for c, u in everything.items())
    assert all(funds[c]["coverage"] <= u["coverage"] + 1e-9 for c, u in everything.items())
    assert any(funds[c]["coverage"] < u["coverage"] - 0.5 for c, u in everything.items())  # advies areas gone
    assert all(u["coverage"] == 0 and u["n_partners"] == 0 for u in nobody.values())
    assert sum(u["status"] == "white_spot" for u in energy.values()) >= sum(
        u["status"] == "white_spot" for u in everything.values())


# --- units, levels, partners and the summary ---------------------------------------------------------

def test_the_finest_level_per_gemeente(shared_db_url, engine_for):
    with engine_for(shared_db_url).connect() as conn:
        baarn = gap_units(conn, GapParams(), gemeente=BAARN)
        utrecht = gap_units(conn, GapParams(), gemeente="gm0344")
        baarn_wijken = gap_units(conn, GapParams(level="wijk"), gemeente=BAARN)
        national = gap_units(conn, GapParams())
        wijken = conn.execute(text("SELECT count(*) FROM wijk WHERE jaar = 2024 AND gemeentecode NOT IN "
                                   "('GM0308', 'GM0363')")).scalar()
        with pytest.raises(InvalidParameter, match="geen buurten"):
            gap_units(conn, GapParams(level="buurt"), gemeente=UTRECHT)
    assert {u["level"] for u in baarn} == {"buurt"} and len(baarn) == 21
    assert {u["level"] for u in utrecht} == {"wijk"} and len(utrecht) == 10
    assert all(u["wijkcode"] is None and u["gemeentecode"] == UTRECHT for u in utrecht)
    assert {u["level"] for u in baarn_wijken} == {"wijk"}
    assert len(national) == 21 + 518 + wijken
    assert [u["code"] for u in national] == sorted(u["code"] for u in national)
    assert list(national[0]) == [*UNIT_COLUMNS, "need_scores"]


def test_geometry_is_wgs84_geojson(shared_db_url, engine_for):
    with engine_for(shared_db_url).connect() as conn:
        units = gap_units(conn, GapParams(), gemeente=BAARN, with_geometry=True)
    shape = shapely.geometry.shape(json.loads(units[0]["geometry"]))
    assert shape.geom_type == "MultiPolygon" and shape.is_valid
    assert 5.1 < shape.centroid.x < 5.4 and 52.1 < shape.centroid.y < 52.3


def test_units_near_a_partner(scenario_url, engine_for):
    with engine_for(scenario_url).connect() as conn:
        partner = conn.execute(text("SELECT id FROM partner WHERE name = 'Advies Eemland'")).scalar()
        near = gap_units(conn, GapParams(), near_partner=partner, reach_m=0)
        farther = gap_units(conn, GapParams(), near_partner=partner, reach_m=10_000)
        with pytest.raises(NotFound):
            gap_units(conn, GapParams(), near_partner=999_999, reach_m=100)
        with pytest.raises(InvalidParameter):
            gap_units(conn, GapParams(), near_partner=partner)
    assert {"BU03080000", "BU03080001"} <= {u["code"] for u in near}
    assert all(u["gemeentecode"] == BAARN for u in near)  # 800 m around the station stays in Baarn
    assert {u["code"] for u in near} < {u["code"] for u in farther}
    assert {u["level"] for u in farther} == {"buurt", "wijk"}  # Baarn's buurten, its neighbours' wijken


def test_the_analysis_leaves_the_session_settings_as_they_were(shared_db_url, engine_for):
    with engine_for(shared_db_url).connect() as conn:
        settings = text("SELECT current_setting('jit'), current_setting('min_parallel_table_scan_size')")
        before = conn.execute(settings).one()
        gap_units(conn, GapParams(), gemeente=BAARN)
        after = conn.execute(settings).one()
    assert before == after


def test_the_national_summary_has_every_gemeente_and_sorts(shared_db_url, engine_for):
    with engine_for(shared_db_url).connect() as conn:
        rows = gemeente_summaries(conn, GapParams())
        by_share = gemeente_summaries(conn, GapParams(), sort="white_spot_share")
        by_name = gemeente_summaries(conn, GapParams(), sort="naam", descending=True)
        baarn = gemeente_summaries(conn, GapParams(min_inwoners=100), gemeente="GM0308")
        with pytest.raises(InvalidParameter, match="sort"):
            gemeente_summaries(conn, GapParams(), sort="geom")
    assert len(rows) == 343 and any(r["naam"] == "Buitenland" for r in rows)  # 342 gemeenten + abroad
    assert [r["gemeentecode"] for r in rows] == sorted(r["gemeentecode"] for r in rows)
    assert list(rows[0]) == list(SUMMARY_COLUMNS)
    shares = [r["white_spot_share"] for r in by_share]
    known = [s for s in shares if s is not None]
    assert known == sorted(known, reverse=True) and shares[len(known):] == [None] * (len(shares) - len(known))
    assert [r["naam"].casefold() for r in by_name] == sorted((r["naam"].casefold() for r in by_name), reverse=True)
    assert len(baarn) == 1
    row = baarn[0]
    assert (row["gemeentecode"], row["level"], row["units"], row["units_low_population"]) == (BAARN, "buurt", 21, 1)
    assert row["aantal_inwoners"] == 25065 == sum(row[f"inwoners_{s}"] for s in STATUSES if s != "unknown")
    assert row["units_white_spot"] == 20 and row["white_spot_share"] == round((25065 - 70) / 25065, 4)


def test_summary_figures_add_up_from_the_units(scenario_url, engine_for):
    params = GapParams(walk_m=500)
    with engine_for(scenario_url).connect() as conn:
        units = gap_units(conn, params, gemeente=BAARN)
        row = gemeente_summaries(conn, params, gemeente=BAARN)[0]
    for status in STATUSES:
        assert row[f"units_{status}"] == sum(u["status"] == status for u in units)
    assert row["inwoners_white_spot"] == sum(u["aantal_inwoners"] for u in units if u["status"] == "white_spot")
    assert row["n_initiatives"] == sum(u["n_initiatives"] for u in units)
    assert row["initiatives_per_1000"] == round(row["n_initiatives"] / row["aantal_inwoners"] * 1000, 3)
    assert row["partners_active"] == 2  # the Baarn partners; Utrecht's do not reach it


# --- validation ------------------------------------------------------------------------------------

@pytest.mark.parametrize("raw, match", [
    ({"walk_m": "-1"}, "walk_m"), ({"walk_m": "50001"}, "walk_m"), ({"walk_m": "ver"}, "walk_m"),
    ({"min_inwoners": "100001"}, "min_inwoners"), ({"min_inwoners": "-5"}, "min_inwoners"),
    ({"level": "stad"}, "level"), ({"kinds": ["sportclub"]}, "kind"), ({"themes": ["x"]}, "theme"),
    ({"partner_services": ["geld"]}, "partner_services"),
])
def test_bad_settings_are_refused(raw, match):
    with pytest.raises(InvalidParameter, match=match):
        make_params(**raw)


def test_settings_take_labels_and_keys():
    params = make_params(level="Wijk", walk_m="250", min_inwoners=0, kinds=["Energiecoöperatie;wijkcooperatie"],
                         themes=["Zorg en welzijn"], partner_services=["advies"])
    assert params == GapParams(level="wijk", walk_m=250, min_inwoners=0, kinds=("energiecooperatie", "wijkcooperatie"),
                               themes=("zorg_welzijn",), partner_services=("advies",))


@pytest.mark.parametrize("params", [GapParams(walk_m=-1), GapParams(walk_m=50_001), GapParams(min_inwoners=10**6),
                                    GapParams(level="gemeente"), GapParams(kinds=("Energiecoöperatie",)),
                                    GapParams(themes=("onbekend",)), GapParams(partner_services=("x",))])
def test_gap_units_checks_its_params(params):
    with pytest.raises(InvalidParameter):
        check_params(params)


def test_unknown_or_malformed_gemeente(shared_db_url, engine_for):
    with engine_for(shared_db_url).connect() as conn:
        with pytest.raises(NotFound, match="GM9999"):
            gap_units(conn, GapParams(), gemeente="GM9999")
        with pytest.raises(InvalidParameter):
            gap_units(conn, GapParams(), gemeente="Baarn")
        with pytest.raises(InvalidParameter):
            gap_units(conn, GapParams(), gemeente="WK030800")


def test_without_a_cbs_map(empty_db_url, engine_for):
    with engine_for(empty_db_url).connect() as conn, pytest.raises(ServiceUnavailable):
        gap_units(conn, GapParams())


# --- the command ------------------------------------------------------------------------------------

def _run(url, runner_env, *args):
    return CliRunner().invoke(main, ["gaps", *args], env=runner_env(url))


def test_cli_table_csv_and_geojson(scenario_url, engine_for, runner_env):
    with engine_for(scenario_url).connect() as conn:
        units = gap_units(conn, GapParams(walk_m=500), gemeente=BAARN)
    table = _run(scenario_url, runner_env, "--gemeente", "GM0308", "--walk-m", "500")
    assert table.exit_code == 0, table.output
    assert "Witte vlekken in Baarn (GM0308): 21 gebieden." in table.output
    assert "inwoners" in table.output and "dekking" in table.output and "Staatsliedenwijk" in table.output
    assert "binnen 500 m" in table.output
    as_csv = _run(scenario_url, runner_env, "--gemeente", "GM0308", "--walk-m", "500", "--format", "csv")
    assert as_csv.exit_code == 0
    rows = list(csv.DictReader(io.StringIO(as_csv.output)))
    assert [r["code"] for r in rows] == [u["code"] for u in units]
    assert [r["status"] for r in rows] == [u["status"] for u in units]
    assert [float(r["coverage"]) for r in rows] == [u["coverage"] for u in units]
    as_geojson = _run(scenario_url, runner_env, "--gemeente", "GM0308", "--walk-m", "500", "--format", "geojson")
    body = json.loads(as_geojson.output)
    assert body["type"] == "FeatureCollection" and len(body["features"]) == 21
    assert body["parameters"]["walk_m"] == 500 and body["gemeente"] == {"code": BAARN, "naam": "Baarn"}
    assert body["features"][0]["properties"]["code"] == units[0]["code"]


def test_cli_national(shared_db_url, runner_env):
    table = _run(shared_db_url, runner_env, "--national", "--sort", "units")
    assert table.exit_code == 0, table.output
    assert "Witte vlekken per gemeente: 343 gemeenten." in table.output
    first = table.output.splitlines()[5]
    assert first.startswith("GM0363")  # Amsterdam: 518 buurten, the most units
    as_csv = _run(shared_db_url, runner_env, "--national", "--format", "csv", "--sort", "naam")
    rows = list(csv.DictReader(io.StringIO(as_csv.output)))
    assert len(rows) == 343 and list(rows[0]) == list(SUMMARY_CSV_COLUMNS)
    assert [r["naam"].casefold() for r in rows] == sorted(r["naam"].casefold() for r in rows)


@pytest.mark.parametrize("args, message", [
    ((), "precies één"), (("--gemeente", "GM0308", "--national"), "precies één"),
    (("--national", "--format", "geojson"), "--national"), (("--gemeente", "GM0308", "--walk-m", "60000"), "walk-m"),
    (("--gemeente", "GM0308", "--kind", "sportclub"), "sportclub"), (("--gemeente", "GM9999"), "GM9999"),
    (("--gemeente", "GM0344", "--level", "buurt"), "geen buurten"), (("--gemeente", "Baarn"), "CBS-code"),
])
def test_cli_errors(shared_db_url, runner_env, args, message):
    result = _run(shared_db_url, runner_env, *args)
    assert result.exit_code != 0
    assert message in result.output
