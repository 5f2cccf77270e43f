"""`geoservice import initiatives` and `geoservice export initiatives`."""

import click


@click.command("initiatives")
def import_initiatives() -> None:
    """Import initiatives from CSV or GeoJSON (being built)."""
    raise click.ClickException("nog niet beschikbaar")


@click.command("initiatives")
def export_initiatives() -> None:
    """Export initiatives as CSV, GeoJSON or HSDS (being built)."""
    raise click.ClickException("nog niet beschikbaar")
