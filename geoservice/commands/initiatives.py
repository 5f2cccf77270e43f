"""`geoservice import initiatives` and `geoservice export initiatives`."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from ..errors import ImportRefused

STATUS_CHOICES = ("pending", "published", "archived", "rejected", "all")


def _to_stderr(message: str) -> None:
    click.echo(message, err=True)


@click.command("initiatives")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--source", metavar="NAME",
              help="Name of the data source; re-imports match initiatives on source + id (default: the file name "
                   "without extension).")
@click.option("--default-kind", metavar="KIND", help="Kind for rows without one (a key or Dutch label).")
@click.option("--default-themes", metavar="T1;T2",
              help="Themes for rows without any (';'-separated keys or Dutch labels).")
@click.option("--dry-run", is_flag=True, help="Validate and report what would change; write nothing.")
@click.option("--skip-invalid", is_flag=True,
              help="Import the valid rows and report the others (default: any invalid row stops the import).")
@click.option("--sheet", metavar="NAME", help="The worksheet of an .xlsx file to read (default: the first).")
def import_initiatives(file: Path, source, default_kind, default_themes, dry_run, skip_invalid, sheet) -> None:
    """Import initiatives from CSV (';', ',' or tab; UTF-8 or Windows-1252), Excel (.xlsx), GeoJSON or HSDS 3.0
    JSON; re-importing the same file changes nothing.

    Rows are numbered as in the spreadsheet (the header is row 1); GeoJSON features and HSDS
    organizations from 1.
    """
    from .. import db as dbmod
    from ._database import ensure_database
    from ..config import Settings
    from ..imports.initiatives import parse_defaults
    from ..imports.initiatives import import_initiatives as run_import

    if not file.is_file():
        raise click.BadParameter(f"{file} bestaat niet of is geen bestand.", param_hint="FILE")
    try:
        defaults = parse_defaults(default_kind, default_themes)
    except ImportRefused as exc:
        raise click.BadParameter(exc.description, param_hint="--default-kind / --default-themes") from None
    settings = Settings.from_env()
    engine = dbmod.make_engine(ensure_database(settings))
    click.echo(f"Inlezen: {file}" + (" (proefdraai)" if dry_run else ""))
    try:
        report = run_import(engine, file, source=source, defaults=defaults, dry_run=dry_run,
                            skip_invalid=skip_invalid, settings=settings, progress=click.echo,
                            sheet=sheet)
    finally:
        engine.dispose()
    for line in report.lines():
        click.echo(line)
    if report.problems and not skip_invalid:
        click.echo("Niets opgeslagen: verbeter de rijen hierboven, of importeer de goede rijen met --skip-invalid.",
                   err=True)
        sys.exit(1)


@click.command("initiatives")
@click.option("--format", "fmt", type=click.Choice(("csv", "xlsx", "geojson", "hsds")), required=True,
              help="csv, xlsx (Excel, the same columns), geojson (RFC 7946, lon/lat) or hsds (Open Referral HSDS "
                   "3.0 JSON).")
@click.option("--output", type=click.Path(dir_okay=False, writable=True, path_type=Path),
              help="File to write (default: standard output).")
@click.option("--status", "statuses", type=click.Choice(STATUS_CHOICES), multiple=True,
              help="Only initiatives with this status (repeatable; 'all' for every status; default: published).")
def export_initiatives(fmt: str, output: Path | None, statuses: tuple[str, ...]) -> None:
    """Export initiatives as CSV, Excel, GeoJSON or HSDS (published ones unless --status says otherwise)."""
    from .. import db as dbmod
    from ..config import Settings
    from ..registry.exports import render, select_initiatives, statuses_for
    from ._database import ensure_database

    engine = dbmod.make_engine(ensure_database(Settings.from_env(), echo=_to_stderr))
    try:
        with engine.connect() as conn:
            rows = select_initiatives(conn, statuses_for(statuses))
    finally:
        engine.dispose()
    text = render(rows, fmt)
    if isinstance(text, bytes):
        if output is None:
            if sys.stdout.isatty():
                raise click.UsageError("Een Excel-bestand schrijf je naar een bestand: geef --output FILE.xlsx.")
            click.get_binary_stream("stdout").write(text)
            return
        try:
            output.write_bytes(text)
        except OSError as exc:
            raise click.ClickException(f"{output} kan niet worden geschreven: {exc.strerror or exc}.") from None
        _to_stderr(f"{len(rows)} initiatieven geschreven naar {output}")
        return
    if output is None:
        click.echo(text, nl=False)
        return
    # A byte order mark lets spreadsheet programs recognise UTF-8 CSV (the import accepts it too).
    encoding = "utf-8-sig" if fmt == "csv" else "utf-8"
    try:
        output.write_text(text, encoding=encoding, newline="")
    except OSError as exc:
        raise click.ClickException(f"{output} kan niet worden geschreven: {exc.strerror or exc}.") from None
    _to_stderr(f"{len(rows)} initiatieven geschreven naar {output}")
