"""`geoservice import partners`."""

import click


@click.command("partners")
def import_partners() -> None:
    """Import partners and their service areas from YAML or JSON (being built)."""
    raise click.ClickException("nog niet beschikbaar")
