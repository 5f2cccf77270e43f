"""The initiative page `/initiatief/<id>` through Flask's test client, on a private database."""

from __future__ import annotations

import datetime as dt
import json
import os
import re
from html import unescape
from itertools import pairwise

import pytest
from sqlalchemy import text

from geoservice.db import make_engine
from geoservice.vocab import INITIATIVE_KINDS, THEMES

from .conftest import app_on
from .helpers import make_initiative

XSS_NAME = "<img src=x onerror=alert(1)>"
XSS_DESCRIPTION = "<script>alert(1)</script>"
MAASTRICHT = (5.691, 50.851)  # a gemeente without buurten in the shipped data: the wijk is the finest level


@pytest.fixture(scope="module")
def site(pg_server, template_db):
    """(test client, initiative ids, database URL) on a copy of the CBS template with a few initiatives."""
    name = f"geoservice_test_web_initiative_{os.getpid()}"
    url = pg_server.create(name, template=template_db)
    engine = make_engine(url)
    with engine.begin() as conn:
        ids = {
            "full": make_initiative(
                conn, name="Wijkcoöperatie Staatsliedenwijk", kind="wijkcooperatie",
                themes=["ontmoeting", "groen_natuur"], description="Samen voor een groene wijk.\nElke dinsdag koffie.",
                website="https://wijk.example/baarn?x=1&y=2", email="info@wijk.example", phone="035 123 45 67",
                address="Oranjelaan 1", postcode="3741 AB", last_verified=dt.date(2026, 3, 12)),
            "demo": make_initiative(conn, lon=5.2790, lat=52.2110, name="Buurtmoestuin (voorbeeld)", source="demo"),
            "xss": make_initiative(conn, name=XSS_NAME, description=XSS_DESCRIPTION, website="javascript:alert(1)",
                                   email="javascript:alert(1)//@x.nl", phone="bel maar"),
            "pending": make_initiative(conn, name="Nog niet gepubliceerd", status="pending"),
            "archived": make_initiative(conn, name="Gestopt", status="archived"),
            "maastricht": make_initiative(conn, lon=MAASTRICHT[0], lat=MAASTRICHT[1], name="Buurtkamer Centrum"),
        }
    engine.dispose()
    app = app_on(url)
    yield app.test_client(), ids, url
    pg_server.drop(name)


def page(client, initiative_id: int) -> str:
    response = client.get(f"/initiatief/{initiative_id}")
    assert response.status_code == 200 and response.mimetype == "text/html"
    return response.get_data(as_text=True)


def areas_of(url: str, initiative_id: int) -> dict[str, tuple[str | None, str | None]]:
    """{level: (code, naam)} of an initiative, straight from the database."""
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            row = conn.execute(text("""
                SELECT i.buurtcode, b.naam AS buurtnaam, i.wijkcode, w.naam AS wijknaam,
                       i.gemeentecode, g.naam AS gemeentenaam, ST_X(ST_Transform(i.location, 4326)) AS lon,
                       ST_Y(ST_Transform(i.location, 4326)) AS lat
                FROM initiative AS i
                LEFT JOIN buurt AS b ON b.jaar = i.areas_jaar AND b.code = i.buurtcode
                LEFT JOIN wijk AS w ON w.jaar = i.areas_jaar AND w.code = i.wijkcode
                LEFT JOIN gemeente AS g ON g.jaar = i.areas_jaar AND g.code = i.gemeentecode
                WHERE i.id = :id"""), {"id": initiative_id}).one()
    finally:
        engine.dispose()
    return {"buurt": (row.buurtcode, row.buurtnaam), "wijk": (row.wijkcode, row.wijknaam),
            "gemeente": (row.gemeentecode, row.gemeentenaam), "point": (row.lon, row.lat)}


def layers(html: str) -> list[tuple[str, dict]]:
    """(url, options) of every layer the page asks map.js to load."""
    found, decoder = [], json.JSONDecoder()
    for match in re.finditer(r"Samenkaart\.loadLayer\(\w+, ", html):
        url, end = decoder.raw_decode(html, match.end())
        options, _ = decoder.raw_decode(html, end + len(", "))
        found.append((url, options))
    return found


def facts(html: str) -> dict[str, str]:
    """The <dt>/<dd> pairs of the page as plain text."""
    return {unescape(re.sub(r"<[^>]+>", "", dt_)).strip(): unescape(re.sub(r"<[^>]+>", "", dd)).strip()
            for dt_, dd in re.findall(r"<dt>(.*?)</dt>\s*<dd>(.*?)</dd>", html, re.DOTALL)}


def test_the_page_shows_the_initiative_with_dutch_labels(site):
    client, ids, _ = site
    html = page(client, ids["full"])
    assert '<html lang="nl">' in html and html.count("<h1") == 1
    assert "<h1>Wijkcoöperatie Staatsliedenwijk</h1>" in html
    assert "<title>Wijkcoöperatie Staatsliedenwijk · Samenkaart</title>" in html
    assert "Samen voor een groene wijk.\nElke dinsdag koffie." in html
    shown = facts(html)
    assert shown["Soort"] == INITIATIVE_KINDS["wijkcooperatie"]
    assert shown["Thema's"] == f"{THEMES['ontmoeting']}, {THEMES['groen_natuur']}"
    assert shown["Telefoon"] == "035 123 45 67" and shown["Adres"] == "Oranjelaan 1, 3741 AB"
    assert '<a href="https://wijk.example/baarn?x=1&amp;y=2" rel="nofollow noopener">' in html
    assert '<a href="mailto:info@wijk.example">info@wijk.example</a>' in html
    assert '<a href="tel:0351234567">' in html
    assert "Laatst gecontroleerd: 12 maart 2026" in html
    assert "Dit is een voorbeeld" not in html
    # headings in order: one h1, then h2s
    levels = [int(n) for n in re.findall(r"<h([1-6])", html)]
    assert levels[0] == 1 and all(b - a <= 1 for a, b in pairwise(levels))


def test_the_page_names_its_buurt_wijk_and_gemeente_from_the_cbs_map(site):
    client, ids, url = site
    html = page(client, ids["full"])
    areas = areas_of(url, ids["full"])
    shown = facts(html)
    for level in ("buurt", "wijk", "gemeente"):
        code, naam = areas[level]
        assert code and naam
        assert shown[level.capitalize()] == naam  # residents read names, not CBS codes (issue 13)
        assert code not in shown[level.capitalize()]
    assert f'<a href="/gemeente/{areas["gemeente"][0]}">{areas["gemeente"][1]}</a>' in html


def test_the_small_map_loads_the_initiative_and_its_buurt_from_the_api(site):
    client, ids, url = site
    html = page(client, ids["full"])
    areas = areas_of(url, ids["full"])
    lon, lat = areas["point"]
    # centred on the initiative, close in
    centre = re.search(r"center: \[([-\d.]+), ([-\d.]+)\]", html)
    assert [float(centre[1]), float(centre[2])] == pytest.approx([lat, lon], abs=1e-6)
    assert '"zoom": 15' in html
    found = {options["kind"]: url for url, options in layers(html)}
    assert set(found) == {"initiatives", "area"}
    response = client.get(found["initiatives"])
    assert response.status_code == 200 and response.mimetype == "application/geo+json"
    feature = response.get_json()
    assert feature["id"] == ids["full"] and feature["properties"]["name"] == "Wijkcoöperatie Staatsliedenwijk"
    assert feature["geometry"]["coordinates"] == pytest.approx([lon, lat], abs=1e-6)
    response = client.get(found["area"])
    assert response.status_code == 200
    outline = response.get_json()
    assert outline["id"] == areas["buurt"][0] and outline["properties"]["level"] == "buurt"
    assert outline["geometry"]["type"] in ("Polygon", "MultiPolygon")
    # no layer is embedded: the page carries no coordinates of the outline
    assert '"coordinates"' not in html


def test_without_buurten_the_wijk_is_the_outline(site):
    client, ids, url = site
    html = page(client, ids["maastricht"])
    areas = areas_of(url, ids["maastricht"])
    assert areas["buurt"] == (None, None) and areas["wijk"][0]
    shown = facts(html)
    assert "Buurt" not in shown and shown["Wijk"] == areas['wijk'][1]
    found = {options["kind"]: url for url, options in layers(html)}
    outline = client.get(found["area"]).get_json()
    assert outline["id"] == areas["wijk"][0] and outline["properties"]["level"] == "wijk"


def test_demo_data_says_so_and_unverified_data_too(site):
    client, ids, _ = site
    html = page(client, ids["demo"])
    assert "Dit is een voorbeeld, geen echt initiatief." in html
    assert "nog niet gecontroleerd" in html and "Laatst gecontroleerd:" not in html
    assert "Er zijn geen contactgegevens bekend." in html


def test_user_text_is_escaped_and_a_javascript_website_is_no_link(site):
    client, ids, _ = site
    html = page(client, ids["xss"])
    assert XSS_NAME not in html and XSS_DESCRIPTION not in html
    assert "<script>alert" not in html and "<img src=x" not in html
    assert "<h1>&lt;img src=x onerror=alert(1)&gt;</h1>" in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert not re.search(r"href=[\"']?\s*javascript:", html, re.IGNORECASE)
    shown = facts(html)
    assert shown["Website"] == "javascript:alert(1)"  # shown, as text
    assert shown["E-mail"] == "javascript:alert(1)//@x.nl" and "mailto:" not in html
    assert shown["Telefoon"] == "bel maar" and "tel:" not in html
    # nor does the map script carry the name: map.js fetches it and writes it as text
    script = html[html.index("Samenkaart.loadLayer"):]
    assert "onerror" not in script


@pytest.mark.parametrize("which", ["pending", "archived", "missing", "huge"])
def test_unknown_or_unpublished_is_a_dutch_404_page(site, which):
    client, ids, _ = site
    initiative_id = {"missing": 999_999, "huge": 99_999_999_999}.get(which) or ids[which]
    response = client.get(f"/initiatief/{initiative_id}")
    assert response.status_code == 404 and response.mimetype == "text/html"
    html = response.get_data(as_text=True)
    assert '<html lang="nl">' in html and "<h1>Niet gevonden</h1>" in html
    assert f"Er is geen initiatief met nummer {initiative_id}" in html
    assert "Traceback" not in html
    # the API agrees: nothing published there
    assert client.get(f"/api/v1/initiatives/{initiative_id}").status_code == 404


def test_a_non_numeric_id_is_a_dutch_404_page_too(site):
    client, _, _ = site
    response = client.get("/initiatief/abc")
    assert response.status_code == 404 and response.mimetype == "text/html"
    assert "Deze pagina of dit gegeven bestaat niet." in response.get_data(as_text=True)
