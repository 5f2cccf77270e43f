"""`geoservice demo [--clear]`: the synthetic example data a newcomer sees first."""

from __future__ import annotations

import click


@click.command("demo")
@click.option("--clear", is_flag=True, help="Remove the demo data (source=demo) instead of loading it.")
@click.option("--seed", type=int, default=2024, show_default=True, help="Random seed of the generator.")
def demo(clear: bool, seed: int) -> None:
    """Load a demo set of initiatives and partners (all marked 'voorbeeld'); idempotent."""
    from .. import db
    from ._database import current_settings, ensure_database
    from ..demo import clear_demo, load_demo

    engine = db.make_engine(ensure_database(current_settings()))
    try:
        if clear:
            removed = clear_demo(engine)
            click.echo(f"Voorbeelddata verwijderd: {removed['initiatives']} initiatieven, "
                       f"{removed['partners']} partners.")
            return
        loaded = load_demo(engine, seed=seed)
        if loaded is None:
            click.echo("Voorbeelddata staat er al (geoservice demo --clear haalt die weg).")
        else:
            click.echo(f"Voorbeelddata geladen: {loaded['initiatives']} initiatieven, "
                       f"{loaded['partners']} partners (alles gemarkeerd als voorbeeld).")
    finally:
        engine.dispose()
