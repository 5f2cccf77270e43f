"""Partner editors: their partner's profile and service areas (`/beheer/partner/<id>`).

Three ways to add a service area, each a plain form that works without JavaScript: choose CBS areas
(the gemeente is a GET parameter, so its wijken and buurten appear after a reload), a point and radius
(clicking the map only fills the fields), or a GeoJSON file. Errors come back in the page with 400;
a change redirects (303) back with a confirmation.
"""

from __future__ import annotations

import re

from flask import current_app, flash, redirect, render_template, request, url_for

from geoservice.partners import editing as partner_editing
from geoservice.api.partner_editing import WRITES
from geoservice.auth import can_edit_partner, current_user, login_required
from geoservice.db import get_session, retrying
from geoservice.errors import Forbidden, InvalidParameter, NotFound
from geoservice.params import parse_code_of_level
from geoservice.partners.editing import EditRefused
from geoservice.queries import partner_editing as queries
from geoservice.queries import partners as partner_queries
from geoservice.queries.areas import active_year
from geoservice.serving import ratelimit
from geoservice.vocab import PARTNER_KINDS, SERVICES, THEMES

from .. import maps, pages
from .partner import DEFINITIONS, SHOWN_CODES

HOWS = ("codes", "radius", "geojson")  # the three ways to add a service area
MAX_FORM_TEXT = 10_000  # longer form values are cut before validation (the limits themselves are lower)


def _editable(partner_id: int) -> dict:
    """The partner, when the logged-in user may edit it: a Dutch 403 page otherwise, 404 when it is not there."""
    if not can_edit_partner(current_user(), partner_id):
        raise Forbidden(partner_editing.NOT_YOURS)
    found = partner_queries.get_partner(get_session(), partner_id)
    if found is None:
        raise NotFound(f"Er is geen partner met nummer {partner_id}.")
    return found


def _count_write() -> None:
    ratelimit.enforce(WRITES, key=f"user:{current_user().id}")


def _text(name: str) -> str:
    return request.form.get(name, "")[:MAX_FORM_TEXT]


def _blank_is_none(value: str) -> str | None:
    return value.strip() or None


def area_rows(session, partner_id: int) -> list[dict]:
    """id, name, kind of definition (Dutch), what it was built from, area in km²."""
    rows = []
    for area in queries.service_area_list(session, partner_id):
        definition, kind, detail = area["definition"] or {}, area["definition_type"], ""
        if kind == "codes":
            codes = definition.get("codes") or []
            detail = ", ".join(codes[:SHOWN_CODES]) + (f" en {len(codes) - SHOWN_CODES} meer"
                                                       if len(codes) > SHOWN_CODES else "")
        elif kind == "radius" and definition.get("radius_m") is not None:
            point = definition.get("point") or {}
            detail = f"straal {definition['radius_m']} m rond {point.get('lat')}, {point.get('lon')}"
        rows.append({"id": area["id"], "name": area["name"], "type": DEFINITIONS.get(kind, kind), "detail": detail,
                     "km2": area["area_m2"] / 1e6})
    return rows


def edit_map(partner_id: int):
    """The partner's service areas (loaded by URL); a click fills the point-and-radius form."""
    m = maps.new_map(current_app.extensions["geoservice.settings"])
    maps.add_layer(m, "Werkgebieden", url_for("api.partner_service_areas", partner_id=partner_id),
                   "service_areas", fit=True)
    maps.add_point_filler(m, "radius-form")
    maps.add_layer_control(m)
    return maps.render(m)


def _chosen_gemeente(session, jaar: int | None) -> tuple[dict | None, str | None]:
    """The gemeente of the GET parameter with its wijken and buurten, or the reason it cannot be shown."""
    raw = request.args.get("gemeente")
    if jaar is None or raw is None or not raw.strip():
        return None, None
    try:
        code = parse_code_of_level("gemeente", raw, "gemeente")
    except InvalidParameter as exc:
        return None, exc.description
    parts = queries.gemeente_parts(session, jaar, code)
    if parts is None:
        return None, f"Er is geen gemeente met code {code} in de CBS-kaart {jaar}."
    return parts, None


def _page(partner: dict, *, status: int = 200, profile: dict | None = None, profile_error: EditRefused | None = None,
          area_form: dict | None = None, area_error: str | None = None):
    session = get_session()
    jaar = active_year(session)
    chosen, gemeente_error = _chosen_gemeente(session, jaar)
    if gemeente_error and status == 200:
        status = 400
    settings = current_app.extensions["geoservice.settings"]
    return render_template(
        "partner_bewerken.html", partner=partner, profile=profile or partner,
        profile_error=profile_error.description if profile_error else None,
        field_errors=profile_error.by_field() if profile_error else {},
        areas=area_rows(session, partner["id"]), area_form=area_form or {}, area_error=area_error,
        gemeenten=queries.gemeente_choices(session, jaar) if jaar else [], chosen=chosen,
        gemeente_error=gemeente_error, jaar=jaar, kinds=PARTNER_KINDS, services=SERVICES,
        themes=THEMES,
        max_upload_mb=settings.max_upload_mb, map=edit_map(partner["id"]), assets=maps.asset_urls(),
        map_config=maps.map_config(),
    ), status


@pages.get("/beheer/partner")
@login_required("partner_editor")
def mijn_partner():
    """A partner editor's way in: straight to their own partner. An admin chooses one."""
    user = current_user()
    if user.partner_id is not None:
        return redirect(url_for("web.partner_bewerken", partner_id=user.partner_id))
    _matched, partners = partner_queries.list_partners(get_session(), limit=1000, offset=0)
    return render_template("partner_bewerken.html", partner=None, choose=partners)


@pages.get("/beheer/partner/<int:partner_id>")
@login_required("partner_editor")
def partner_bewerken(partner_id: int):
    return _page(_editable(partner_id))


@pages.post("/beheer/partner/<int:partner_id>")
@login_required("partner_editor")
def partner_gegevens_opslaan(partner_id: int):
    partner = _editable(partner_id)
    _count_write()
    fields = {name: _text(name) for name in ("name", "kind", "description", "website", "email", "phone")}
    fields["services"] = [s[:100] for s in request.form.getlist("services")]
    fields["themes"] = [t[:100] for t in request.form.getlist("themes")]
    session = get_session()
    try:
        changes = retrying(session, lambda s: partner_editing.update_profile(s, partner_id, fields, current_user()))
    except EditRefused as exc:
        session.rollback()
        return _page(partner, status=400, profile={**partner, **fields}, profile_error=exc)
    flash("De gegevens zijn opgeslagen." if changes else "Er was niets veranderd.")
    return redirect(url_for("web.partner_bewerken", partner_id=partner_id), code=303)


def _definition(how: str, name: str) -> dict:
    """The service-area definition of the submitted form, in the shape the import (and the API) uses."""
    if how == "codes":
        typed = [c for c in re.split(r"[;,\s]+", _text("codes_text")) if c]
        return {"name": name, "codes": [c[:20] for c in request.form.getlist("codes")] + typed}
    if how == "radius":
        return {"name": name, "point": {"lat": _blank_is_none(_text("lat")), "lon": _blank_is_none(_text("lon"))},
                "radius_m": _blank_is_none(_text("radius_m"))}
    upload = request.files.get("bestand")
    if upload is None or not upload.filename:
        raise EditRefused([("bestand", "kies een GeoJSON-bestand (.geojson of .json)")])
    return {"name": name, "geojson": partner_editing.read_geojson_file(upload.read())}


@pages.post("/beheer/partner/<int:partner_id>/werkgebieden")
@login_required("partner_editor")
def werkgebied_toevoegen(partner_id: int):
    partner = _editable(partner_id)
    _count_write()
    how = request.form.get("definitie", "")
    form = {"how": how, "name": _text("name"), "codes": request.form.getlist("codes"),
            "codes_text": _text("codes_text"), "lat": _text("lat"), "lon": _text("lon"),
            "radius_m": _text("radius_m")}
    if how not in HOWS:
        return _page(partner, status=400, area_form=form,
                     area_error="Kies hoe je het werkgebied vastlegt: CBS-gebieden, een punt met straal of een "
                                "GeoJSON-bestand.")
    session = get_session()
    try:
        definition = _definition(how, form["name"])
        added = retrying(session, lambda s: partner_editing.add_service_area(s, partner_id, definition, current_user()))
    except EditRefused as exc:
        session.rollback()
        return _page(partner, status=400, area_form=form, area_error=exc.description)
    message = f"Werkgebied '{form['name'].strip()}' is toegevoegd."
    if added.repaired:
        message += f" De vorm was ongeldig ({added.repaired}) en is hersteld: kijk op de kaart of hij klopt."
    flash(message)
    return redirect(url_for("web.partner_bewerken", partner_id=partner_id), code=303)


@pages.post("/beheer/partner/<int:partner_id>/werkgebieden/<int:area_id>/verwijderen")
@login_required("partner_editor")
def werkgebied_verwijderen(partner_id: int, area_id: int):
    _editable(partner_id)
    _count_write()
    session = get_session()
    try:
        removed = retrying(session, lambda s: partner_editing.remove_service_area(s, partner_id, area_id,
                                                                                  current_user()))
    except Exception:
        session.rollback()
        raise
    flash(f"Werkgebied '{removed['name']}' is verwijderd.")
    return redirect(url_for("web.partner_bewerken", partner_id=partner_id), code=303)
