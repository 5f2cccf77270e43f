"""The gap analysis' partner coverage kept on write (gap_overlap, gap_coverage): every write that changes
service areas or CBS boundaries brings it up to date, and the analysis reads it only when it is."""

from __future__ import annotations

import shapely
from pyproj import Transformer
from shapely import wkb
from sqlalchemy import text

from geoservice.analysis.gaps import GapParams, gap_units
from geoservice.cbs.loader import load_cbs, set_active_year
from geoservice.imports.partners import apply_partners
from geoservice.queries import gaps as queries

from .helpers import add_partner, add_service_area, make_initiative, shipped

BAARN = "GM0308"
CENTRE = ["BU03080000", "BU03080001"]
STAATSLIEDENWIJK = "BU03080102"
TO_WGS84 = Transformer.from_crs(28992, 4326, always_xy=True)


def _partner(name: str, *areas: dict) -> dict:
    """A partner for the import; without areas the key is left out (its stored areas stay as they are)."""
    return {"name": name, "kind": "lokale_ondersteuner", "services": ["advies"],
            **({"service_areas": list(areas)} if areas else {})}


def _import(engine, *partners: dict) -> None:
    with engine.begin() as conn:
        report = apply_partners(conn, list(partners))
    assert not report.problems, [p.line() for p in report.problems]


def _stored(conn) -> dict[str, tuple[float, int]]:
    """What gap_coverage holds for the active year: code -> (coverage, n_partners)."""
    return {r.code: (float(r.coverage), r.n_partners) for r in conn.execute(text(
        "SELECT code, coverage, n_partners FROM gap_coverage JOIN cbs_jaar USING (jaar) WHERE is_active"))}


def _baarn(conn) -> dict[str, dict]:
    return {u["code"]: u for u in gap_units(conn, GapParams(), gemeente=BAARN)}


def _covered(units: dict[str, dict]) -> dict[str, float]:
    return {code: round(u["coverage"], 6) for code, u in units.items() if u["coverage"] > 0}


def _west_half(conn, code: str) -> dict:
    """A GeoJSON polygon (WGS84) over the western half of a buurt's bounding box."""
    x0, y0, x1, y1 = conn.execute(text("SELECT ST_XMin(geom), ST_YMin(geom), ST_XMax(geom), ST_YMax(geom) "
                                       "FROM buurt WHERE jaar = 2024 AND code = :code"), {"code": code}).one()
    ring = [(x0 - 5, y0 - 5), ((x0 + x1) / 2, y0 - 5), ((x0 + x1) / 2, y1 + 5), (x0 - 5, y1 + 5), (x0 - 5, y0 - 5)]
    return {"type": "Polygon", "coordinates": [[list(TO_WGS84.transform(x, y)) for x, y in ring]]}


def _share(conn, code: str, jaar: int) -> float:
    """The share of a unit inside all service areas, computed with shapely from the stored geometries."""
    unit = wkb.loads(bytes(conn.execute(text("SELECT ST_AsBinary(geom) FROM buurt WHERE jaar = :jaar AND code = :code"),
                                        {"jaar": jaar, "code": code}).scalar()))
    areas = [wkb.loads(bytes(g)) for g in conn.execute(text("SELECT ST_AsBinary(geom) FROM service_area")).scalars()]
    return unit.intersection(shapely.union_all(areas)).area / unit.area


def test_an_imported_service_area_is_stored_and_read(fresh_db_url, engine_for):
    engine = engine_for(fresh_db_url)
    with engine.connect() as conn:
        assert queries.stored_coverage_is_fresh(conn) and _stored(conn) == {}  # the CBS load built it (empty)
    _import(engine, _partner("Steunpunt Centrum", {"name": "Centrum", "codes": CENTRE}))
    with engine.connect() as conn:
        assert queries.stored_coverage_is_fresh(conn)
        stored = _stored(conn)
        units = _baarn(conn)
    assert {code: s for code, s in stored.items() if s[0] > 0 and code.startswith("BU")} == {
        code: (1.0, 1) for code in CENTRE}
    assert _covered(units) == {code: 1.0 for code in CENTRE}
    assert all(units[code]["n_partners"] == 1 for code in CENTRE)
    # the wijk holding them is covered in part: stored for level=wijk too
    assert 0 < stored["WK030800"][0] < 1


def test_replacing_and_removing_a_service_area_follows(fresh_db_url, engine_for):
    engine = engine_for(fresh_db_url)
    _import(engine, _partner("Steunpunt", {"name": "Werkgebied", "codes": CENTRE}))
    _import(engine, _partner("Steunpunt", {"name": "Werkgebied", "codes": [STAATSLIEDENWIJK]}))
    with engine.connect() as conn:
        assert queries.stored_coverage_is_fresh(conn)
        assert {c for c, s in _stored(conn).items() if s[0] > 0 and c.startswith("BU")} == {STAATSLIEDENWIJK}
        assert _covered(_baarn(conn)) == {STAATSLIEDENWIJK: 1.0}
    _import(engine, _partner("Steunpunt"))  # no service_areas key: they stay
    with engine.connect() as conn:
        assert _covered(_baarn(conn)) == {STAATSLIEDENWIJK: 1.0}
    _import(engine, {**_partner("Steunpunt"), "service_areas": []})  # an empty list: all removed
    with engine.connect() as conn:
        assert queries.stored_coverage_is_fresh(conn)
        assert _stored(conn) == {} and conn.execute(text("SELECT count(*) FROM gap_overlap")).scalar() == 0
        assert _covered(_baarn(conn)) == {}


def test_two_partners_over_one_unit(fresh_db_url, engine_for):
    """Coverage of the union and partners serving a unit, when two partners' areas overlap it."""
    engine = engine_for(fresh_db_url)
    with engine.begin() as conn:
        west = _west_half(conn, STAATSLIEDENWIJK)
    _import(engine, _partner("West", {"name": "Westkant", "geojson": west}),
            _partner("Buurt", {"name": "Staatsliedenwijk", "codes": [STAATSLIEDENWIJK]}))
    with engine.connect() as conn:
        unit = _baarn(conn)[STAATSLIEDENWIJK]
        stored = _stored(conn)[STAATSLIEDENWIJK]
        west_share = conn.execute(text("SELECT piece / ST_Area(b.geom) FROM gap_overlap o JOIN buurt b USING (jaar, code) "
                                       "JOIN partner p ON p.id = o.partner_id WHERE p.name = 'West' AND code = :code"),
                                  {"code": STAATSLIEDENWIJK}).scalar()
    assert (unit["coverage"], unit["n_partners"]) == (1.0, 1 + (round(west_share, 6) >= 0.5)) == (stored[0], stored[1])
    assert 0.3 < west_share < 0.7


def test_a_services_filter_sums_the_kept_pieces_of_the_partners_that_count(fresh_db_url, engine_for):
    """With partner_services, coverage comes from the pieces kept per unit and area: the same rows as computed."""
    engine = engine_for(fresh_db_url)
    with engine.begin() as conn:
        west = _west_half(conn, STAATSLIEDENWIJK)
    _import(engine, {**_partner("West", {"name": "Westkant", "geojson": west}), "services": ["financiering"]},
            _partner("Buurt", {"name": "Staatsliedenwijk", "codes": [STAATSLIEDENWIJK]}),
            {**_partner("Centrum", {"name": "Centrum", "codes": CENTRE}), "services": ["financiering", "advies"]})
    with engine.connect() as conn:
        jaar = queries.active_year(conn)
        assert queries.stored_coverage_is_fresh(conn)
        for services in (("financiering",), ("advies",), ("juridisch",)):
            rows = {pieces: queries.unit_rows(conn, queries.UnitQuery(
                jaar=jaar, level="buurt", walk_m=1000, gemeente=BAARN, partner_services=services,
                stored_pieces=pieces)) for pieces in (True, False)}
            assert rows[True] == rows[False], services
        funds = _covered({u["code"]: u for u in gap_units(conn, GapParams(partner_services=("financiering",)),
                                                          gemeente=BAARN)})
    assert funds[CENTRE[0]] == funds[CENTRE[1]] == 1.0
    assert 0.3 < funds[STAATSLIEDENWIJK] < 0.7  # only the western half: "Buurt" gives advice, not money


def test_a_removed_partner_marks_its_areas_and_the_analysis_stays_right(fresh_db_url, engine_for):
    engine = engine_for(fresh_db_url)
    _import(engine, _partner("Tijdelijk", {"name": "Centrum", "codes": CENTRE}))
    with engine.begin() as conn:
        conn.execute(text("DELETE FROM partner WHERE name = 'Tijdelijk'"))  # its areas go by cascade
        # not refreshed yet: marked, so the analysis computes on the fly and is right all the same
        assert not queries.stored_coverage_is_fresh(conn)
        assert _covered(_baarn(conn)) == {}
        assert set(_stored(conn)) >= set(CENTRE)  # still the old figures, which nobody reads
        result = queries.refresh_coverage(conn)
        assert (result.full, result.service_areas) == (False, 1) and result.units == 0
        assert queries.stored_coverage_is_fresh(conn) and _stored(conn) == {}


def test_writes_outside_the_import_are_marked_and_refreshed(fresh_db_url, engine_for):
    """A service area written with plain SQL (as tests/helpers do): marked by the trigger, right either way."""
    engine = engine_for(fresh_db_url)
    with engine.begin() as conn:
        partner = add_partner(conn, "Direct")
        add_service_area(conn, partner, "Rond het station", "ST_Buffer(ST_Transform(ST_SetSRID("
                         "ST_MakePoint(5.2783, 52.2129), 4326), 28992), 800)")
        make_initiative(conn)
        on_the_fly = _baarn(conn)
        assert not queries.stored_coverage_is_fresh(conn)
        assert queries.refresh_coverage(conn).service_areas == 1
        assert queries.stored_coverage_is_fresh(conn)
        assert _baarn(conn) == on_the_fly and _covered(on_the_fly)


def test_a_cbs_load_and_a_change_of_active_year_rebuild_it(fresh_db_url, engine_for, tmp_path):
    engine = engine_for(fresh_db_url)
    with engine.begin() as conn:
        west = _west_half(conn, STAATSLIEDENWIJK)
    _import(engine, _partner("West", {"name": "Westkant", "geojson": west}),
            _partner("Centrum", {"name": "Centrum", "codes": CENTRE}))
    # 2025: Baarn only, and Staatsliedenwijk shrunk to its western half
    path = tmp_path / "wijkenbuurten_2025.gpkg"
    with engine.connect() as conn:
        before = _share(conn, STAATSLIEDENWIJK, 2024)
    buurten = shipped("buurten_2024_baarn.gpkg")
    home = buurten["buurtcode"] == STAATSLIEDENWIJK
    x0, _y0, x1, _y1 = buurten.loc[home].total_bounds
    buurten.loc[home, "geometry"] = buurten.loc[home].geometry.clip_by_rect(x0 - 10, -1e7, (x0 + x1) / 2 - 20, 1e7)
    for layer, frame in (("gemeenten", shipped("gemeenten_2024.gpkg").query("gemeentecode == 'GM0308'")),
                         ("wijken", shipped("wijken_2024.gpkg").query("gemeentecode == 'GM0308'")),
                         ("buurten", buurten)):
        frame.assign(jaar=2025).to_file(path, layer=layer)
    summary = load_cbs(engine, [path])
    assert summary.active_year == 2025
    with engine.connect() as conn:
        assert queries.stored_coverage_is_fresh(conn)
        assert conn.execute(text("SELECT array_agg(DISTINCT jaar) FROM gap_coverage")).scalar() == [2025]
        units = _baarn(conn)
        assert units[STAATSLIEDENWIJK]["coverage"] == 1.0 == _stored(conn)[STAATSLIEDENWIJK][0]
        assert all(units[code]["coverage"] == 1.0 for code in CENTRE)  # codes-defined, rebuilt from 2025
    with engine.begin() as conn:
        set_active_year(conn, 2024)
    with engine.connect() as conn:
        assert queries.stored_coverage_is_fresh(conn)
        assert conn.execute(text("SELECT array_agg(DISTINCT jaar) FROM gap_coverage")).scalar() == [2024]
        assert abs(_baarn(conn)[STAATSLIEDENWIJK]["coverage"] - before) < 1e-6 and 0.3 < before < 0.7


def test_an_unchanged_cbs_reload_keeps_it(fresh_db_url, engine_for):
    engine = engine_for(fresh_db_url)
    _import(engine, _partner("Centrum", {"name": "Centrum", "codes": CENTRE}))
    with engine.connect() as conn:
        before = conn.execute(text("SELECT xmin::text FROM gap_coverage ORDER BY code")).scalars().all()
    load_cbs(engine, [shipped_path("buurten_2024_baarn.gpkg")])
    with engine.connect() as conn:
        assert queries.stored_coverage_is_fresh(conn)
        assert conn.execute(text("SELECT xmin::text FROM gap_coverage ORDER BY code")).scalars().all() == before


def test_a_write_during_a_refresh_stays_marked(fresh_db_url, engine_for):
    """A refresh never clears a mark that a transaction still open has set again: it skips, never waits."""
    engine = engine_for(fresh_db_url)
    _import(engine, _partner("Centrum", {"name": "Centrum", "codes": CENTRE}))
    grow = text("UPDATE service_area SET geom = ST_Multi(ST_Buffer(geom, 100))")
    with engine.begin() as conn:
        conn.execute(grow)  # marked and committed, not refreshed
    writer, refresher = engine.connect(), engine.connect()
    try:
        writer.begin()
        writer.execute(grow)  # marks the same area again and holds that mark until it commits
        with refresher.begin():
            refresher.execute(text("SET LOCAL lock_timeout = '5s'"))  # a refresh that waited would fail here
            assert queries.refresh_coverage(refresher).service_areas == 1
        writer.commit()
        with refresher.begin():
            assert not queries.stored_coverage_is_fresh(refresher)  # the writer's mark survived
            assert queries.refresh_coverage(refresher).service_areas == 1
            assert queries.stored_coverage_is_fresh(refresher)
    finally:
        writer.close()
        refresher.close()


def shipped_path(name: str):
    from .helpers import DATA

    return DATA / name
