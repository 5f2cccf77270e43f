"""`geoservice demo [--clear]`."""

import click


@click.command("demo")
def demo() -> None:
    """Load (or with --clear remove) the demo data set (being built)."""
    raise click.ClickException("nog niet beschikbaar")
