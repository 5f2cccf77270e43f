"""Anyone: "Klopt er iets niet?" (`/initiatief/<id>/melden`, `/melden`); moderators handle the reports on /beheer.

A report changes nothing public until a moderator has corrected the initiative and accepted the report.
"""

from __future__ import annotations

from flask import current_app, flash, redirect, render_template, request, session, url_for

from geoservice.auth import current_user, login_required
from geoservice.db import get_session
from geoservice.errors import GeoserviceError, NotFound
from geoservice.queries import initiatives as initiative_queries
from geoservice.registry import corrections, submissions
from geoservice.serving import ratelimit

from .. import pages
from .submit import HONEYPOT

RECEIVED = "melding_ontvangen"  # the session key that lets /melden/ontvangen thank you, once
WORDS = {"verwerkt": "accepted", "afgewezen": "rejected"}
DONE = {"accepted": "Melding verwerkt.", "rejected": "Melding afgewezen."}


def published(initiative_id: int) -> dict:
    item = initiative_queries.get_initiative(get_session(), initiative_id)
    if item is None:
        raise NotFound(f"Er is geen initiatief met nummer {initiative_id}. Misschien is het verwijderd, "
                       f"of nog niet gepubliceerd.")
    return item


def report(item: dict | None):
    """The form (GET) or its handling (POST), about `item` or (None) about the site."""
    action = (url_for("web.melden_initiatief", initiative_id=item["id"]) if item else url_for("web.melden"))
    values = {name: (request.form.get(name) or "")[:corrections.MESSAGE_MAX + 1]
              for name in ("message", "contact_name", "contact_email")}

    def form(problems=None, error=None, status=200):
        return render_template("melden.html", item=item, action=action, values=values, problems=problems or {},
                               error=error, labels=corrections.LABELS, honeypot=HONEYPOT,
                               limit=corrections.MESSAGE_MAX), status

    if request.method == "GET":
        return form()
    summary = {"about": item["name"] if item else "de website", "message": values["message"].strip()[:500]}
    if request.form.get(HONEYPOT, "").strip():  # a bot: the same answer as a person, nothing stored
        session[RECEIVED] = summary
        return redirect(url_for("web.melding_ontvangen"), code=303)
    try:
        corrections.check(values["message"], values["contact_name"], values["contact_email"])
        ratelimit.enforce(ratelimit.SUBMIT)
        db_session = get_session()
        client = submissions.hash_client(current_app.secret_key, ratelimit.current_client())
        corrections.submit(db_session, item["id"] if item else None, values["message"], values["contact_name"],
                           values["contact_email"], client)
        db_session.commit()
    except corrections.CorrectionInvalid as exc:
        return form(problems=exc.problems, status=400)
    except NotFound:
        raise
    except GeoserviceError as exc:
        return form(error=exc.description, status=exc.status)
    session[RECEIVED] = summary
    return redirect(url_for("web.melding_ontvangen"), code=303)


@pages.route("/initiatief/<int:initiative_id>/melden", methods=["GET", "POST"])
def melden_initiatief(initiative_id: int):
    return report(published(initiative_id))


@pages.route("/melden", methods=["GET", "POST"])
def melden():
    return report(None)


@pages.get("/melden/ontvangen")
def melding_ontvangen():
    summary = session.pop(RECEIVED, None)
    if summary is None:  # nothing was just sent
        return redirect(url_for("web.melden"), code=303)
    return render_template("melding_ontvangen.html", summary=summary)


@pages.post("/beheer/melding/<int:correction_id>/<word>")
@login_required("moderator")
def beheer_melding(correction_id: int, word: str):
    status = WORDS.get(word)
    if status is None:
        raise NotFound(f"Onbekende handeling '{word[:30]}'.")
    db_session = get_session()
    try:
        corrections.decide(db_session, correction_id, status, current_user())
        db_session.commit()
    except NotFound:
        raise
    except GeoserviceError as exc:
        db_session.rollback()
        flash(exc.description)
        return redirect(url_for("web.beheer", _anchor="meldingen-title"), code=303)
    flash(DONE[status])
    return redirect(url_for("web.beheer", _anchor="meldingen-title"), code=303)
