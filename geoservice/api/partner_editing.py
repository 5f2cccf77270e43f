"""Partner editors' API writes: PATCH a partner's profile, add (POST) and remove (DELETE) its service areas.

Bearer token of the partner's editor or an admin (auth.token_required); another partner's editor gets
403 and nothing changes. The work is in geoservice.partners.editing; these views parse, commit, answer.
"""

from __future__ import annotations

from flask import request

from ..partners import editing as partner_editing
from ..auth import can_edit_partner, current_user, token_required
from ..db import get_session, retrying
from ..errors import Forbidden, InvalidParameter, NotFound
from ..queries import partner_editing as queries
from ..queries import partners as partner_queries
from ..serving import ratelimit
from . import api
from .geojson import GEOJSON, feature, respond

# Writes per user: plenty for a person or a script fixing a few areas, a brake on a runaway loop.
WRITES = ratelimit.Limit("partner-bewerken", 60, 60)


def _json_object() -> dict:
    try:
        body = request.get_json(force=True, silent=True)
    except RecursionError:  # nested deeper than Python's JSON parser goes: not a profile or an area anyway
        body = None
    if not isinstance(body, dict):
        raise InvalidParameter("Stuur een JSON-object in de body (Content-Type: application/json).")
    return body


def _may_write(partner_id: int) -> None:
    """403 before anything is read from the body; then count the write against the user's limit."""
    user = current_user()
    if not can_edit_partner(user, partner_id):
        raise Forbidden(partner_editing.NOT_YOURS)
    ratelimit.enforce(WRITES, key=f"user:{user.id}")


def _committed(work):
    """work(session), committed, run again after a deadlock; whatever it did is rolled back on any error."""
    return retrying(get_session(), work)


@api.patch("/partners/<int:partner_id>")
@token_required("partner_editor")
def patch_partner(partner_id: int):
    _may_write(partner_id)
    fields = _json_object()
    _committed(lambda session: partner_editing.update_profile(session, partner_id, fields, current_user()))
    partner = partner_queries.get_partner(get_session(), partner_id)
    if partner is None:  # removed meanwhile
        raise NotFound(f"Er is geen partner met id {partner_id}.")
    return respond(partner)


@api.post("/partners/<int:partner_id>/service-areas")
@token_required("partner_editor")
def post_service_area(partner_id: int):
    _may_write(partner_id)
    definition = _json_object()
    added = _committed(lambda session: partner_editing.add_service_area(
        session, partner_id, definition, current_user()))
    area = queries.service_area_feature(get_session(), added.id)
    properties = {k: v for k, v in area.items() if k != "geometry"}
    return respond(feature(area["id"], area["geometry"], {**properties, "repaired": added.repaired}),
                   GEOJSON, status=201)


@api.delete("/partners/<int:partner_id>/service-areas/<int:area_id>")
@token_required("partner_editor")
def delete_service_area(partner_id: int, area_id: int):
    _may_write(partner_id)
    _committed(lambda session: partner_editing.remove_service_area(session, partner_id, area_id, current_user()))
    return "", 204
