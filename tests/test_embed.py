"""/embed/kaart: the map and the list for other websites, which may frame it; every other page may not."""

from __future__ import annotations

import re

import pytest

from geoservice.config import Settings

from .conftest import app_on
from .helpers import BUURT_GEOM, add_partner, add_service_area, make_initiative, seeded_database
from .test_web_gemeenten import _Tree


def soup(html: str):
    """The page as a tree (the dashboards' tests' own small parser): find, find_all, attrs, text."""
    tree = _Tree()
    tree.feed(html)
    return tree.root


def seed(session) -> dict:
    ids = {"baarn": make_initiative(session, name="Buurtmoestuin <b>Baarn</b> (testdata)"),
           "amsterdam": make_initiative(session, lon=4.8952, lat=52.3702, name="Dam-café (testdata)")}
    ids["partner"] = add_partner(session, 'Steunpunt "Staatsliedenwijk"')
    add_service_area(session, ids["partner"], "Staatsliedenwijk", BUURT_GEOM, code="BU03080102")
    return ids


@pytest.fixture(scope="module")
def site(pg_server, template_db):
    with seeded_database(pg_server, template_db, "embed", seed) as (url, ids):
        app = app_on(url, geocoder="offline")
        yield app, ids, url


def frame_ancestors(response) -> str:
    return re.search(r"frame-ancestors ([^;]+)", response.headers["Content-Security-Policy"]).group(1)


def test_the_embed_can_be_framed_and_the_other_pages_cannot(site):
    app, ids, _url = site
    client = app.test_client()
    for path in ("/embed/kaart", "/embed/kaart?gemeente=GM0308", f"/embed/kaart?partner={ids['partner']}",
                 "/embed/kaart?q=3741"):
        response = client.get(path)
        assert response.status_code == 200, path
        assert frame_ancestors(response) == "*", path
    for path in ("/", "/aanmelden", "/inloggen", "/gemeente/GM0308", f"/partner/{ids['partner']}"):
        response = client.get(path)
        assert frame_ancestors(response) == "'self'", path


def test_the_framing_origins_come_from_the_setting(site, app_for):
    _app, _ids, url = site
    client = app_for(url, embed_origins="https://www.baarn.nl  https://*.example.org").test_client()
    assert frame_ancestors(client.get("/embed/kaart")) == "https://www.baarn.nl https://*.example.org"
    assert frame_ancestors(client.get("/")) == "'self'"
    with pytest.raises(ValueError, match="GEOSERVICE_EMBED_ORIGINS"):
        Settings(embed_origins="https://a.nl; script-src *")
    from_env = Settings.from_env({"GEOSERVICE_EMBED_ORIGINS": "https://www.baarn.nl"})
    assert from_env.embed_origins == "https://www.baarn.nl"


def test_just_the_map_and_the_list_with_a_link_to_the_full_page(site):
    app, ids, _url = site
    page = soup(app.test_client().get("/embed/kaart?gemeente=GM0308").get_data(as_text=True))
    assert page.find("nav") is None and page.find("header", "site-header") is None  # no site menu
    assert page.find("div", "map-box") is not None
    listed = {a.text: a.attrs["href"] for a in page.find("ul", "embed-list").find_all("a")}
    assert listed == {"Buurtmoestuin <b>Baarn</b> (testdata)": f"http://localhost/initiatief/{ids['baarn']}"}
    assert all(a.attrs["target"] == "_top" for a in page.find("ul", "embed-list").find_all("a"))
    full = page.find("p", "embed-link").find("a")
    assert full.attrs["href"] == "http://localhost/gemeente/GM0308" and full.attrs["target"] == "_top"


def test_partner_and_search_embeds(site):
    app, ids, _url = site
    client = app.test_client()
    page = soup(client.get(f"/embed/kaart?partner={ids['partner']}").get_data(as_text=True))
    assert [a.text for a in page.find("ul", "embed-list").find_all("a")] == ["Buurtmoestuin <b>Baarn</b> (testdata)"]
    assert page.find("p", "embed-link").find("a").attrs["href"] == f"http://localhost/partner/{ids['partner']}"
    page = soup(client.get("/embed/kaart?q=3741&radius_m=5000").get_data(as_text=True))
    assert "Buurtmoestuin <b>Baarn</b> (testdata)" in [a.text for a in page.find("ul", "embed-list").find_all("a")]
    assert page.find("p", "embed-link").find("a").attrs["href"] == "http://localhost/?q=3741&radius_m=5000"
    bad = client.get("/embed/kaart?gemeente=GM0308&partner=1")
    assert bad.status_code == 400 and "niet allebei" in bad.get_data(as_text=True)
    assert client.get("/embed/kaart?gemeente=GM9999").status_code == 404


def test_gemeente_and_partner_pages_offer_the_iframe_snippet(site):
    app, ids, _url = site
    client = app.test_client()
    for page, embed in (("/gemeente/GM0308", "http://localhost/embed/kaart?gemeente=GM0308"),
                        (f"/partner/{ids['partner']}", f"http://localhost/embed/kaart?partner={ids['partner']}")):
        html = soup(client.get(page).get_data(as_text=True))
        snippet = html.find("textarea", id="embed-snippet-code").text
        iframe = soup(snippet).find("iframe")
        assert iframe.attrs["src"] == embed and iframe.attrs["title"], page
        assert client.get(iframe.attrs["src"].removeprefix("http://localhost")).status_code == 200
