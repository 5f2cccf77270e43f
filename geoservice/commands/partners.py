"""`geoservice import partners` and `geoservice export partners`."""

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


@click.command("partners")
@click.option("--format", "fmt", type=click.Choice(("yaml", "json")), default="yaml", show_default=True,
              help="yaml or json: the format `geoservice import partners` reads.")
@click.option("--output", type=click.Path(dir_okay=False, writable=True, path_type=Path),
              help="File to write (default: standard output).")
@click.option("--with-demo", is_flag=True, help="Also the demo partners (source=demo, names end in '(voorbeeld)').")
def export_partners(fmt: str, output: Path | None, with_demo: bool) -> None:
    """Export partners with their themes, contact and service-area definitions, as an import file.

    Importing the file again changes nothing; edit it and import it to change partners in bulk.
    """
    from .. import db as dbmod
    from ._database import ensure_database
    from ..config import Settings
    from ..partners.export import partner_documents, render

    # anything the database start says goes to stderr: stdout is the file
    engine = dbmod.make_engine(ensure_database(Settings.from_env(), echo=lambda m: click.echo(m, err=True)))
    try:
        with engine.connect() as conn:
            partners = partner_documents(conn, with_demo=with_demo)
    finally:
        engine.dispose()
    text = render(partners, fmt)
    if output is None:
        click.echo(text, nl=False)
        return
    try:
        output.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise click.ClickException(f"{output} kan niet worden geschreven: {exc.strerror or exc}.") from None
    click.echo(f"{len(partners)} partners geschreven naar {output}", err=True)
