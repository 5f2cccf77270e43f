"""The `geoservice` command: thin click commands over the modules of the service."""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

import click

from .commands._database import current_settings, ensure_database
from .config import Settings
from .errors import GeoserviceError


class GeoserviceGroup(click.Group):
    """Prints domain errors as one clear line (in Dutch) instead of a traceback."""

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except GeoserviceError as exc:
            click.echo(f"Fout: {exc.description}", err=True)
            sys.exit(1)


@click.group(cls=GeoserviceGroup)
def main() -> None:
    """Samenkaart: initiatieven en hun ondersteuners op de kaart."""


@main.group()
def db() -> None:
    """Manage the database (the embedded PostGIS cluster when DATABASE_URL is not set)."""


def _cluster_or_explain(settings: Settings):
    from .localdb import LocalCluster

    if not settings.uses_embedded_db:
        click.echo("DATABASE_URL is gezet: de ingebouwde database wordt niet gebruikt.")
        return None
    return LocalCluster(settings)


@db.command("start")
def db_start() -> None:
    """Start the embedded PostGIS cluster (creating it on first use); safe to run twice."""
    cluster = _cluster_or_explain(current_settings())
    if cluster:
        started = cluster.start()
        click.echo(("Gestart" if started else "Draait al") + f": {cluster.datadir}")


@db.command("stop")
def db_stop() -> None:
    """Stop the embedded PostGIS cluster."""
    cluster = _cluster_or_explain(current_settings())
    if cluster:
        click.echo("Gestopt." if cluster.stop() else "Draaide niet.")


@db.command("status")
def db_status() -> None:
    """Show whether the database runs, where it lives and which CBS year is active."""
    settings = current_settings()
    if settings.uses_embedded_db:
        from .localdb import LocalCluster

        status = LocalCluster(settings).status()
        click.echo(f"ingebouwde database: {'draait' if status['running'] else 'gestopt'}")
        click.echo(f"map: {status['datadir']}")
        if not status["running"]:
            sys.exit(3)
        url = status["url"]
    else:
        url = settings.database_url
        click.echo("database: DATABASE_URL")
    from . import db as dbmod

    click.echo(f"schema-versie: {dbmod.current_revision(url) or 'leeg (geoservice db upgrade)'}")


@db.command("url")
def db_url() -> None:
    """Print the SQLAlchemy URL the service uses."""
    from .localdb import database_url

    click.echo(database_url(current_settings(), start=False))


@db.command("upgrade")
def db_upgrade() -> None:
    """Bring the schema up to date (Alembic); starts the embedded database if needed."""
    ensure_database(current_settings())
    click.echo("Schema is bijgewerkt.")


@db.command("dump")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--force", is_flag=True, help="Overwrite FILE when it exists.")
def db_dump(file: Path, force: bool) -> None:
    """Save all data to FILE (pg_dump, custom format); `db restore FILE` brings it back."""
    from . import backup
    from .localdb import database_url

    settings = current_settings()
    if file.exists() and not force:
        raise click.UsageError(f"{file} bestaat al; kies een andere naam of gebruik --force.")
    tools = backup.client_tools(settings.uses_embedded_db)
    summary = backup.dump(database_url(settings), file, tools, progress=click.echo)
    click.echo(f"Klaar in {summary.seconds:.1f} s: {summary.path} ({summary.size / 2**20:.1f} MiB, "
               f"{len(summary.tables)} tabellen, schema-versie {summary.revision}).")


@db.command("restore")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--yes", "-y", is_flag=True, help="Do not ask before replacing all current data.")
def db_restore(file: Path, yes: bool) -> None:
    """Replace all data with the dump in FILE, in one transaction: a refused or failed restore changes nothing."""
    from . import backup
    from .localdb import database_url

    settings = current_settings()
    tools = backup.client_tools(settings.uses_embedded_db)
    info = backup.inspect(file, tools)  # refuse a wrong file before asking anything
    click.echo(info.describe())
    url = database_url(settings)
    if not yes:
        click.confirm("Alle huidige gegevens worden vervangen door deze dump. Doorgaan?", abort=True)
    summary = backup.restore(url, file, tools, progress=click.echo, info=info)
    upgraded = f", schema bijgewerkt naar {summary.upgraded_to}" if summary.upgraded_to else ""
    click.echo(f"Teruggezet in {summary.seconds:.1f} s: {len(summary.rows)} tabellen, "
               f"{sum(summary.rows.values())} rijen{upgraded}.")


@main.command("load-cbs")
@click.argument("paths", nargs=-1, type=click.Path(dir_okay=True, path_type=Path))
@click.option("--year", type=click.IntRange(1990, 2100), help="CBS year, for files that do not say it themselves.")
@click.option("--from-pdok", is_flag=True, help="Fetch from the PDOK OGC API instead of files (needs --year).")
@click.option("--gemeente", "gemeenten", multiple=True, metavar="GM....",
              help="With --from-pdok: only this gemeente (repeatable).")
@click.option("--activate", is_flag=True, help="Make this year the active year even if a newer one is loaded.")
def load_cbs(paths, year, from_pdok, gemeenten, activate) -> None:
    """Load the CBS Wijk- en Buurtkaart (GeoPackage or GeoJSON); no PATH loads the shipped data."""
    from . import db as dbmod
    from .cbs import pdok
    from .cbs.loader import load_cbs as load, shipped_files
    from .params import parse_cbs_code

    settings = current_settings()
    if from_pdok and paths:
        raise click.UsageError("Geef bestanden óf --from-pdok, niet allebei.")
    if from_pdok and not year:
        raise click.UsageError("--from-pdok heeft --year nodig.")
    if gemeenten and not from_pdok:
        raise click.UsageError("--gemeente werkt alleen met --from-pdok.")
    codes = [parse_cbs_code(g).code for g in gemeenten]
    if any(not c.startswith("GM") for c in codes):
        raise click.UsageError("--gemeente verwacht een gemeentecode zoals GM0344.")
    url = ensure_database(settings)
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="geoservice-pdok-") as tmp:
        if from_pdok:
            click.echo(f"Ophalen bij PDOK ({settings.pdok_cbs_url.format(year=year)}) …")
            files = pdok.fetch(settings.pdok_cbs_url, year, Path(tmp), gemeenten=codes,
                               timeout=settings.http_timeout_s, progress=click.echo)
        else:
            files = []
            for path in paths or [settings.cbs_data_dir]:
                if not path.exists():
                    raise click.BadParameter(f"{path} bestaat niet.", param_hint="PATH")
                files += shipped_files(path) if path.is_dir() else [path]
        engine = dbmod.make_engine(url)
        try:
            summary = load(engine, files, year=year, activate=activate, progress=click.echo)
        finally:
            engine.dispose()
    click.echo(f"Klaar in {time.perf_counter() - started:.1f} s:")
    for line in summary.lines():
        click.echo("  " + line)


@main.group("import")
def import_group() -> None:
    """Import registry data (initiatives, partners) from files."""


@main.group("export")
def export_group() -> None:
    """Export registry data."""


def _register_registry_commands() -> None:
    from .commands import cbs_figures, demo, gaps, initiatives, outreach, partners

    import_group.add_command(initiatives.import_initiatives)
    import_group.add_command(partners.import_partners)
    export_group.add_command(initiatives.export_initiatives)
    export_group.add_command(partners.export_partners)
    main.add_command(cbs_figures.load_cbs_figures)
    main.add_command(demo.demo)
    main.add_command(gaps.gaps)
    main.add_command(outreach.outreach)
    from .commands import privacy, users

    main.add_command(users.users)
    main.add_command(users.tokens)
    main.add_command(privacy.forget_contacts)


_register_registry_commands()


@main.command("serve")
@click.option("--host", default=None, help="Address to listen on (default 127.0.0.1, or GEOSERVICE_HOST).")
@click.option("--port", type=click.IntRange(1, 65535), default=None, help="Port (default 5000, or GEOSERVICE_PORT).")
@click.option("--debug", is_flag=True, help="Reload on code changes and show debug pages (never in production).")
def serve(host, port, debug) -> None:
    """Serve the map and the API (starts the embedded database if needed)."""
    from . import create_app

    from .commands import privacy

    settings = current_settings()
    gone = privacy.forget_old_contacts(ensure_database(settings))
    if gone:
        click.echo(privacy.said(gone))
    settings = settings.with_(host=host or settings.host, port=port or settings.port)
    app = create_app(settings)
    click.echo(f"Samenkaart draait op http://{settings.host}:{settings.port}/")
    app.run(host=settings.host, port=settings.port, debug=debug, use_reloader=debug)


if __name__ == "__main__":
    main()
