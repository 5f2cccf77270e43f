"""Public submissions (`/aanmelden` and geoservice.registry.submissions): pending, private contact, honeypot, limits, CSRF."""

from __future__ import annotations

import json
import os
import re
import uuid
from html import unescape

import pytest
from click.testing import CliRunner
from sqlalchemy import create_engine, text
from sqlalchemy.orm import Session

from geoservice import db
from geoservice.cli import main
from geoservice.config import Settings
from geoservice.geocode import Geocoder
from geoservice.models import AuditLog, Initiative, SubmissionContact
from geoservice.registry import submissions
from geoservice.serving import ratelimit

from . import helpers

BAARN = {"lat": "52.216500", "lon": "5.287800"}  # Staatsliedenwijk, Baarn
PRIVATE = {"contact_name": "Jantje Privé-Aanmelder", "contact_email": "jantje.prive@aanmelder.example",
           "contact_phone": "06 98765432"}


@pytest.fixture(scope="module")
def db_url(pg_server, template_db):
    name = f"geoservice_test_submissions_{os.getpid()}"
    url = pg_server.create(name, template=template_db)
    yield url
    pg_server.drop(name)


@pytest.fixture
def web(db_url, app_for):
    """A client of a fresh app (its own rate-limit counters), geocoding offline (PC4 centroids)."""
    return app_for(db_url, geocoder="offline").test_client()


def csrf_token(client) -> str:
    return helpers.csrf_token(client, "/aanmelden")


def form(name: str | None = None, **overrides) -> dict:
    data = {"name": f"Buurtmoestuin {uuid.uuid4().hex[:8]}" if name is None else name, "kind": "bewonersinitiatief",
            "themes": ["groen_natuur", "ontmoeting"], "description": "Samen tuinieren.\r\nElke zaterdag.",
            "website": "www.moestuin.example", "email": "tuin@moestuin.example", "phone": "035 123 45 67",
            "address": "", "postcode": "", **BAARN, **PRIVATE}
    data.update(overrides)
    return {k: v for k, v in data.items() if v is not None}


def post(client, data: dict, *, with_token: bool = True, **kwargs):
    if with_token:
        data = {**data, "csrf_token": csrf_token(client)}
    return client.post("/aanmelden", data=data, **kwargs)


def count(url: str, table: str) -> int:
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return conn.execute(text(f"SELECT count(*) FROM {table}")).scalar()
    finally:
        engine.dispose()


def counts(url: str) -> tuple[int, int, int]:
    return count(url, "initiative"), count(url, "submission_contact"), count(url, "audit_log")


def stored(url: str, name: str) -> dict | None:
    """The initiative with this name, its contact and audit entries, straight from the database."""
    engine = create_engine(url)
    try:
        with Session(engine) as session:
            item = session.query(Initiative).filter_by(name=name).one_or_none()
            if item is None:
                return None
            point = session.execute(text(
                "SELECT ST_X(ST_Transform(location, 4326)), ST_Y(ST_Transform(location, 4326)) "
                "FROM initiative WHERE id = :id"), {"id": item.id}).one()
            contact = session.get(SubmissionContact, item.id)
            audit = session.query(AuditLog).filter_by(entity_type="initiative", entity_id=item.id).all()
            return {"item": item, "lon": point[0], "lat": point[1], "contact": contact,
                    "audit": [(a.action, a.actor, a.user_id, a.changes) for a in audit]}
    finally:
        engine.dispose()


def test_the_form_is_dutch_labelled_and_has_a_hidden_honeypot(web):
    response = web.get("/aanmelden")
    html = response.get_data(as_text=True)
    assert response.status_code == 200 and html.count("<h1") == 1
    assert 'name="csrf_token"' in html
    assert "Alleen voor de beheerders, wordt niet getoond" in html
    # every visible control has a label
    for control_id in re.findall(r'<(?:input|select|textarea)[^>]*\bid="([^"]+)"', html):
        assert f'for="{control_id}"' in html, control_id
    honeypot = re.search(r'<div class="hp-field"[^>]*>.*?</div>', html, re.DOTALL).group(0)
    assert 'aria-hidden="true"' in honeypot and 'tabindex="-1"' in honeypot and 'autocomplete="off"' in honeypot
    assert f'name="{submissions.SOURCE}"' not in html  # nothing about the storage leaks into the form


def test_a_submission_is_stored_pending_with_its_private_contact(web, db_url):
    data = form()
    response = post(web, data)
    assert response.status_code == 303 and response.headers["Location"] == "/aanmelden/ontvangen"
    thanks = web.get("/aanmelden/ontvangen").get_data(as_text=True)
    assert "moderator" in thanks and "binnen een week" in thanks and "op de kaart" in thanks

    found = stored(db_url, data["name"])
    item = found["item"]
    assert item.status == "pending" and item.source == "aanmelding" and uuid.UUID(item.external_id)
    assert item.kind == "bewonersinitiatief" and item.themes == ["groen_natuur", "ontmoeting"]
    assert item.description == "Samen tuinieren.\nElke zaterdag."  # the textarea's CRLF, cleaned
    assert item.website == "https://www.moestuin.example" and item.email == "tuin@moestuin.example"
    assert item.location_precision == "manual" and item.last_verified is None
    assert found["lat"] == pytest.approx(float(BAARN["lat"]), abs=1e-7)
    assert found["lon"] == pytest.approx(float(BAARN["lon"]), abs=1e-7)
    lookup = web.get(f"/api/v1/areas/lookup?lat={BAARN['lat']}&lon={BAARN['lon']}").get_json()
    assert (item.buurtcode, item.wijkcode, item.gemeentecode) == (
        lookup["buurt"]["code"], lookup["wijk"]["code"], lookup["gemeente"]["code"])
    contact = found["contact"]
    assert (contact.name, contact.email, contact.phone) == (
        PRIVATE["contact_name"], PRIVATE["contact_email"], PRIVATE["contact_phone"])
    assert contact.client_hash and "127.0.0.1" not in contact.client_hash
    [(action, actor, user_id, changes)] = found["audit"]
    assert (action, actor, user_id) == ("submit", "aanmelder", None)
    assert changes["name"] == [None, data["name"]] and changes["status"] == [None, "pending"]
    assert not any(value in json.dumps(changes) for value in PRIVATE.values())


def test_a_pending_submission_is_nowhere_public(web, db_url, runner_env):
    data = form(name=f"Verborgen Initiatief {uuid.uuid4().hex[:6]}")
    assert post(web, data).status_code == 303
    item = stored(db_url, data["name"])["item"]
    private = list(PRIVATE.values())
    public = {
        "list": web.get(f"/api/v1/initiatives?q={data['name']}"),
        "one": web.get(f"/api/v1/initiatives/{item.id}"),
        "nearby": web.get(f"/api/v1/initiatives/nearby?lat={BAARN['lat']}&lon={BAARN['lon']}&radius_m=500&limit=100"),
        "csv": web.get(f"/api/v1/initiatives?q={data['name']}&format=csv"),
        "ogc": web.get(f"/ogc/collections/initiatives/items/{item.id}"),
        "ogc_items": web.get("/ogc/collections/initiatives/items?limit=1000"),
        "page": web.get(f"/initiatief/{item.id}"),
        "search": web.get(f"/?lat={BAARN['lat']}&lon={BAARN['lon']}&radius_m=500"),
        "area": web.get(f"/api/v1/areas/{item.buurtcode}"),
    }
    assert public["list"].get_json()["numberMatched"] == 0
    assert public["one"].status_code == 404 and public["ogc"].status_code == 404 and public["page"].status_code == 404
    for what, response in public.items():
        body = response.get_data(as_text=True)
        assert data["name"] not in body, what
        assert not any(value in body for value in private), what

    # exports: the published ones by default; even --status all shows the pending one, but never its contact
    for fmt in ("csv", "geojson", "hsds"):
        default = CliRunner().invoke(main, ["export", "initiatives", "--format", fmt], env=runner_env(db_url))
        everything = CliRunner().invoke(main, ["export", "initiatives", "--format", fmt, "--status", "all"],
                                        env=runner_env(db_url))
        assert default.exit_code == 0 and everything.exit_code == 0, everything.output
        assert data["name"] not in default.output
        assert data["name"] in everything.output
        assert not any(value in default.output + everything.output for value in private), fmt


def test_a_postcode_alone_is_located_at_its_centroid(web, db_url):
    data = form(postcode="3741 bk", lat="", lon="")
    assert post(web, data).status_code == 303
    found = stored(db_url, data["name"])
    expected = Geocoder(Settings(geocoder="offline")).locate(postcode="3741BK")
    assert found["item"].postcode == "3741BK" and found["item"].location_precision == expected.precision
    assert (found["lon"], found["lat"]) == pytest.approx((expected.lon, expected.lat), abs=1e-6)


def test_mistakes_are_shown_in_the_form_with_the_values_kept(web, db_url):
    before = counts(db_url)
    data = form(name="", kind="", email="geen-adres", lat="", lon="", contact_email="", contact_phone="",
                description="Mijn <b>beschrijving</b>", themes=["jeugd"])
    response = post(web, data)
    html = response.get_data(as_text=True)
    assert response.status_code == 400 and "Niet alles is goed ingevuld" in html
    assert "elk initiatief heeft een naam nodig" in html and "kies een soort" in html
    assert "geen geldig e-mailadres" in html
    assert "geef een adres of postcode, of kies een punt op de kaart" in html
    assert "je e-mailadres of telefoonnummer" in html
    assert "Mijn &lt;b&gt;beschrijving&lt;/b&gt;" in html  # kept, and escaped
    assert re.search(r'value="jeugd" checked', html) and 'value="geen-adres"' in html
    assert 'aria-invalid="true"' in html and 'name="csrf_token"' in html
    assert counts(db_url) == before


@pytest.mark.parametrize("overrides, field, reason", [
    ({"lat": "5.2878", "lon": "52.2165"}, "lat", "omgewisseld"),
    ({"lat": "48.85", "lon": "2.35"}, "lat", "niet in Nederland"),
    ({"lat": "52.2165", "lon": ""}, "lat", "lat én lon"),
    ({"website": "javascript:alert(1)"}, "website", "geen website"),
    ({"kind": "kerk"}, "kind", "onbekend"),
    ({"themes": ["Zorg en welzijn", "vliegen"]}, "themes", "onbekend"),
    ({"postcode": "12345"}, "postcode", "geen postcode"),
    ({"name": "x" * 201}, "name", "te lang"),
    ({"description": "tekst\x00"}, "description", "ongeldig"),
    ({"contact_email": "ik@"}, "contact_email", "geen geldig e-mailadres"),
])
def test_each_field_is_checked_with_the_importers_rules(overrides, field, reason):
    data = form(**overrides)
    contact = {key: data.pop(f"contact_{key}") for key in ("name", "email", "phone")}
    with pytest.raises(submissions.SubmissionInvalid) as caught:
        submissions.check(data, contact)
    assert set(caught.value.problems) == {field} and reason in caught.value.problems[field]


def test_labels_of_kinds_and_themes_are_accepted():
    data = form(kind="Wijkcoöperatie", themes="Zorg en welzijn; Jeugd")
    contact = {key: data.pop(f"contact_{key}") for key in ("name", "email", "phone")}
    checked = submissions.check(data, contact)
    assert checked.values["kind"] == "wijkcooperatie" and checked.values["themes"] == ["jeugd", "zorg_welzijn"]


def test_a_point_in_belgium_is_refused(web, db_url):
    before = counts(db_url)
    response = post(web, form(lat="50.8466", lon="4.3528"))  # Brussels: inside the coarse box, outside the map
    assert response.status_code == 400 and "ligt niet in Nederland" in response.get_data(as_text=True)
    assert counts(db_url) == before


def test_an_address_without_postcode_while_address_search_is_off_keeps_the_form(web, db_url):
    before = counts(db_url)
    response = post(web, form(address="Laanstraat 1, Baarn", lat="", lon=""))
    html = response.get_data(as_text=True)
    assert response.status_code == 503 and "Zoeken op postcode werkt wel" in html
    assert 'value="Laanstraat 1, Baarn"' in html and counts(db_url) == before


def test_the_honeypot_answers_like_success_and_stores_nothing(web, db_url):
    before = counts(db_url)
    data = form(organisatie_url="https://spam.example")
    response = post(web, data)
    assert response.status_code == 303 and response.headers["Location"] == "/aanmelden/ontvangen"
    assert counts(db_url) == before and stored(db_url, data["name"]) is None


def test_a_form_without_csrf_token_is_refused_and_nothing_is_stored(web, db_url):
    before = counts(db_url)
    csrf_token(web)  # a session exists, the form just lacks the token
    for extra in ({}, {"csrf_token": "vervalst"}):
        response = post(web, {**form(), **extra}, with_token=False)
        assert response.status_code == 400 and "Laad de pagina opnieuw" in response.get_data(as_text=True)
    assert counts(db_url) == before


def test_submissions_are_rate_limited_per_client(web, db_url, app_for):
    for _ in range(ratelimit.SUBMIT.limit):
        assert post(web, form()).status_code == 303
    before = counts(db_url)
    data = form()
    blocked = post(web, data)
    html = blocked.get_data(as_text=True)
    assert blocked.status_code == 429 and 0 < int(blocked.headers["Retry-After"]) <= ratelimit.SUBMIT.window_s
    assert "Te veel pogingen" in html and f'value="{data["name"]}"' in html  # the form stays filled in
    assert counts(db_url) == before
    # a form with mistakes does not count, so it still shows its mistakes rather than the limit
    assert post(web, form(name="")).status_code == 400
    other = app_for(db_url, geocoder="offline").test_client()  # the same limit is per client
    assert post(other, form(), environ_base={"REMOTE_ADDR": "192.0.2.44"}).status_code == 303


def test_the_commit_of_a_submission_is_durable(db_url):
    """SET LOCAL synchronous_commit = on inside the submission's transaction, whatever the server default."""
    engine = db.make_engine(db_url)
    try:
        with Session(engine) as session:
            default = session.execute(text("SHOW synchronous_commit")).scalar()
            session.commit()
            data = form()
            contact = {key: data.pop(f"contact_{key}") for key in ("name", "email", "phone")}
            new_id = submissions.submit(session, data, contact, "hash")
            assert session.execute(text("SHOW synchronous_commit")).scalar() == "on"
            session.commit()
            assert session.execute(text("SHOW synchronous_commit")).scalar() == default  # only that transaction
            assert session.get(Initiative, new_id).status == "pending"
    finally:
        engine.dispose()


def test_xss_in_a_submission_is_inert_in_the_thanks_and_error_pages(web):
    payload = '"><script>alert(1)</script>'
    response = post(web, form(name=payload, email="geen-adres"))
    html = response.get_data(as_text=True)
    assert response.status_code == 400 and "<script>alert(1)</script>" not in html
    assert unescape(payload) in unescape(html)



def test_in_a_browser_a_map_click_fills_the_point_and_the_form_is_sent(db_url, app_for, browser):
    """Chromium: the map's click writes lat/lon (no page errors under the CSP); sending lands on 'ontvangen'."""
    from .browser_support import LiveServer, watch_page

    name = f"Klikproef {uuid.uuid4().hex[:6]}"
    with LiveServer(app_for(db_url, geocoder="offline")) as server:
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        try:
            watch = watch_page(page, server.url)
            page.goto(server.url + "/aanmelden")
            map_box = page.locator(".folium-map")
            size = map_box.bounding_box()
            map_box.click(position={"x": size["width"] * 0.6, "y": size["height"] * 0.5})
            lat, lon = float(page.input_value("#veld-lat")), float(page.input_value("#veld-lon"))
            assert 50.5 < lat < 53.8 and 3.0 < lon < 7.6 and page.url.endswith("/aanmelden")  # filled, not sent
            assert "Punt gekozen" in page.text_content("#map-status")
            page.fill("#veld-name", name)
            page.select_option("#veld-kind", "bewonersinitiatief")
            page.fill("#veld-contact_email", "klik@aanmelder.example")
            page.click("form#aanmeld-form button[type=submit]")
            page.wait_for_url("**/aanmelden/ontvangen")
            assert watch.problems() == {}
        finally:
            page.close()
    found = stored(db_url, name)
    assert found["item"].status == "pending" and found["item"].location_precision == "manual"
    assert (found["lat"], found["lon"]) == pytest.approx((lat, lon), abs=1e-6)
