"""`geoservice load-cbs-figures FILE`: CBS figures from a table (CSV or XLSX) onto the areas already loaded."""

from __future__ import annotations

import time
from pathlib import Path

import click


@click.command("load-cbs-figures")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--year", type=click.IntRange(1990, 2100),
              help="CBS year of the areas to complete (default: the active year); its boundaries must be loaded.")
@click.option("--dry-run", is_flag=True, help="Read, check and report what would change; write nothing.")
@click.option("--map", "maps", multiple=True, metavar="COLUMN=FIELD",
              help="Read COLUMN as the figure FIELD (e.g. Inw=aantal_inwoners), or as the area code (COLUMN=code); "
                   "repeatable.")
@click.option("--sheet", metavar="NAME", help="Excel workbooks: the worksheet to read (default: the first).")
def load_cbs_figures(file: Path, year: int | None, dry_run: bool, maps: tuple[str, ...], sheet: str | None) -> None:
    """Join a table of CBS figures onto the gemeenten, wijken and buurten of a year, by their CBS code.

    Reads CSV (',' or ';', UTF-8 or Windows-1252) and XLSX, e.g. a StatLine download of the Kerncijfers wijken
    en buurten. '.', an empty cell and CBS sentinels (-99995 and lower) mean "no figure": the stored value stays.
    One unreadable value refuses the whole file; a second run reports every area unchanged.
    """
    from .. import db as dbmod
    from ..cbs.figures import load_cbs_figures as load, parse_maps
    from ._database import current_settings, ensure_database

    if not file.is_file():
        raise click.BadParameter(f"{file} bestaat niet of is geen bestand.", param_hint="FILE")
    parsed = parse_maps(maps)
    engine = dbmod.make_engine(ensure_database(current_settings()))
    started = time.perf_counter()
    try:
        report = load(engine, file, year=year, dry_run=dry_run, maps=parsed, sheet=sheet, progress=click.echo)
    finally:
        engine.dispose()
    for line in report.lines():
        click.echo(line)
    click.echo(f"Klaar in {time.perf_counter() - started:.1f} s.")
