"""Alembic environment: online migrations against the configured URL."""

from alembic import context
from sqlalchemy import create_engine, pool

from geoservice.models import Base

config = context.config


def _ours(obj, name, type_, reflected, compare_to) -> bool:
    # PostGIS's own tables are not part of our schema.
    return not (type_ == "table" and name == "spatial_ref_sys")


def run_migrations_online() -> None:
    engine = create_engine(config.get_main_option("sqlalchemy.url"), poolclass=pool.NullPool)
    with engine.connect() as connection:
        context.configure(connection=connection, target_metadata=Base.metadata,
                          include_object=_ours)
        with context.begin_transaction():
            context.run_migrations()
    engine.dispose()


if context.is_offline_mode():
    raise SystemExit("geoservice migrations run online only: use `geoservice db upgrade`")
run_migrations_online()
