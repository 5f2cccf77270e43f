"""`geoservice import partners`."""

from __future__ import annotations

import sys
from pathlib import Path

import click


@click.command("partners")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--dry-run", is_flag=True, help="Validate, build the service areas and report what would change; "
                                              "write nothing.")
def import_partners(file: Path, dry_run: bool) -> None:
    """Import partners and their service areas from YAML or JSON; re-importing the same file changes nothing.

    Service areas are given by CBS codes, by a point with radius_m, or by a GeoJSON polygon (WGS84).
    Any invalid partner or service area stops the import: then nothing is saved.
    """
    from .. import db as dbmod
    from ._database import ensure_database
    from ..config import Settings
    from ..imports.partners import import_partners as run_import

    if not file.is_file():
        raise click.BadParameter(f"{file} bestaat niet of is geen bestand.", param_hint="FILE")
    engine = dbmod.make_engine(ensure_database(Settings.from_env()))
    click.echo(f"Inlezen: {file}" + (" (proefdraai)" if dry_run else ""))
    try:
        report = run_import(engine, file, dry_run=dry_run, progress=click.echo)
    finally:
        engine.dispose()
    for line in report.lines():
        click.echo(line)
    if report.problems:
        click.echo("Niets opgeslagen: verbeter de partners hierboven en importeer het bestand opnieuw.", err=True)
        sys.exit(1)
