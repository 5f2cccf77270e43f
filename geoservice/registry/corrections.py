"""Corrections: anyone reports that an initiative (or the site) is wrong; moderators accept or reject the report.

A report changes nothing public. It reaches the moderators as a submission does (listed on /beheer); a moderator
corrects the initiative with the usual (audited) edit and then marks the report accepted. No Flask here.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy.orm import Session

from ..accounts import User
from ..errors import InvalidParameter, NotFound
from ..queries import corrections as queries
from ..queries import initiatives as initiative_queries
from ..queries.moderation import durable
from .validation import Invalid, clean_email, clean_text

MESSAGE_MIN, MESSAGE_MAX = 10, 2000
KEEP_CONTACT_DAYS = 365  # private contact details are removed this long after the report or submission was decided
DECISIONS = {"accepted": "verwerkt", "rejected": "afgewezen"}
LABELS = {"message": "Wat klopt er niet?", "contact_name": "Je naam", "contact_email": "Je e-mailadres"}


class CorrectionInvalid(InvalidParameter):
    """One or more fields are wrong; `problems` maps each form field to its Dutch reason."""

    def __init__(self, problems: dict[str, str]):
        self.problems = dict(problems)
        listed = "; ".join(f"{LABELS.get(name, name)}: {reason}" for name, reason in self.problems.items())
        super().__init__(f"Niet alles is goed ingevuld. {listed}.")


def check(message: str | None, name: str | None, email: str | None) -> dict:
    """The clean report {message, contact_name, contact_email}, or CorrectionInvalid naming every wrong field."""
    values, problems = {}, {}
    text = (message or "").replace("\r\n", "\n").replace("\r", "\n").strip()
    if len(text) < MESSAGE_MIN:
        problems["message"] = f"schrijf in minstens {MESSAGE_MIN} tekens wat er niet klopt"
    else:
        try:
            values["message"] = clean_text(text, MESSAGE_MAX)
        except Invalid as exc:
            problems["message"] = str(exc)
    for field, raw, clean in (("contact_name", name, lambda v: clean_text(v, 200)),
                              ("contact_email", email, clean_email)):
        raw = (raw or "").strip()
        try:
            values[field] = clean(raw) if raw else None
        except Invalid as exc:
            problems[field] = str(exc)
    if problems:
        raise CorrectionInvalid(problems)
    return values


def submit(session: Session, initiative_id: int | None, message: str | None, name: str | None, email: str | None,
           client_hash: str | None, *, now: dt.datetime | None = None) -> int:
    """Store a report about a published initiative (or the site: None); returns its id. The caller commits,
    durably. Also forgets contact details that have been kept long enough."""
    values = check(message, name, email)
    if initiative_id is not None and initiative_queries.get_initiative(session, initiative_id) is None:
        raise NotFound(f"Er is geen gepubliceerd initiatief met nummer {initiative_id}.")
    durable(session)
    new_id = queries.insert_correction(session, initiative_id=initiative_id, client_hash=client_hash, **values)
    forget_old_contacts(session, now=now)
    return new_id


def forget_old_contacts(session: Session, *, now: dt.datetime | None = None) -> int:
    now = now or dt.datetime.now(dt.timezone.utc)
    return queries.forget_old_contacts(session, now - dt.timedelta(days=KEEP_CONTACT_DAYS))


def open_reports(session: Session, *, limit: int = 100, initiative_id: int | None = None) -> tuple[int, list[dict]]:
    return queries.open_corrections(session, limit=limit, initiative_id=initiative_id)


def decide(session: Session, correction_id: int, status: str, actor: User) -> dict:
    """Mark an open report accepted or rejected; NotFound, or InvalidParameter when it was already decided."""
    if status not in DECISIONS:
        raise ValueError(f"unknown decision {status!r}")
    found = queries.get_correction(session, correction_id, lock=True)
    if found is None:
        raise NotFound(f"Er is geen melding met nummer {correction_id}.")
    if found["status"] != "open":
        raise InvalidParameter(f"Deze melding is al {DECISIONS[found['status']]}.")
    queries.decide(session, correction_id, status, actor.id)
    forget_old_contacts(session)
    return found
