"""The database a command works on: settings from the environment, the embedded cluster started, schema current.

Every command imports these from here (not from cli.py, which imports the commands: no import cycle).
"""

from __future__ import annotations

import click

from ..config import Settings


def current_settings() -> Settings:
    """The service's settings, read from the environment (GEOSERVICE_…, DATABASE_URL)."""
    return Settings.from_env()


def ensure_database(settings: Settings, echo=click.echo) -> str:
    """The database URL, with the embedded cluster started and the schema up to date."""
    from .. import db
    from ..localdb import LocalCluster

    if settings.uses_embedded_db:
        cluster = LocalCluster(settings)
        if cluster.start():
            echo(f"Lokale PostGIS gestart in {cluster.datadir}")
        url = cluster.url()
    else:
        url = settings.database_url
    db.upgrade(url)
    _refresh_kept_figures(db, url, echo)
    return url


def _refresh_kept_figures(db, url: str, echo) -> None:
    """The gap analysis' figures kept on write, up to date: a migration that adds such a table marks it all
    stale, and a writer outside this service (a script, a restore) may have left marks. Nothing marked: a no-op."""
    from ..analysis.kept import refresh_all

    engine = db.make_engine(url)
    try:
        with engine.begin() as conn:
            refreshed = refresh_all(conn)
    finally:
        engine.dispose()
    if refreshed.full:
        echo("Kengetallen van de gebiedsanalyse opnieuw berekend.")
