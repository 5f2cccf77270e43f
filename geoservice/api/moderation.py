"""Submissions (public) and moderation (Bearer token of a moderator or admin) in the JSON API.

The submitter's private contact appears only in the answers of the moderator's endpoints.
"""

from __future__ import annotations

from flask import current_app, request

from ..auth import current_user, token_required
from ..db import get_session, retrying
from ..errors import InvalidParameter
from ..geocode import app_geocoder
from ..params import parse_int
from ..registry import moderation, submissions
from ..serving import ratelimit
from . import api
from .geojson import plain, respond

PAGE_LIMIT = {"default": 100, "minimum": 1, "maximum": 1000}
MAX_OFFSET = 10_000_000
MODERATORS = ("moderator",)  # admins pass every role check
SUBMISSION_MEMBERS = (*submissions.FIELDS, *submissions.POINT_FIELDS, "contact")
CONTACT_MEMBERS = ("name", "email", "phone")
RECEIVED = ("Ontvangen. Een moderator bekijkt de aanmelding, meestal binnen een week; daarna staat het initiatief "
            "op de kaart.")


def _json_object() -> dict:
    """The request body as a JSON object; InvalidParameter (400) for anything else."""
    if not request.is_json:
        raise InvalidParameter("Stuur een JSON-object met Content-Type: application/json.")
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise InvalidParameter("De inhoud van het verzoek is geen geldig JSON-object.")
    return body


def public_fields(item: dict) -> dict:
    """An initiative as the moderator's API shows it, without the private contact."""
    names = ("id", "name", "kind", "themes", "description", "website", "email", "phone", "address", "postcode",
             "lat", "lon", "location_precision", "status", "last_verified", "gemeentecode", "wijkcode",
             "buurtcode", "source", "external_id", "created_at", "updated_at")
    return {name: plain(item[name]) for name in names}


def moderated(item: dict) -> dict:
    """An initiative with the submitter's private contact (null when it did not come from a submission)."""
    contact = None
    if item.get("submitted_at") is not None:
        contact = {"name": item["contact_name"], "email": item["contact_email"], "phone": item["contact_phone"],
                   "submitted_at": plain(item["submitted_at"])}
    body = {**public_fields(item), "contact": contact}
    if "duplicates" in item:
        body["duplicates"] = item["duplicates"]
    return body


def _page_args() -> tuple[int, int]:
    limit = parse_int("limit", request.args.get("limit"), **PAGE_LIMIT)
    offset = parse_int("offset", request.args.get("offset"), default=0, minimum=0, maximum=MAX_OFFSET)
    return limit, offset


def _numbers_only(body: dict) -> None:
    """JSON gives lat and lon as numbers (the form sends text; the API is stricter)."""
    for name in submissions.POINT_FIELDS:
        value = body.get(name)
        if value is not None and (isinstance(value, bool) or not isinstance(value, (int, float))):
            raise InvalidParameter(f"'{name}' is een getal (WGS84-graden), geen {type(value).__name__}.")


@api.post("/submissions")
def create_submission():
    body = _json_object()
    unknown = [name for name in body if name not in SUBMISSION_MEMBERS]
    contact = body.get("contact") or {}
    if not isinstance(contact, dict):
        raise InvalidParameter("'contact' is een object met name, email en phone.")
    unknown += [f"contact.{name}" for name in contact if name not in CONTACT_MEMBERS]
    if unknown:
        raise InvalidParameter(f"Onbekende velden: {', '.join(sorted(unknown))[:300]}.")
    _numbers_only(body)
    submissions.check(body, contact)  # a wrong form does not count against the limit; a stored one does
    ratelimit.enforce(ratelimit.SUBMIT)
    session = get_session()
    client = submissions.hash_client(current_app.secret_key, ratelimit.current_client())
    geocoder = app_geocoder(current_app)
    # committed (durable, synchronous_commit on) before the 201
    new_id = retrying(session, lambda s: submissions.submit(s, body, contact, client, geocoder=geocoder))
    return respond({"id": new_id, "status": "pending", "message": RECEIVED}, status=201)


@api.get("/moderation/pending")
@token_required(*MODERATORS)
def moderation_pending():
    limit, offset = _page_args()
    matched, items = moderation.pending(get_session(), limit=limit, offset=offset)
    return respond({"numberMatched": matched, "numberReturned": len(items),
                    "initiatives": [moderated(item) for item in items]})


@api.get("/moderation/stale")
@token_required(*MODERATORS)
def moderation_stale():
    limit, offset = _page_args()
    matched, items = moderation.stale(get_session(), limit=limit, offset=offset)
    return respond({"numberMatched": matched, "numberReturned": len(items),
                    "stale_before": moderation.stale_cutoff().isoformat(),
                    "initiatives": [public_fields(item) for item in items]})


def _act(initiative_id: int, action: str, reason: str | None = None):
    session = get_session()
    item, changes = retrying(session, lambda s: moderation.apply(s, action, initiative_id, current_user(),
                                                                 reason=reason))
    return respond({"initiative": moderated(item), "changes": changes})


@api.post("/initiatives/<int:initiative_id>/publish")
@token_required(*MODERATORS)
def publish_initiative(initiative_id: int):
    return _act(initiative_id, "publish")


@api.post("/initiatives/<int:initiative_id>/reject")
@token_required(*MODERATORS)
def reject_initiative(initiative_id: int):
    return _act(initiative_id, "reject", _json_object().get("reason"))


@api.post("/initiatives/<int:initiative_id>/archive")
@token_required(*MODERATORS)
def archive_initiative(initiative_id: int):
    return _act(initiative_id, "archive")


@api.post("/initiatives/<int:initiative_id>/verify")
@token_required(*MODERATORS)
def verify_initiative(initiative_id: int):
    return _act(initiative_id, "verify")


@api.patch("/initiatives/<int:initiative_id>")
@token_required(*MODERATORS)
def edit_initiative(initiative_id: int):
    body = _json_object()
    if not body:
        raise InvalidParameter("Geef minstens één veld om te wijzigen.")
    _numbers_only(body)
    session = get_session()
    item, changes = retrying(session, lambda s: moderation.edit(s, initiative_id, current_user(), body))
    return respond({"initiative": moderated(item), "changes": changes})


@api.get("/initiatives/<int:initiative_id>/audit")
@token_required(*MODERATORS)
def initiative_audit(initiative_id: int):
    entries = moderation.history(get_session(), initiative_id)
    return respond({"initiative_id": initiative_id, "entries": [
        {"id": e["id"], "at": plain(e["at"]), "actor": e["actor"], "user_id": e["user_id"], "action": e["action"],
         "changes": e["changes"], "reason": e["reason"]} for e in entries]})
