"""The partner editor's page `/beheer/partner/<id>` through Flask's test client, on a module database.

Partners Baarn (edited by editor@) and Utrecht (with one service area, edited by other_editor@), a
moderator and an admin. "Nothing changed" is the digest of the partner, service_area and audit_log tables.
"""

from __future__ import annotations

import io
import json
import math
from html import unescape
from html.parser import HTMLParser
from urllib.parse import urlsplit

import pytest
from sqlalchemy import text
from sqlalchemy.orm import Session

from geoservice import accounts, db
from geoservice.serving import ratelimit

from .conftest import app_on
from .helpers import BUURT_GEOM, add_service_area, csrf_of, seed_partner_editing, seeded_database
from .test_partner_editing import BOWTIE, ZANDVOORT, cbs_union_area, digest

PASSWORD = "een lang genoeg wachtwoord"
XSS = "<script>alert(1)</script>"


@pytest.fixture(scope="module")
def web_site(pg_server, template_db):
    """(app, url, ids): partners Baarn and Utrecht (with one area), a user per role."""
    with seeded_database(pg_server, template_db, "partner_editing_web",
                         lambda session: seed_partner_editing(session, password=PASSWORD)[0]) as (url, ids):
        app = app_on(url)
        yield app, url, ids


@pytest.fixture
def ids(web_site):
    return web_site[2]


@pytest.fixture
def engine(web_site):
    engine = db.make_engine(web_site[1])
    yield engine
    engine.dispose()


def state(engine) -> dict:
    with engine.connect() as conn:
        return digest(conn)


def login(web_site, who: str):
    web_site[0].extensions[ratelimit.EXTENSION].reset()
    client = web_site[0].test_client()
    token = csrf_of(client.get("/inloggen").get_data(as_text=True))
    response = client.post("/inloggen", data={"email": f"{who}@example.nl", "password": PASSWORD,
                                              "csrf_token": token})
    assert response.status_code == 303
    return client


@pytest.fixture
def editor(web_site):
    return login(web_site, "editor")


def page_of(ids) -> str:
    return f"/beheer/partner/{ids['baarn']}"


def post(client, path: str, data: dict, *, csrf: bool = True, page: str | None = None, **kwargs):
    """POST a form as the browser would: with the CSRF token of the page it is on."""
    if csrf:
        data = {**data, "csrf_token": csrf_of(client.get(page or "/inloggen").get_data(as_text=True))}
    return client.post(path, data=data, **kwargs)


def areas_of(engine, partner_id: int) -> dict[str, dict]:
    with engine.connect() as conn:
        rows = conn.execute(text("SELECT id, name, definition_type, definition, ST_Area(geom) AS area_m2, "
                                 "ST_IsValid(geom) AS valid FROM service_area WHERE partner_id = :id"),
                            {"id": partner_id}).mappings()
        return {row["name"]: dict(row) for row in rows}


def gap_coverage(client, code: str) -> float:
    body = client.get("/api/v1/gaps?gemeente=GM0308").get_json()
    return next(f["properties"]["coverage"] for f in body["features"] if f["id"] == code)


class Controls(HTMLParser):
    """Form controls, labels, headings and checkbox values of a page."""

    def __init__(self):
        super().__init__()
        self.controls, self.label_for, self.h1, self.checkboxes = [], set(), 0, []
        self._label_depth = 0

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "h1":
            self.h1 += 1
        if tag == "label":
            self._label_depth += 1
            if a.get("for"):
                self.label_for.add(a["for"])
        if tag in ("input", "select", "textarea") and a.get("type") not in ("hidden", "submit"):
            self.controls.append({**a, "tag": tag, "wrapped": self._label_depth > 0})
            if a.get("type") == "checkbox":
                self.checkboxes.append((a.get("name"), a.get("value")))

    def handle_endtag(self, tag):
        if tag == "label":
            self._label_depth -= 1


def parse(html: str) -> Controls:
    parser = Controls()
    parser.feed(html)
    return parser


# --- who gets in ------------------------------------------------------------------------------------

def test_anonymous_visitors_are_sent_to_login(web_site, ids):
    response = web_site[0].test_client().get(page_of(ids))
    assert response.status_code == 302 and urlsplit(response.headers["Location"]).path == "/inloggen"


def test_a_partner_editor_finds_their_own_partner(web_site, editor, ids):
    response = editor.get("/beheer/partner")
    assert response.status_code == 302 and response.headers["Location"] == page_of(ids)


def test_a_moderator_is_not_a_partner_editor(web_site):
    response = login(web_site, "moderator").get("/beheer/partner")
    assert response.status_code == 403 and "Geen toegang" in response.get_data(as_text=True)


def test_an_admin_chooses_any_partner(web_site, ids):
    html = login(web_site, "admin").get("/beheer/partner").get_data(as_text=True)
    for key in ("baarn", "utrecht"):
        assert f'href="/beheer/partner/{ids[key]}"' in html


def test_the_page_has_every_way_to_edit_with_labels(web_site, editor, ids, engine):
    response = editor.get(page_of(ids))
    assert response.status_code == 200 and "no-store" in response.headers["Cache-Control"]
    html = response.get_data(as_text=True)
    page = parse(html)
    assert page.h1 == 1 and "Steunpunt Baarn bewerken" in html
    for control in page.controls:  # every visible control has a label
        assert control["wrapped"] or control.get("id") in page.label_for, control
    names = {c.get("name") for c in page.controls}
    assert {"name", "kind", "services", "description", "website", "email", "phone", "gemeente", "lat", "lon",
            "radius_m", "bestand"} <= names
    upload = next(c for c in page.controls if c.get("type") == "file")
    assert upload["accept"] == ".geojson,.json,application/geo+json"
    assert 'enctype="multipart/form-data"' in html
    with engine.connect() as conn:
        gemeenten = conn.execute(text("SELECT count(*) FROM gemeente WHERE jaar = 2024 AND code <> 'GM0998'")).scalar()
    assert html.count("<option value=\"GM") == gemeenten
    # the map: the service areas by URL, and a click fills the point form without sending it
    assert f"/api/v1/partners/{ids['baarn']}/service-areas" in html
    assert 'Samenkaart.fillPoint(' in html and '"radius-form"' in html
    assert html.count('name="csrf_token"') >= 4


def test_choosing_a_gemeente_lists_its_wijken_and_buurten(web_site, editor, ids, engine):
    html = editor.get(page_of(ids) + "?gemeente=gm0308").get_data(as_text=True)
    with engine.connect() as conn:
        expected = {code for (code,) in conn.execute(text(
            "SELECT code FROM wijk WHERE jaar = 2024 AND gemeentecode = 'GM0308' UNION "
            "SELECT code FROM buurt WHERE jaar = 2024 AND gemeentecode = 'GM0308'"))} | {"GM0308"}
    assert {value for name, value in parse(html).checkboxes if name == "codes"} == expected
    assert 'value="GM0308" selected' in html


@pytest.mark.parametrize("value, reason", [("GM9999", "Er is geen gemeente met code GM9999"),
                                           ("Baarn", "Baarn"), ("WK030801", "gemeentecode")])
def test_an_unknown_gemeente_is_told_in_the_page(web_site, editor, ids, value, reason):
    response = editor.get(page_of(ids) + f"?gemeente={value}")
    assert response.status_code == 400
    assert reason in unescape(response.get_data(as_text=True))


# --- another partner: 403 and nothing changed -------------------------------------------------------

def test_another_partners_page_is_forbidden(web_site, editor, ids):
    response = editor.get(f"/beheer/partner/{ids['utrecht']}")
    assert response.status_code == 403 and "eigen partner" in response.get_data(as_text=True)


@pytest.mark.parametrize("path, data", [
    ("/beheer/partner/{utrecht}", {"name": "Overgenomen", "kind": "fonds"}),
    ("/beheer/partner/{utrecht}/werkgebieden", {"definitie": "codes", "name": "Erbij", "codes": "GM0308"}),
    ("/beheer/partner/{utrecht}/werkgebieden/{utrecht_area}/verwijderen", {}),
])
def test_posting_for_another_partner_is_forbidden_and_changes_nothing(web_site, editor, ids, engine, path, data):
    before = state(engine)
    response = post(editor, path.format(**ids), data, page=page_of(ids))
    assert response.status_code == 403 and "text/html" in response.content_type
    assert state(engine) == before


@pytest.mark.parametrize("path, data", [
    ("/beheer/partner/{baarn}", {"name": "Zonder token", "kind": "fonds"}),
    ("/beheer/partner/{baarn}/werkgebieden", {"definitie": "codes", "name": "Zonder token", "codes": "GM0308"}),
    ("/beheer/partner/{utrecht}/werkgebieden/{utrecht_area}/verwijderen", {}),
])
@pytest.mark.parametrize("who", ["editor", "other_editor"])
def test_a_form_without_csrf_token_is_refused(web_site, ids, engine, path, data, who):
    client = login(web_site, who)
    before = state(engine)
    response = post(client, path.format(**ids), data, csrf=False)
    assert response.status_code == 400 and "Het formulier is verlopen" in response.get_data(as_text=True)
    response = post(client, path.format(**ids), {**data, "csrf_token": "vervalst"}, csrf=False)
    assert response.status_code == 400
    assert state(engine) == before


# --- the profile ------------------------------------------------------------------------------------

def test_saving_the_profile_confirms_and_audits(web_site, editor, ids, engine):
    response = post(editor, page_of(ids), {"name": "Steunpunt Baarn", "kind": "lokale_ondersteuner",
                                           "services": ["advies", "training"], "description": "Wij helpen.",
                                           "website": "www.steunpunt-baarn.nl", "email": "hallo@steunpunt.example",
                                           "phone": "035 123 45 67"}, page=page_of(ids))
    assert response.status_code == 303 and response.headers["Location"] == page_of(ids)
    html = editor.get(page_of(ids)).get_data(as_text=True)
    assert "De gegevens zijn opgeslagen." in html and 'value="https://www.steunpunt-baarn.nl"' in html
    with engine.connect() as conn:
        row = conn.execute(text("SELECT kind, services, website FROM partner WHERE id = :id"),
                           {"id": ids["baarn"]}).one()
    assert row == ("lokale_ondersteuner", ["advies", "training"], "https://www.steunpunt-baarn.nl")
    with Session(engine) as session:
        entry = accounts.history(session, "partner", ids["baarn"])[-1]
    assert entry["actor"] == "editor@example.nl" and entry["changes"]["website"][1] == "https://www.steunpunt-baarn.nl"

    again = post(editor, page_of(ids), {"name": "Steunpunt Baarn", "kind": "lokale_ondersteuner",
                                        "services": ["advies", "training"], "description": "Wij helpen.",
                                        "website": "https://www.steunpunt-baarn.nl", "email": "hallo@steunpunt.example",
                                        "phone": "035 123 45 67"}, page=page_of(ids), follow_redirects=True)
    assert "Er was niets veranderd." in again.get_data(as_text=True)


def test_a_wrong_profile_comes_back_with_the_reasons_and_changes_nothing(web_site, editor, ids, engine):
    before = state(engine)
    response = post(editor, page_of(ids), {"name": "", "kind": "fonds", "website": 'javascript:alert("x")',
                                           "email": "geen adres"}, page=page_of(ids))
    html = response.get_data(as_text=True)
    assert response.status_code == 400
    text_shown = unescape(html)
    assert "naam nodig" in text_shown and "is geen website" in text_shown and "geen geldig e-mailadres" in text_shown
    assert 'value="javascript:alert(&#34;x&#34;)"' in html  # what was typed stays, escaped
    assert html.count('aria-invalid="true"') >= 3
    assert state(engine) == before


# --- service areas: the three ways ------------------------------------------------------------------

def test_chosen_codes_become_an_area_that_the_gap_analysis_counts_until_it_is_removed(web_site, editor, ids,
                                                                                       engine):
    assert gap_coverage(editor, ZANDVOORT) == 0
    codes = ["WK030801", ZANDVOORT]
    page = page_of(ids) + "?gemeente=GM0308"
    response = post(editor, f"/beheer/partner/{ids['baarn']}/werkgebieden?gemeente=GM0308",
                    {"definitie": "codes", "name": "Noord en Zandvoort", "codes": codes}, page=page)
    assert response.status_code == 303
    html = editor.get(page_of(ids)).get_data(as_text=True)
    assert "Werkgebied &#39;Noord en Zandvoort&#39; is toegevoegd." in html
    area = areas_of(engine, ids["baarn"])["Noord en Zandvoort"]
    with engine.connect() as conn:
        assert area["area_m2"] == pytest.approx(cbs_union_area(conn, codes), rel=1e-9)
    assert area["definition"] == {"codes": sorted(codes)}
    assert gap_coverage(editor, ZANDVOORT) == 1.0

    delete = f"/beheer/partner/{ids['baarn']}/werkgebieden/{area['id']}/verwijderen"
    assert f'action="{delete}"' in html
    response = post(editor, delete, {}, page=page_of(ids), follow_redirects=True)
    assert "Werkgebied &#39;Noord en Zandvoort&#39; is verwijderd." in response.get_data(as_text=True)
    assert "Noord en Zandvoort" not in areas_of(engine, ids["baarn"])
    assert gap_coverage(editor, ZANDVOORT) == 0
    with Session(engine) as session:
        entries = accounts.history(session, "service_area", area["id"])
    assert [(e["action"], e["actor"]) for e in entries] == [("created", "editor@example.nl"),
                                                            ("removed", "editor@example.nl")]


def test_typed_codes_work_too(web_site, editor, ids, engine):
    response = post(editor, f"/beheer/partner/{ids['baarn']}/werkgebieden",
                    {"definitie": "codes", "name": "Getypt", "codes_text": "gm0308; WK030801"}, page=page_of(ids))
    assert response.status_code == 303
    assert areas_of(engine, ids["baarn"])["Getypt"]["definition"] == {"codes": ["GM0308", "WK030801"]}


def test_a_point_and_radius_become_a_circle(web_site, editor, ids, engine):
    response = post(editor, f"/beheer/partner/{ids['baarn']}/werkgebieden",
                    {"definitie": "radius", "name": "Rond het kantoor", "lat": "52,2165", "lon": "5.2878",
                     "radius_m": "800"}, page=page_of(ids))
    assert response.status_code == 303
    area = areas_of(engine, ids["baarn"])["Rond het kantoor"]
    assert area["area_m2"] == pytest.approx(math.pi * 800 ** 2, rel=0.01)
    assert area["definition"] == {"point": {"lat": 52.2165, "lon": 5.2878}, "radius_m": 800}


def test_an_uploaded_bowtie_is_repaired_and_the_page_says_so(web_site, editor, ids, engine):
    collection = {"type": "FeatureCollection", "features": [{"type": "Feature", "properties": {}, "geometry": BOWTIE}]}
    upload = (io.BytesIO(json.dumps(collection).encode()), "vlinder.geojson", "application/geo+json")
    response = post(editor, f"/beheer/partner/{ids['baarn']}/werkgebieden",
                    {"definitie": "geojson", "name": "Vlinder", "bestand": upload}, page=page_of(ids),
                    content_type="multipart/form-data", follow_redirects=True)
    html = response.get_data(as_text=True)
    assert response.status_code == 200 and "is toegevoegd" in html and "de rand snijdt zichzelf" in html
    area = areas_of(engine, ids["baarn"])["Vlinder"]
    assert area["valid"] and area["definition"] == {"geojson": BOWTIE}


@pytest.mark.parametrize("data, reason", [
    ({"definitie": "geojson", "name": "Kapot", "bestand": (b"{niet: json", "kapot.geojson")}, "geen leesbare JSON"),
    ({"definitie": "geojson", "name": "Leeg", "bestand": (b"", "leeg.geojson")}, "het bestand is leeg"),
    ({"definitie": "geojson", "name": "Latin-1", "bestand": ("{\"naam\": \"caf\xe9\"}".encode("latin-1"),
                                                             "oud.json")}, "geen UTF-8"),
    ({"definitie": "geojson", "name": "Punt", "bestand": (json.dumps({"type": "Point", "coordinates": [5.3, 52.2]})
                                                          .encode(), "punt.geojson")}, "kan geen werkgebied zijn"),
    ({"definitie": "geojson", "name": "Zonder bestand"}, "kies een GeoJSON-bestand"),
    ({"definitie": "radius", "name": "Zonder punt", "lat": "", "lon": "", "radius_m": "500"}, "ontbreekt"),
    ({"definitie": "radius", "name": "Te groot", "lat": "52.2", "lon": "5.3", "radius_m": "150000"},
     "tussen 1 en 100.000 meter"),
    ({"definitie": "codes", "name": "Niets gekozen"}, "minstens één CBS-code"),
    ({"definitie": "codes", "name": "", "codes": "GM0308"}, "naam nodig"),
    ({"definitie": "tekening", "name": "Onbekend"}, "Kies hoe je het werkgebied vastlegt"),
])
def test_wrong_areas_come_back_with_the_reason_and_change_nothing(web_site, editor, ids, engine, data, reason):
    data = {k: (io.BytesIO(v[0]), v[1]) if isinstance(v, tuple) else v for k, v in data.items()}
    before = state(engine)
    response = post(editor, f"/beheer/partner/{ids['baarn']}/werkgebieden", data, page=page_of(ids),
                    content_type="multipart/form-data")
    html = response.get_data(as_text=True)
    assert response.status_code == 400 and reason in unescape(html)
    assert 'role="alert"' in html and parse(html).h1 == 1
    if data.get("name") and data["definitie"] in ("codes", "radius", "geojson"):
        assert f'value="{data["name"]}"' in html  # the name typed stays in its form
    assert state(engine) == before


def test_an_upload_over_the_limit_is_refused(web_site, ids, engine):
    app = app_on(web_site[1], max_upload_mb=0.01)
    client = app.test_client()
    token = csrf_of(client.get("/inloggen").get_data(as_text=True))
    client.post("/inloggen", data={"email": "editor@example.nl", "password": PASSWORD, "csrf_token": token})
    before = state(engine)
    big = json.dumps({"type": "Polygon", "coordinates": [[[5.28, 52.21]] * 2000]}).encode()
    response = post(client, f"/beheer/partner/{ids['baarn']}/werkgebieden",
                    {"definitie": "geojson", "name": "Groot", "bestand": (io.BytesIO(big), "groot.geojson")},
                    page=page_of(ids), content_type="multipart/form-data")
    assert response.status_code == 413 and "te groot" in response.get_data(as_text=True)
    assert state(engine) == before


def test_names_are_shown_as_text(web_site, editor, ids, engine):
    response = post(editor, f"/beheer/partner/{ids['baarn']}/werkgebieden",
                    {"definitie": "codes", "name": XSS, "codes": "BU03080000"}, page=page_of(ids),
                    follow_redirects=True)
    html = response.get_data(as_text=True)
    assert XSS not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html


def test_an_admin_edits_any_partner_on_the_web(web_site, ids, engine):
    admin = login(web_site, "admin")
    page = f"/beheer/partner/{ids['utrecht']}"
    assert admin.get(page).status_code == 200
    response = post(admin, page, {"name": "Wijkfonds Utrecht", "kind": "fonds", "phone": "030 111 22 33"}, page=page)
    assert response.status_code == 303
    with Session(engine) as session:
        entry = accounts.history(session, "partner", ids["utrecht"])[-1]
    assert entry["actor"] == "admin@example.nl" and entry["changes"]["phone"] == [None, "030 111 22 33"]


# --- in a browser: the map fills the point form without sending it ----------------------------------

SCHOONOORDPARK = "BU03080001"
# Where a WGS84 point is inside the Folium map element (Folium names the map's variable after its element).
POINT_ON_MAP = """([lat, lon]) => {
    const map = window[document.querySelector('.folium-map').id];
    const point = map.latLngToContainerPoint([lat, lon]);
    return [point.x, point.y];
}"""

def test_clicking_the_map_fills_the_point_and_the_form_adds_the_circle(web_site, ids, engine, browser):
    from .browser_support import LiveServer, wait_for_layer, watch_page

    # A service area under the click: its popup must not swallow the click that picks the point.
    with engine.begin() as conn:
        conn.execute(text("DELETE FROM service_area WHERE partner_id = :id AND name = 'Schoonoordpark'"),
                     {"id": ids["baarn"]})
        add_service_area(conn, ids["baarn"], "Schoonoordpark", BUURT_GEOM, code=SCHOONOORDPARK)
        inside_lat, inside_lon = conn.execute(text(
            "SELECT ST_Y(p), ST_X(p) FROM (SELECT ST_Transform(ST_PointOnSurface(geom), 4326) AS p FROM buurt "
            "WHERE jaar = 2024 AND code = :code) AS s"), {"code": SCHOONOORDPARK}).one()
    with LiveServer(web_site[0]) as live:
        page = browser.new_page()
        try:
            watch = watch_page(page, live.url)
            page.goto(f"{live.url}/inloggen?next=/beheer/partner")
            page.fill("#email", "editor@example.nl")
            page.fill("#password", PASSWORD)
            page.click("main form button[type=submit]")
            page.wait_for_url(f"{live.url}{page_of(ids)}")
            wait_for_layer(page, "service_areas")
            page.fill("#radius-name", "Aangeklikt")
            page.fill("#radius-m", "600")
            box = page.locator(".map-box .folium-map").bounding_box()
            x, y = page.evaluate(POINT_ON_MAP, [inside_lat, inside_lon])
            page.mouse.click(box["x"] + x, box["y"] + y)
            lat, lon = float(page.input_value("#radius-lat")), float(page.input_value("#radius-lon"))
            assert page.url == f"{live.url}{page_of(ids)}"  # filled, not sent
            assert "Punt gekozen" in page.text_content("#map-status")
            assert lat == pytest.approx(inside_lat, abs=1e-4) and lon == pytest.approx(inside_lon, abs=1e-4)
            assert page.locator("path[stroke='#e07a00']").count() == 2  # the point and its circle
            page.click("#radius-form button[type=submit]")
            page.wait_for_selector("#bevestiging")
            assert "Werkgebied 'Aangeklikt' is toegevoegd." in page.text_content("#bevestiging")
            assert watch.problems() == {}
        finally:
            page.close()
    area = areas_of(engine, ids["baarn"])["Aangeklikt"]
    assert area["definition"] == {"point": {"lat": lat, "lon": lon}, "radius_m": 600}
    assert area["area_m2"] == pytest.approx(math.pi * 600 ** 2, rel=0.01)


def test_a_partner_editor_finds_their_partner_from_the_menu_and_beheer(web_site, editor, ids):
    html = editor.get("/gemeenten").get_data(as_text=True)
    assert 'href="/beheer/partner">Partnerbeheer</a>' in html and ">Beheer</a>" not in html
    assert editor.get("/beheer").headers["Location"].endswith("/beheer/partner")
    assert editor.get("/beheer/partner").headers["Location"].endswith(page_of(ids))
