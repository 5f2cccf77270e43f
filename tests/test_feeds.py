"""Atom feeds of new initiatives: valid Atom 1.0 (parsed by feedparser), the listing's filters, a partner's
areas and reach, entries linking to the initiative's page, ETag and 304, and the pages linking to them."""

from __future__ import annotations

import feedparser
import pytest
from sqlalchemy import text


from .conftest import app_on
from .helpers import BUURT_GEOM, add_partner, add_service_area, make_initiative, seeded_database

BAARN = (5.2878, 52.2165)  # Staatsliedenwijk, Baarn (BU03080102)
AMSTERDAM = (4.8952, 52.3702)  # near the Dam


def seed(session) -> dict:
    lon, lat = session.execute(text(
        "SELECT ST_X(p), ST_Y(p) FROM (SELECT ST_Transform(ST_PointOnSurface(geom), 4326) AS p FROM buurt "
        "WHERE jaar = 2024 AND code = 'BU03080103') AS s")).one()  # Schilderswijk, next to Staatsliedenwijk
    ids = {
        "baarn": make_initiative(session, lon=BAARN[0], lat=BAARN[1], name="Buurtmoestuin <Baarn> & co (testdata)",
                                 kind="bewonersinitiatief", themes=["groen_natuur"]),
        "baarn_other": make_initiative(session, lon=lon, lat=lat, name="Repaircafé Noord (testdata)",
                                        kind="vrijwilligersgroep", themes=["ontmoeting"]),
        "amsterdam": make_initiative(session, lon=AMSTERDAM[0], lat=AMSTERDAM[1], name="Dam-café (testdata)",
                                     kind="wijkcooperatie", themes=["ontmoeting"]),
        "hidden": make_initiative(session, lon=BAARN[0], lat=BAARN[1], name="Nog niet openbaar (testdata)",
                                  status="pending"),
    }
    # the Amsterdam one is the newest
    session.execute(text("UPDATE initiative SET updated_at = now() - interval '1 day' WHERE id <> :id"),
                    {"id": ids["amsterdam"]})
    ids["partner"] = add_partner(session, "Steunpunt Staatsliedenwijk")
    add_service_area(session, ids["partner"], "Staatsliedenwijk", BUURT_GEOM, code="BU03080102")
    ids["no_areas"] = add_partner(session, "Nog zonder werkgebied")
    return ids


@pytest.fixture(scope="module")
def site(pg_server, template_db):
    with seeded_database(pg_server, template_db, "feeds", seed) as (url, ids):
        app = app_on(url)
        yield app.test_client(), ids


def parse(response) -> feedparser.FeedParserDict:
    assert response.status_code == 200 and response.mimetype == "application/atom+xml"
    feed = feedparser.parse(response.get_data())
    assert not feed.bozo, feed.get("bozo_exception")
    assert feed.version == "atom10"
    return feed


def names(feed) -> list[str]:
    return [entry.title for entry in feed.entries]


def test_the_national_feed_lists_published_initiatives_newest_first(site):
    client, ids = site
    feed = parse(client.get("/feeds/initiatieven.atom"))
    assert names(feed)[0] == "Dam-café (testdata)"
    assert set(names(feed)) == {"Dam-café (testdata)", "Buurtmoestuin <Baarn> & co (testdata)",
                                "Repaircafé Noord (testdata)"}
    entry = next(e for e in feed.entries if e.title.startswith("Buurtmoestuin"))
    assert entry.link == f"http://localhost/initiatief/{ids['baarn']}"
    assert entry.id == entry.link and entry.updated_parsed is not None
    assert "Bewonersinitiatief · Groen en natuur" in entry.summary
    assert {tag.term for tag in entry.tags} == {"bewonersinitiatief", "groen_natuur"}
    assert feed.feed.author == "Samenkaart" and feed.feed.links[0].rel == "self"


@pytest.mark.parametrize("query, expected", [
    ("gemeente=GM0308", {"Buurtmoestuin <Baarn> & co (testdata)", "Repaircafé Noord (testdata)"}),
    ("buurt=BU03080102", {"Buurtmoestuin <Baarn> & co (testdata)"}),
    ("kind=wijkcooperatie", {"Dam-café (testdata)"}),
    ("theme=ontmoeting&gemeente=gm0363", {"Dam-café (testdata)"}),
    ("bbox=4.8,52.3,5.0,52.4", {"Dam-café (testdata)"}),
    ("wijk=WK030801", {"Buurtmoestuin <Baarn> & co (testdata)", "Repaircafé Noord (testdata)"}),
    ("buurt=BU03080500", set()),
])
def test_the_feed_takes_the_listings_filters(site, query, expected):
    client, _ids = site
    assert set(names(parse(client.get(f"/feeds/initiatieven.atom?{query}")))) == expected
    listing = client.get(f"/api/v1/initiatives?{query}").get_json()
    assert {f["properties"]["name"] for f in listing["features"]} == expected  # the listing agrees


def test_bad_filters_are_refused_as_the_listing_refuses_them(site):
    client, _ids = site
    assert client.get("/feeds/initiatieven.atom?bbox=1,2,3").status_code == 400
    assert client.get("/feeds/initiatieven.atom?kind=kerk").status_code == 400


def test_the_partner_feed_covers_its_areas_and_their_reach(site):
    client, ids = site
    inside = parse(client.get(f"/feeds/partner/{ids['partner']}.atom?reach_m=0"))
    assert names(inside) == ["Buurtmoestuin <Baarn> & co (testdata)"]
    default = parse(client.get(f"/feeds/partner/{ids['partner']}.atom"))  # 10 km: Schilderswijk, not Amsterdam
    assert set(names(default)) == {"Buurtmoestuin <Baarn> & co (testdata)", "Repaircafé Noord (testdata)"}
    assert "Steunpunt Staatsliedenwijk" in default.feed.title
    assert names(parse(client.get(f"/feeds/partner/{ids['no_areas']}.atom"))) == []
    assert client.get("/feeds/partner/999999.atom").status_code == 404
    assert client.get(f"/feeds/partner/{ids['partner']}.atom?reach_m=-1").status_code == 400


def test_etag_and_not_modified(site):
    client, ids = site
    for path in ("/feeds/initiatieven.atom?gemeente=GM0308", f"/feeds/partner/{ids['partner']}.atom"):
        first = client.get(path)
        assert first.headers["ETag"] and "max-age" in first.headers["Cache-Control"]
        again = client.get(path, headers={"If-None-Match": first.headers["ETag"]})
        assert again.status_code == 304 and not again.get_data()


def test_pages_link_their_feed(site):
    client, ids = site
    for page, feed in (("/", "/feeds/initiatieven.atom"),
                       ("/gemeente/GM0308", "/feeds/initiatieven.atom?gemeente=GM0308"),
                       (f"/partner/{ids['partner']}", f"/feeds/partner/{ids['partner']}.atom")):
        html = client.get(page).get_data(as_text=True)
        assert f'<link rel="alternate" type="application/atom+xml"' in html, page
        assert f'href="{feed}"' in html, page
        parse(client.get(feed))
