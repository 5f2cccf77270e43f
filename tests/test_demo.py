"""`geoservice demo`: synthetic, marked, reproducible, and removable without touching real data."""

from click.testing import CliRunner
from sqlalchemy import text

from geoservice.cli import main

from .helpers import add_partner, make_initiative, scalar


def _demo_rows(url, engine_for):
    with engine_for(url).connect() as conn:
        return conn.execute(text(
            "SELECT external_id, name, kind, themes, ST_AsText(location), buurtcode, wijkcode, gemeentecode "
            "FROM initiative WHERE source = 'demo' ORDER BY external_id")).all()


def test_demo_loads_marked_data_once_and_clears_only_itself(fresh_db_url, runner_env, engine_for):
    with engine_for(fresh_db_url).begin() as conn:
        real = make_initiative(conn, name="Echt initiatief", source="import")
        add_partner(conn, "Echte partner")
    run = CliRunner().invoke
    first = run(main, ["demo"], env=runner_env(fresh_db_url))
    assert first.exit_code == 0, first.output
    assert "400 initiatieven, 7 partners" in first.output
    assert scalar(fresh_db_url, "SELECT count(*) FROM initiative WHERE source = 'demo' "
                                "AND name LIKE '%(voorbeeld)' AND description LIKE 'Voorbeelddata%'") == 400
    assert scalar(fresh_db_url, "SELECT count(*) FROM partner WHERE source = 'demo' AND name LIKE '%(voorbeeld)'") == 7
    # spread by population: Baarn and Amsterdam in detail, every initiative inside a gemeente
    assert scalar(fresh_db_url, "SELECT count(*) FROM initiative WHERE source = 'demo' AND gemeentecode = 'GM0308' "
                                "AND buurtcode IS NOT NULL") == 40
    assert scalar(fresh_db_url, "SELECT count(*) FROM initiative WHERE source = 'demo' AND gemeentecode IS NULL") == 0
    assert scalar(fresh_db_url, "SELECT count(*) FROM service_area sa JOIN partner p ON p.id = sa.partner_id "
                                "WHERE p.source = 'demo'") == 8

    # themes come with the demo partners: a fund for energy plans in Baarn, a network for every theme
    assert scalar(fresh_db_url, "SELECT themes FROM partner WHERE external_id = 'demo-energiefonds-baarn'") == [
        "energie_klimaat"]
    assert scalar(fresh_db_url, "SELECT themes FROM partner WHERE external_id = 'demo-netwerk-centrum'") == []

    rows = _demo_rows(fresh_db_url, engine_for)
    again = run(main, ["demo"], env=runner_env(fresh_db_url))
    assert "staat er al" in again.output and _demo_rows(fresh_db_url, engine_for) == rows

    cleared = run(main, ["demo", "--clear"], env=runner_env(fresh_db_url))
    assert "400 initiatieven, 7 partners" in cleared.output
    assert scalar(fresh_db_url, "SELECT count(*) FROM initiative") == 1
    assert scalar(fresh_db_url, "SELECT id FROM initiative") == real
    assert scalar(fresh_db_url, "SELECT name FROM partner") == "Echte partner"
    assert scalar(fresh_db_url, "SELECT count(*) FROM service_area") == 0

    # the same seed gives the same data set
    run(main, ["demo"], env=runner_env(fresh_db_url))
    assert _demo_rows(fresh_db_url, engine_for) == rows


def test_clearing_the_demo_keeps_the_stored_gap_coverage_current(fresh_db_url, engine_for):
    from geoservice.demo import clear_demo, load_demo
    from geoservice.queries.gaps import stored_coverage_is_fresh

    engine = engine_for(fresh_db_url)
    load_demo(engine)
    with engine.connect() as conn:
        assert conn.execute(text("SELECT max(coverage) FROM gap_coverage")).scalar() > 0
    clear_demo(engine)
    with engine.connect() as conn:
        # the demo partners' service areas are gone, and so is the coverage they gave
        assert stored_coverage_is_fresh(conn)
        assert conn.execute(text("SELECT coalesce(max(coverage), 0) FROM gap_coverage")).scalar() == 0
