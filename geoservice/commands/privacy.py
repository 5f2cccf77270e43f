"""`geoservice forget-contacts`: what the privacy statement promises, on a schedule (cron) and at every `serve`."""

from __future__ import annotations

import click


def forget_old_contacts(url: str) -> int:
    """Remove the private contacts decided longer ago than the statement's term; the number of rows touched."""
    from sqlalchemy.orm import Session

    from .. import db
    from ..registry import corrections

    engine = db.make_engine(url)
    try:
        with Session(engine) as session, session.begin():
            return corrections.forget_old_contacts(session)
    finally:
        engine.dispose()


def said(gone: int) -> str:
    from ..registry.corrections import KEEP_CONTACT_DAYS

    what = "1 aanmelding of melding" if gone == 1 else f"{gone} aanmeldingen en meldingen"
    return (f"Contactgegevens verwijderd van {what} die meer dan {round(KEEP_CONTACT_DAYS / 30.4)} maanden "
            "geleden zijn afgehandeld.")


@click.command("forget-contacts")
def forget_contacts() -> None:
    """Remove private contact details past the privacy statement's term (run daily, e.g. from cron).

    Submissions and reports lose their contact a year after they were decided. The service also does this on
    every submission, decision and `serve`, but a quiet site needs the schedule to keep the promise.
    """
    from ._database import current_settings, ensure_database

    gone = forget_old_contacts(ensure_database(current_settings(), echo=lambda m: click.echo(m, err=True)))
    click.echo(said(gone) if gone else "Geen contactgegevens om te verwijderen.")
