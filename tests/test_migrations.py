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
