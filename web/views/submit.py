"""Anyone: propose an initiative (`/aanmelden`); it waits as `pending` until a moderator has looked at it."""

from __future__ import annotations

from flask import current_app, redirect, render_template, request, session, url_for

from geoservice.db import get_session, retrying
from geoservice.errors import GeoserviceError
from geoservice.geocode import app_geocoder, normalise_postcode
from geoservice.registry import submissions
from geoservice.serving import ratelimit
from geoservice.vocab import INITIATIVE_KINDS, THEMES

from .. import maps, pages

HONEYPOT = "organisatie_url"  # a field people never see; bots fill in every field
TEXT_FIELDS = (*(name for name in submissions.FIELDS if name != "themes"), *submissions.POINT_FIELDS,
               *submissions.CONTACT_FIELDS)
FORM_MAX = 6000  # no form field is longer (the description allows 5,000 characters)
PICKED_ZOOM = 16
RECEIVED = "aanmelding_ontvangen"  # the session key that lets /aanmelden/ontvangen thank you, once


def point_map(form_id: str, lat: str = "", lon: str = ""):
    """A small map whose clicks fill the form's lat/lon fields, centred on the point already in them."""
    settings = current_app.extensions["geoservice.settings"]
    try:
        point = submissions.clean_point(lat, lon)
    except ValueError:
        point = None
    m = (maps.new_map(settings, center=(point.lat, point.lon), zoom=PICKED_ZOOM) if point
         else maps.new_map(settings))
    maps.add_point_filler(m, form_id)
    return maps.render(m)


def form_values(form) -> dict:
    """The submitted text of every field (cut to a sane length) and the chosen themes, to show them again."""
    values = {name: (form.get(name) or "")[:FORM_MAX] for name in TEXT_FIELDS}
    values["themes"] = [t for t in form.getlist("themes") if t in THEMES]
    return values


def render_form(values: dict, problems: dict | None = None, error: str | None = None):
    return render_template(
        "aanmelden.html", values=values, problems=problems or {}, error=error, labels=submissions.LABELS,
        kinds=INITIATIVE_KINDS, themes=THEMES, honeypot=HONEYPOT,
        map=point_map("aanmeld-form", values.get("lat", ""), values.get("lon", "")),
        assets=maps.asset_urls(), map_config=maps.map_config())


@pages.route("/aanmelden", methods=["GET", "POST"])
def aanmelden():
    if request.method == "GET":
        return render_form({name: "" for name in TEXT_FIELDS} | {"themes": []})
    if request.form.get(HONEYPOT, "").strip():
        # a bot: it gets the same answer as a person, and nothing is stored
        session[RECEIVED] = sent_summary(form_values(request.form))
        return redirect(url_for("web.aanmelden_ontvangen"), code=303)
    values = form_values(request.form)
    fields = {name: values[name] for name in (*submissions.FIELDS, *submissions.POINT_FIELDS) if name != "themes"}
    fields["themes"] = request.form.getlist("themes")
    contact = {key: values[f"contact_{key}"] for key in ("name", "email", "phone")}
    try:
        submissions.check(fields, contact)  # a form with mistakes does not count against the limit
        ratelimit.enforce(ratelimit.SUBMIT)
        db_session = get_session()
        client = submissions.hash_client(current_app.secret_key, ratelimit.current_client())
        geocoder = app_geocoder(current_app)
        # committed (durable) before the submitter reads "ontvangen"
        retrying(db_session, lambda s: submissions.submit(s, fields, contact, client, geocoder=geocoder))
    except submissions.SubmissionInvalid as exc:
        return render_form(values, exc.problems), 400
    except GeoserviceError as exc:  # too many submissions, the address search down: the form stays filled in
        return render_form(values, error=exc.description), exc.status, getattr(exc, "headers", None) or {}
    session[RECEIVED] = sent_summary(values)
    return redirect(url_for("web.aanmelden_ontvangen"), code=303)


def sent_summary(values: dict) -> list[list[str]]:
    """What the submitter sent, as (label, text) rows for the confirmation page. Only what will be public and
    where it is: the submitter's own contact is named, not repeated (the session cookie is not encrypted)."""
    themes = ", ".join(THEMES[t] for t in values.get("themes", []) if t in THEMES)
    postcode = values.get("postcode", "").strip()
    try:
        postcode = normalise_postcode(postcode) if postcode else ""
    except GeoserviceError:
        pass
    place = ", ".join(v for v in (values.get("address", "").strip(), postcode) if v)
    if not place and values.get("lat") and values.get("lon"):
        place = "het punt dat je op de kaart koos"
    own = [label for key, label in (("contact_email", "je e-mailadres"), ("contact_phone", "je telefoonnummer"))
           if values.get(key, "").strip()]
    rows = [("Naam", values.get("name", "").strip()[:200]),
            ("Soort", INITIATIVE_KINDS.get(values.get("kind", ""), "")), ("Thema's", themes),
            ("Plek", place[:300]), ("Website", values.get("website", "").strip()[:300]),
            ("Je contactgegevens (alleen voor de moderator)", " en ".join(own))]
    return [[label, text] for label, text in rows if text]


@pages.get("/aanmelden/ontvangen")
def aanmelden_ontvangen():
    summary = session.pop(RECEIVED, None)
    if summary is None:  # opened directly, or a second time: nothing was just sent
        return redirect(url_for("web.aanmelden"), code=303)
    return render_template("aanmelden_ontvangen.html", summary=summary)
