"""The Alembic migrations build exactly the schema the models describe."""

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import select

from geoservice.models import Base, Initiative

from .helpers import make_initiative


def test_models_and_migrations_agree(engine_for, shared_db_url):
    def ours(obj, name, type_, reflected, compare_to):
        return not (type_ == "table" and name == "spatial_ref_sys")

    with engine_for(shared_db_url).connect() as conn:
        context = MigrationContext.configure(conn, opts={"include_object": ours})
        assert compare_metadata(context, Base.metadata) == []


def test_initiative_areas_are_derived_and_follow_a_new_cbs_load(engine_for, fresh_db_url):
    from geoservice.cbs.loader import load_cbs

    from .helpers import DATA

    engine = engine_for(fresh_db_url)
    with engine.begin() as conn:
        new_id = make_initiative(conn, lon=4.8926, lat=52.3731)  # Dam, Amsterdam
        codes = conn.execute(select(Initiative.buurtcode, Initiative.wijkcode, Initiative.gemeentecode)
                             .where(Initiative.id == new_id)).one()
        assert tuple(codes) == ("BU0363AD05", "WK0363AD", "GM0363")
        # Pretend the codes were stale (e.g. derived from an older year) …
        conn.execute(Initiative.__table__.update().values(buurtcode=None, wijkcode=None, gemeentecode=None))
    # … a CBS load re-derives them.
    load_cbs(engine, [DATA / "buurten_2024_amsterdam.gpkg"])
    with engine.connect() as conn:
        assert conn.execute(select(Initiative.buurtcode).where(Initiative.id == new_id)).scalar() == "BU0363AD05"


def test_one_head_and_accounts_migration_down_and_up(empty_db_url, engine_for):
    """0005_accounts: its tables come and go, and a 'rejected' initiative survives a downgrade as 'archived'."""
    from alembic import command
    from alembic.script import ScriptDirectory
    from sqlalchemy import inspect, text

    from geoservice import db

    config = db.alembic_config(empty_db_url)
    script = ScriptDirectory.from_config(config)
    assert len(script.get_heads()) == 1
    before = script.get_revision("0005_accounts").down_revision
    engine = engine_for(empty_db_url)
    with engine.begin() as conn:
        rejected = make_initiative(conn, status="rejected")
        conn.execute(text("INSERT INTO app_user (email, password_hash, role) VALUES ('a@example.nl', 'x', 'admin')"))
    command.downgrade(config, before)
    engine.dispose()
    tables = set(inspect(engine).get_table_names())
    assert not tables & {"app_user", "api_token", "audit_log", "submission_contact"}
    with engine.connect() as conn:
        assert conn.execute(select(Initiative.status).where(Initiative.id == rejected)).scalar() == "archived"
    db.upgrade(empty_db_url)
    assert db.current_revision(empty_db_url) == script.get_current_head()
    with engine.begin() as conn:
        conn.execute(Initiative.__table__.update().where(Initiative.id == rejected).values(status="rejected"))


def test_gap_coverage_migration_down_and_up(empty_db_url, engine_for):
    """0004_gap_coverage: its tables, trigger functions and triggers come and go; a fresh one starts stale."""
    from alembic import command
    from sqlalchemy import inspect, text

    from geoservice import db
    from geoservice.queries.gaps import EVERYTHING

    objects = text("SELECT (SELECT count(*) FROM pg_trigger WHERE tgname LIKE '%gap_coverage%'), "
                   "(SELECT count(*) FROM pg_proc WHERE proname LIKE 'gap_coverage_mark%')")
    config = db.alembic_config(empty_db_url)
    engine = engine_for(empty_db_url)
    with engine.connect() as conn:
        assert tuple(conn.execute(objects).one()) == (15, 2)
        assert conn.execute(text("SELECT service_area_id FROM gap_coverage_stale")).scalars().all() == [EVERYTHING]
    command.downgrade(config, "0004_gap_coverage-1")
    engine.dispose()
    assert not set(inspect(engine).get_table_names()) & {"gap_overlap", "gap_coverage", "gap_coverage_stale"}
    with engine.connect() as conn:
        assert tuple(conn.execute(objects).one()) == (0, 0)
    db.upgrade(empty_db_url)
    with engine.connect() as conn:
        assert tuple(conn.execute(objects).one()) == (15, 2)


def test_data_version_migration_down_and_up(empty_db_url, engine_for):
    """0006_data_version: its table, function and seven triggers come and go; a write bumps the version."""
    from alembic import command
    from sqlalchemy import inspect, text

    from geoservice import db

    objects = text("SELECT (SELECT count(*) FROM pg_trigger WHERE tgname LIKE '%\\_data\\_version'), "
                   "(SELECT count(*) FROM pg_proc WHERE proname = 'data_version_bump')")
    config = db.alembic_config(empty_db_url)
    engine = engine_for(empty_db_url)
    with engine.begin() as conn:
        assert tuple(conn.execute(objects).one()) == (7, 1)
        before = conn.execute(text("SELECT version FROM data_version")).scalar_one()
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO cbs_jaar (jaar, is_active) VALUES (2030, false)"))
        conn.execute(text("DELETE FROM cbs_jaar WHERE jaar = 2030"))
    with engine.connect() as conn:
        assert conn.execute(text("SELECT version FROM data_version")).scalar_one() == before + 1
    command.downgrade(config, "0006_data_version-1")
    engine.dispose()
    assert "data_version" not in inspect(engine).get_table_names()
    with engine.connect() as conn:
        assert tuple(conn.execute(objects).one()) == (0, 0)
    db.upgrade(empty_db_url)
    with engine.connect() as conn:
        assert tuple(conn.execute(objects).one()) == (7, 1)
