"""The gap analysis' initiative counts kept on write (gap_counts): every write that changes where published
initiatives are brings them up to date, only near the change, and the analysis reads them only when fresh."""

from __future__ import annotations

import json

from sqlalchemy import text

from geoservice.analysis.gaps import GapParams, gap_units
from geoservice.imports.initiatives import import_initiatives
from geoservice.queries import gaps as queries
from geoservice.queries.areas import active_year

from .helpers import make_initiative

BAARN = "GM0308"
BAARN_CENTRE = (5.2878, 52.2165)
AMSTERDAM_DAM = (4.8930, 52.3731)


def _rows(conn, *, stored: bool) -> list[dict]:
    """Every unit of both levels, nationally, with counts read from gap_counts or computed now."""
    jaar = active_year(conn)
    return [row for level in ("buurt", "wijk") for row in queries.unit_rows(conn, queries.UnitQuery(
        jaar=jaar, level=level, walk_m=queries.STORED_WALK_M, stored_counts=stored))]


def _assert_stored_equals_computed(conn) -> None:
    assert queries.stored_counts_are_fresh(conn)
    stored, computed = _rows(conn, stored=True), _rows(conn, stored=False)
    assert len(stored) == len(computed) > 3000
    assert [r for r in stored if r not in computed] == []


def _refresh(engine) -> queries.CountsRefresh | None:
    with engine.begin() as conn:
        return queries.refresh_counts(conn)


def _units_total(engine) -> int:
    with engine.connect() as conn:
        return conn.execute(text("SELECT (SELECT count(*) FROM buurt WHERE jaar = :j) + "
                                 "(SELECT count(*) FROM wijk WHERE jaar = :j)"), {"j": active_year(conn)}).scalar()


def test_the_cbs_load_leaves_them_fresh_and_equal_to_the_computation(fresh_db_url, engine_for):
    engine = engine_for(fresh_db_url)
    with engine.begin() as conn:
        for lon, lat in (BAARN_CENTRE, AMSTERDAM_DAM, (5.30, 52.22), (4.90, 52.36)):
            make_initiative(conn, lon=lon, lat=lat)
        assert not queries.stored_counts_are_fresh(conn)  # the inserts marked their points
    result = _refresh(engine)
    assert result is not None and not result.full and result.points == 4
    assert 0 < result.units < _units_total(engine)  # only the units near the four points
    with engine.connect() as conn:
        _assert_stored_equals_computed(conn)
        assert conn.execute(text("SELECT count(*) FROM gap_counts WHERE n_inside > 0")).scalar() >= 2


def test_an_imported_file_is_counted_at_once(fresh_db_url, engine_for, tmp_path):
    engine = engine_for(fresh_db_url)
    path = tmp_path / "baarn.geojson"
    path.write_text(json.dumps({"type": "FeatureCollection", "features": [
        {"type": "Feature", "geometry": {"type": "Point", "coordinates": [lon, lat]},
         "properties": {"id": f"b-{k}", "naam": f"Buurtinitiatief {k} (testdata)", "soort": "bewonersinitiatief"}}
        for k, (lon, lat) in enumerate([BAARN_CENTRE, (5.2790, 52.2120), (5.2700, 52.2300)])]}))
    report = import_initiatives(engine, path)
    assert (report.inserted, report.problems) == (3, [])
    with engine.connect() as conn:
        assert queries.stored_counts_are_fresh(conn)  # the import refreshed them before its commit
        _assert_stored_equals_computed(conn)
        units = gap_units(conn, GapParams(), gemeente=BAARN)
        placed = conn.execute(text("SELECT buurtcode, count(*) FROM initiative WHERE gemeentecode = :g "
                                   "GROUP BY buurtcode"), {"g": BAARN}).all()
    assert sum(n for _code, n in placed) >= 2  # (the third point may lie just over the border)
    assert {u["code"]: u["n_initiatives"] for u in units if u["n_initiatives"]} == dict(placed)
    assert any(u["n_nearby"] > 0 and u["n_initiatives"] == 0 for u in units)  # neighbours within 1,000 m


def test_moving_unpublishing_and_deleting_redo_only_the_units_nearby(fresh_db_url, engine_for):
    engine = engine_for(fresh_db_url)
    with engine.begin() as conn:
        ids = [make_initiative(conn, lon=lon, lat=lat) for lon, lat in (BAARN_CENTRE, AMSTERDAM_DAM)]
    _refresh(engine)
    total = _units_total(engine)
    writes = [
        ("UPDATE initiative SET location = ST_Translate(location, 3000, -2000) WHERE id = :id", ids[0]),
        ("UPDATE initiative SET status = 'archived' WHERE id = :id", ids[1]),
        ("UPDATE initiative SET status = 'published' WHERE id = :id", ids[1]),
        ("DELETE FROM initiative WHERE id = :id", ids[0]),
    ]
    for sql, initiative_id in writes:
        with engine.begin() as conn:
            conn.execute(text(sql), {"id": initiative_id})
        result = _refresh(engine)
        assert result is not None and not result.full, sql
        assert 0 < result.units < total, sql
        with engine.connect() as conn:
            _assert_stored_equals_computed(conn)


def test_a_change_that_moves_no_published_point_marks_nothing(fresh_db_url, engine_for):
    engine = engine_for(fresh_db_url)
    with engine.begin() as conn:
        published = make_initiative(conn)
        pending = make_initiative(conn, status="pending", lon=5.30, lat=52.22)
    _refresh(engine)
    with engine.begin() as conn:
        conn.execute(text("UPDATE initiative SET name = 'Nieuwe naam', themes = '{wonen}' WHERE id = :id"),
                     {"id": published})
        conn.execute(text("UPDATE initiative SET location = ST_Translate(location, 500, 0) WHERE id = :id"),
                     {"id": pending})
        assert queries.stored_counts_are_fresh(conn)


def test_a_stale_table_is_never_read(fresh_db_url, engine_for):
    engine = engine_for(fresh_db_url)
    with engine.connect() as conn:
        before = {u["code"]: u for u in gap_units(conn, GapParams(), gemeente=BAARN)}
    with engine.begin() as conn:  # a writer that does not refresh (a script, a migration)
        make_initiative(conn)
    with engine.connect() as conn:
        assert not queries.stored_counts_are_fresh(conn)
        after = {u["code"]: u for u in gap_units(conn, GapParams(), gemeente=BAARN)}
    gained = {code for code in after if after[code]["n_initiatives"] > before[code]["n_initiatives"]}
    assert len(gained) == 1  # the new initiative counts at once, computed on the fly


def test_a_new_active_year_or_boundaries_rebuild_everything(fresh_db_url, engine_for):
    engine = engine_for(fresh_db_url)
    with engine.begin() as conn:
        make_initiative(conn)
    _refresh(engine)
    with engine.begin() as conn:
        conn.execute(text("UPDATE buurt SET geom = ST_Multi(ST_Translate(geom, 1, 0)) WHERE code = 'BU03080000'"))
    result = _refresh(engine)
    assert result is not None and result.full and result.units == _units_total(engine)
    with engine.connect() as conn:
        _assert_stored_equals_computed(conn)


def test_only_the_default_question_is_answered_from_the_table():
    assert queries.counts_are_stored_for(queries.STORED_WALK_M, (), ())
    assert not queries.counts_are_stored_for(500, (), ())
    assert not queries.counts_are_stored_for(queries.STORED_WALK_M, ("energiecooperatie",), ())
    assert not queries.counts_are_stored_for(queries.STORED_WALK_M, (), ("energie",))


def test_db_upgrade_brings_figures_left_stale_up_to_date(fresh_db_url, engine_for, runner_env):
    from click.testing import CliRunner

    from geoservice.cli import main

    engine = engine_for(fresh_db_url)
    with engine.begin() as conn:  # e.g. a script, or the migration that adds gap_counts: everything marked
        conn.execute(text("INSERT INTO gap_counts_stale (location, marked_xid) VALUES (NULL, txid_current())"))
        make_initiative(conn)
    result = CliRunner().invoke(main, ["db", "upgrade"], env=runner_env(fresh_db_url), catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert "opnieuw berekend" in result.output
    with engine.connect() as conn:
        _assert_stored_equals_computed(conn)
    quiet = CliRunner().invoke(main, ["db", "upgrade"], env=runner_env(fresh_db_url), catch_exceptions=False)
    assert "opnieuw berekend" not in quiet.output  # nothing marked: nothing done


def test_the_national_table_is_kept_per_data_version(fresh_db_url, engine_for):
    """The second ask of the national table reads only the data version; any write of map data renews it."""
    from sqlalchemy import event

    from geoservice.analysis.gaps import gemeente_summaries

    engine = engine_for(fresh_db_url)
    statements = []
    event.listen(engine, "before_cursor_execute", lambda *args: statements.append(args[2]))

    def national() -> tuple[dict[str, dict], int]:
        statements.clear()
        with engine.connect() as conn:
            rows = {r["gemeentecode"]: r for r in gemeente_summaries(conn, GapParams())}
        return rows, len(statements)

    first, made = national()
    again, read = national()
    assert again == first and read < made and read <= 4
    with engine.begin() as conn:
        make_initiative(conn)  # in Baarn; the import, moderation and demo bump the same data version
    after, _ = national()
    assert after[BAARN]["n_initiatives"] == first[BAARN]["n_initiatives"] + 1


def test_the_data_version_never_repeats_for_other_data_after_a_restore(fresh_db_url, engine_for):
    from geoservice.queries.common import data_version

    engine = engine_for(fresh_db_url)
    seen = []
    for _ in range(3):
        with engine.begin() as conn:
            seen.append(data_version(conn))
            make_initiative(conn)
    with engine.begin() as conn:  # what a restore of an older dump does to the row
        conn.execute(text("UPDATE data_version SET version = version - 2, changed_at = changed_at - interval '1 hour'"))
        seen.append(data_version(conn))
    for _ in range(2):
        with engine.begin() as conn:
            make_initiative(conn)
            # the trigger bumps it within the writing transaction; what readers see after the commit:
        with engine.connect() as conn:
            token = data_version(conn)
        assert token not in seen
        seen.append(token)
