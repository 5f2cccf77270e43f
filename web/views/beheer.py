"""Moderators (`/beheer`): pending submissions with possible duplicates, stale initiatives, and per initiative
its details, the submitter's private contact, an edit form, the actions and the audit log."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from flask import flash, get_flashed_messages, redirect, render_template, request, url_for

from geoservice.auth import current_user, login_required, safe_next
from geoservice.db import get_session, retrying
from geoservice.errors import GeoserviceError, NotFound
from geoservice.registry import corrections, moderation, submissions
from geoservice.vocab import INITIATIVE_KINDS, PRECISIONS, STATUSES, THEMES

from .. import maps, pages
from .submit import form_values, point_map

LIST_LIMIT = 100  # per list on /beheer; the oldest first, so the list empties as they are handled
MODERATORS = ("moderator",)  # admins pass every role check
LOCAL_TIME = ZoneInfo("Europe/Amsterdam")
# Dutch URL words for the actions of geoservice.registry.moderation, and what the page says after each.
ACTIONS = {"publiceren": "publish", "afwijzen": "reject", "archiveren": "archive", "gecontroleerd": "verify"}
DONE = {"publish": "Gepubliceerd: het initiatief staat nu op de kaart.", "reject": "Afgewezen.",
        "archive": "Gearchiveerd: het initiatief staat niet meer op de kaart.",
        "verify": "Gemarkeerd als gecontroleerd (vandaag).", "edit": "Wijzigingen opgeslagen."}
ACTION_LABELS = {"submit": "Aangemeld", "publish": "Gepubliceerd", "reject": "Afgewezen", "archive": "Gearchiveerd",
                 "verify": "Gecontroleerd", "edit": "Bewerkt"}
CHANGE_LABELS = {**submissions.LABELS, "status": "Status", "last_verified": "Laatst gecontroleerd",
                 "location": "Plek", "location_precision": "Precisie van de plek", "gemeentecode": "Gemeente",
                 "wijkcode": "Wijk", "buurtcode": "Buurt"}
DUPLICATE_REASONS = {"same_name": "zelfde naam", "similar_name": "lijkt op de naam"}
EDIT_FIELDS = (*submissions.FIELDS, *submissions.POINT_FIELDS)


def local_time(moment: dt.datetime | None) -> str:
    return "" if moment is None else moment.astimezone(LOCAL_TIME).strftime("%d-%m-%Y %H:%M")


def shown(name: str, value) -> str:
    """An audit value as text: labels for kinds, themes and statuses; a point as 'lat, lon'."""
    if value is None or value == []:
        return "(leeg)"
    if name == "kind":
        return INITIATIVE_KINDS.get(value, value)
    if name == "themes" and isinstance(value, list):
        return ", ".join(THEMES.get(t, t) for t in value)
    if name == "status":
        return STATUSES.get(value, value)
    if name == "location_precision":
        return PRECISIONS.get(value, value)
    if name == "location" and isinstance(value, dict):
        return f"{value.get('lat')}, {value.get('lon')}"
    return str(value)


def audit_rows(entries: list[dict]) -> list[dict]:
    """The audit log as the page shows it: when, who, what, and each change as (label, old, new)."""
    return [{"at": local_time(e["at"]), "actor": e["actor"], "action": ACTION_LABELS.get(e["action"], e["action"]),
             "reason": e["reason"],
             "changes": [(CHANGE_LABELS.get(name, name), shown(name, pair[0]), shown(name, pair[1]))
                         for name, pair in (e["changes"] or {}).items()]}
            for e in entries]


def edit_values(item: dict) -> dict:
    """The edit form filled in with the initiative as stored."""
    values = {name: item[name] or "" for name in submissions.FIELDS if name != "themes"}
    values["themes"] = list(item["themes"] or [])
    values["lat"], values["lon"] = f"{item['lat']:.6f}", f"{item['lon']:.6f}"
    return values


def render_item(item: dict, *, values: dict | None = None, problems: dict | None = None,
                error: str | None = None, reason: str = ""):
    session = get_session()
    flags = moderation.duplicates(session, [item])[item["id"]] if item["status"] == "pending" else []
    values = values or edit_values(item)
    return render_template(
        "beheer_initiatief.html", item=item, duplicates=flags, reasons=DUPLICATE_REASONS,
        history=audit_rows(moderation.history(session, item["id"])), values=values, problems=problems or {},
        error=error, reason=reason, messages=get_flashed_messages(), labels=submissions.LABELS,
        kinds=INITIATIVE_KINDS, themes=THEMES, statuses=STATUSES, precisions=PRECISIONS,
        submitted=local_time(item.get("submitted_at")),
        map=point_map("bewerk-form", values.get("lat", ""), values.get("lon", "")),
        assets=maps.asset_urls(), map_config=maps.map_config())


@pages.get("/beheer")
@login_required(*MODERATORS, "partner_editor")
def beheer():
    if current_user().role == "partner_editor":  # their part of /beheer is their own partner
        return redirect(url_for("web.mijn_partner"))
    session = get_session()
    n_pending, pending = moderation.pending(session, limit=LIST_LIMIT)
    n_stale, stale = moderation.stale(session, limit=LIST_LIMIT)
    n_reports, reports = corrections.open_reports(session, limit=LIST_LIMIT)
    return render_template(
        "beheer.html", pending=pending, n_pending=n_pending, stale=stale, n_stale=n_stale,
        reports=reports, n_reports=n_reports, local_time=local_time,
        cutoff=moderation.stale_cutoff(), months=moderation.STALE_AFTER_MONTHS, reasons=DUPLICATE_REASONS,
        submitted=lambda item: local_time(item.get("submitted_at") or item.get("created_at")),
        messages=get_flashed_messages())


@pages.get("/beheer/initiatief/<int:initiative_id>")
@login_required(*MODERATORS)
def beheer_initiatief(initiative_id: int):
    return render_item(moderation.get(get_session(), initiative_id))


@pages.post("/beheer/initiatief/<int:initiative_id>/bewerken")
@login_required(*MODERATORS)
def beheer_bewerken(initiative_id: int):
    session = get_session()
    values = form_values(request.form)
    raw = {name: values[name] for name in EDIT_FIELDS if name != "themes"}
    raw["themes"] = request.form.getlist("themes")
    try:
        _item, changes = retrying(session, lambda s: moderation.edit(s, initiative_id, current_user(), raw))
    except NotFound:
        raise
    except submissions.SubmissionInvalid as exc:
        session.rollback()
        return render_item(moderation.get(session, initiative_id), values=values, problems=exc.problems), 400
    except GeoserviceError as exc:
        session.rollback()
        return render_item(moderation.get(session, initiative_id), values=values, error=exc.description), exc.status
    flash(DONE["edit"] if changes else "Er was niets veranderd.")
    return redirect(url_for("web.beheer_initiatief", initiative_id=initiative_id), code=303)


@pages.post("/beheer/initiatief/<int:initiative_id>/<word>")
@login_required(*MODERATORS)
def beheer_handeling(initiative_id: int, word: str):
    action = ACTIONS.get(word)
    if action is None:
        raise NotFound(f"Onbekende handeling '{word[:30]}'.")
    session = get_session()
    reason = request.form.get("reason", "")[:moderation.REASON_MAX + 1]
    try:
        retrying(session, lambda s: moderation.apply(s, action, initiative_id, current_user(), reason=reason))
    except NotFound:
        raise
    except GeoserviceError as exc:  # no reason given, or the action does not fit the status
        session.rollback()
        return render_item(moderation.get(session, initiative_id), error=exc.description, reason=reason), exc.status
    flash(DONE[action])
    default = url_for("web.beheer_initiatief", initiative_id=initiative_id)
    return redirect(safe_next(request.form.get("next"), default), code=303)
