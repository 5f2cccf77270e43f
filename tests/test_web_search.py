"""The resident search page `/` and the information pages, through Flask's test client."""

from __future__ import annotations

import re
from html import unescape

import pytest
from sqlalchemy import create_engine

from geoservice.geocode import pc4_table
from geoservice.vocab import INITIATIVE_KINDS

from .helpers import BUURT_GEOM, add_partner, add_service_area, make_initiative

XSS_NAME = "<img src=x onerror=alert(1)>"
BAARN_PC4 = "3741"


@pytest.fixture
def baarn(fresh_db_url, app_for):
    """An app (offline geocoder) on a database with initiatives around postcode 3741 in Baarn."""
    centre = pc4_table(app_for(fresh_db_url).extensions["geoservice.settings"].postcode_file)[BAARN_PC4]
    engine = create_engine(fresh_db_url)
    with engine.begin() as conn:
        # about 110 m per 0.001° of latitude: three at growing distances, one far away
        ids = {
            "near": make_initiative(conn, lon=centre.lon, lat=centre.lat + 0.002, name="Buurtmoestuin Baarn",
                                    kind="bewonersinitiatief", themes=["groen_natuur"],
                                    website="https://moestuin.example"),
            "middle": make_initiative(conn, lon=centre.lon, lat=centre.lat + 0.006, name="Energie Baarn",
                                      kind="energiecooperatie", themes=["energie_klimaat"]),
            "xss": make_initiative(conn, lon=centre.lon + 0.004, lat=centre.lat + 0.004, name=XSS_NAME,
                                   kind="bewonersinitiatief", website="javascript:alert(1)"),
            "far": make_initiative(conn, lon=centre.lon, lat=centre.lat + 0.05, name="Ver weg"),
        }
    engine.dispose()
    app = app_for(fresh_db_url, geocoder="offline")
    return app, centre, ids


def result_names(html: str) -> list[str]:
    return [unescape(n) for n in re.findall(r'<a class="name" href="/initiatief/\d+">([^<]*)</a>', html)]


def distances_m(html: str) -> list[float]:
    found = []
    for value in re.findall(r'<span class="distance">([^<]*)</span>', html):
        number, unit = value.split()
        found.append(float(number.replace(".", "").replace(",", ".")) * (1000 if unit == "km" else 1))
    return found


def test_start_page_has_a_labelled_search_form_and_a_map_without_data(client):
    response = client.get("/")
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert '<html lang="nl">' in html and html.count("<h1") == 1
    assert '<label for="q">Adres of postcode</label>' in html and 'name="q"' in html
    for control in re.findall(r'<(?:input|select)[^>]*\bid="([^"]+)"', html):
        assert f'for="{control}"' in html, f"control {control} has no label"
    # the map's libraries are our own copies: no CDN, so it works offline and under a strict CSP
    assert not re.search(r'<(?:script|link)[^>]+(?:src|href)="https?://', html)
    assert "leaflet.js" in html and "map.js" in html


def test_postcode_search_lists_initiatives_nearest_first(baarn):
    app, _, ids = baarn
    html = app.test_client().get(f"/?q={BAARN_PC4}&radius_m=2000").get_data(as_text=True)
    names = result_names(html)
    assert names == ["Buurtmoestuin Baarn", XSS_NAME, "Energie Baarn"]
    found = distances_m(html)
    assert found == sorted(found) and found[0] < 300
    assert "3 initiatieven binnen 2,0 km" in html
    assert f'href="/initiatief/{ids["near"]}"' in html
    assert '<a href="https://moestuin.example" rel="nofollow noopener">' in html


def test_the_map_loads_the_same_search_from_the_api(baarn):
    app, _, _ = baarn
    client = app.test_client()
    html = client.get(f"/?q={BAARN_PC4}&radius_m=1000&kind=bewonersinitiatief").get_data(as_text=True)
    url = unescape(re.search(r'Samenkaart\.loadLayer\([^,]+, "([^"]+)", \{[^}]*"kind": "initiatives"', html)
                   .group(1).encode().decode("unicode_escape"))
    assert url.startswith("/api/v1/initiatives/nearby?")
    layer = client.get(url)
    assert layer.status_code == 200 and layer.mimetype == "application/geo+json"
    assert [f["properties"]["name"] for f in layer.get_json()["features"]] == result_names(html)
    assert "FeatureCollection" not in html  # loaded by URL, never embedded


def test_filters_and_radius_are_kept_in_the_shared_url(baarn):
    app, _, _ = baarn
    html = app.test_client().get(f"/?q={BAARN_PC4}&radius_m=1000&kind=energiecooperatie").get_data(as_text=True)
    assert result_names(html) == ["Energie Baarn"]
    assert re.search(r'value="energiecooperatie" checked', html)
    assert re.search(r'<option value="1000" selected>', html)
    assert f'value="{BAARN_PC4}"' in html
    assert INITIATIVE_KINDS["energiecooperatie"] in html


def test_a_point_on_the_map_searches_from_there(baarn):
    app, centre, _ = baarn
    html = app.test_client().get(f"/?lat={centre.lat + 0.05}&lon={centre.lon}&radius_m=500").get_data(as_text=True)
    assert result_names(html) == ["Ver weg"]
    assert "het gekozen punt op de kaart" in html


def test_user_text_is_shown_as_text_and_javascript_links_are_not_links(baarn):
    app, _, _ = baarn
    html = app.test_client().get(f"/?q={BAARN_PC4}").get_data(as_text=True)
    assert XSS_NAME not in html
    assert "&lt;img src=x onerror=alert(1)&gt;" in html
    assert 'href="javascript:' not in html.lower()
    assert "javascript:alert(1)" in html  # shown, as plain text


def test_partners_serving_the_buurt_are_named(baarn, fresh_db_url):
    app, centre, _ = baarn
    client = app.test_client()
    point = client.get(f"/api/v1/areas/lookup?lat={centre.lat}&lon={centre.lon}").get_json()
    engine = create_engine(fresh_db_url)
    with engine.begin() as conn:
        partner = add_partner(conn, "Steunpunt <b>Baarn</b>")
        add_service_area(conn, partner, "Hele buurt", BUURT_GEOM, code=point["buurt"]["code"])
    engine.dispose()
    html = client.get(f"/?q={BAARN_PC4}").get_data(as_text=True)
    assert "Wie ondersteunt in jouw buurt?" in html
    assert point["buurt"]["naam"] in html
    assert f'<a href="/partner/{partner}">Steunpunt &lt;b&gt;Baarn&lt;/b&gt;</a>' in html


def test_nothing_nearby_offers_a_larger_distance_the_submission_form_and_the_support_block(baarn):
    app, centre, _ = baarn
    response = app.test_client().get(f"/?lat={centre.lat - 0.05}&lon={centre.lon}&radius_m=500")
    html = unescape(response.get_data(as_text=True))
    assert response.status_code == 200
    assert "Geen initiatieven gevonden" in html
    larger = re.search(r'<a href="(/\?[^"]*radius_m=1000[^"]*)">Zoek binnen 1,0 km</a>', html)
    assert larger, "no link to a larger distance"
    assert '<a href="/aanmelden">Meld het aan</a>' in html
    # the point lies in a Baarn buurt or wijk: who supports people there is still told
    assert "Wie ondersteunt in jouw buurt?" in html
    assert "Ver weg" not in result_names(html)


def test_a_postcode_search_says_it_measured_from_the_centre_and_rounds_to_100_m(baarn):
    app, _, _ = baarn
    html = unescape(app.test_client().get(f"/?q={BAARN_PC4}").get_data(as_text=True))
    assert "Gemeten vanaf het midden van het postcodegebied" in html and "afgerond op 100 m" in html
    assert all(d % 100 == 0 for d in distances_m(html)), distances_m(html)
    # a point on the map is exact: to the metre
    point = unescape(app.test_client().get("/?lat=52.2195&lon=5.2856").get_data(as_text=True))
    assert "afgerond" not in point and any(d % 100 for d in distances_m(point))


def test_the_buurt_is_named_with_its_gemeente_not_its_code(baarn):
    app, _, _ = baarn
    html = unescape(app.test_client().get(f"/?q={BAARN_PC4}").get_data(as_text=True))
    found = re.search(r"Je zoekpunt ligt in buurt <strong>([^<]+)</strong>", html)
    assert found and found.group(1).endswith("(Baarn)") and "BU0308" not in found.group(1)
    assert not re.search(r"BU\d{8}", html.split("<footer")[0].split("<script")[0])


@pytest.fixture
def crowded(fresh_db_url, app_for):
    """60 initiatives within 1 km of the 3741 centroid: three pages of results."""
    centre = pc4_table(app_for(fresh_db_url).extensions["geoservice.settings"].postcode_file)[BAARN_PC4]
    engine = create_engine(fresh_db_url)
    with engine.begin() as conn:
        for i in range(60):
            make_initiative(conn, lon=centre.lon + 0.0001 * (i % 7), lat=centre.lat + 0.00012 * i,
                            name=f"Initiatief {i:02d}")
    engine.dispose()
    return app_for(fresh_db_url, geocoder="offline")


def test_every_result_is_reachable_through_the_result_pages(crowded):
    client, seen, url, pages = crowded.test_client(), [], f"/?q={BAARN_PC4}&radius_m=1000", 0
    while url:
        html = unescape(client.get(url).get_data(as_text=True))
        pages += 1
        assert "60 initiatieven binnen 1,0 km" in html
        seen += result_names(html)
        assert f"Pagina {pages} van 3" in html
        following = re.search(r'<a rel="next" href="([^"]+)">', html)
        head = re.search(r'<link rel="next" href="([^"]+)">', html)
        assert (head.group(1) if head else None) == (following.group(1) if following else None)
        url = following.group(1) if following else None
        if url:
            assert f"page={pages + 1}" in url and "radius_m=1000" in url
    assert pages == 3
    assert sorted(seen) == [f"Initiatief {i:02d}" for i in range(60)] and len(set(seen)) == 60
    distances = [d for d in distances_m(html)]
    assert distances == sorted(distances)


def test_the_map_of_a_result_page_loads_that_page(crowded):
    html = unescape(crowded.test_client().get(f"/?q={BAARN_PC4}&radius_m=1000&page=2").get_data(as_text=True))
    api = re.search(r'"(/api/v1/initiatives/nearby\?[^"]+)"', html).group(1).replace("\\u0026", "&")
    assert "offset=25" in api and "limit=25" in api
    data = crowded.test_client().get(api).get_json()
    assert [f["properties"]["name"] for f in data["features"]] == result_names(html)
    assert '<ol class="results" start="26">' in html


def test_a_page_past_the_last_goes_to_the_last(crowded):
    response = crowded.test_client().get(f"/?q={BAARN_PC4}&radius_m=1000&page=9")
    assert response.status_code == 302 and "page=3" in response.headers["Location"]


@pytest.mark.parametrize("query, status, message", [
    ("q=9999", 404, "Postcode 9999 is niet gevonden"),
    ("q=Dorpsstraat+1+Baarn", 503, "Zoeken op postcode werkt wel"),
    ("q=3741&radius_m=veel", 400, "radius_m"),
    ("q=3741&kind=onzin", 400, "soort"),
    ("lat=52.2&lon=500", 400, "lon"),
])
def test_search_errors_are_dutch_pages_with_the_form(baarn, query, status, message):
    app, _, _ = baarn
    response = app.test_client().get(f"/?{query}")
    html = response.get_data(as_text=True)
    assert response.status_code == status
    assert response.mimetype == "text/html"
    assert message in unescape(html)
    assert 'id="search-form"' in html and "Traceback" not in html


def test_search_page_stays_small(baarn):
    app, _, _ = baarn
    html = app.test_client().get(f"/?q={BAARN_PC4}").get_data()
    assert len(html) < 60_000


@pytest.mark.parametrize("path, heading, must_contain", [
    ("/over", "Over Samenkaart", ["Bron: CBS / Kadaster", "OpenStreetMap", "Een initiatief toevoegen", "GeoNames"]),
    ("/toegankelijkheid", "Toegankelijkheidsverklaring", ["WCAG 2.1", "toetsenbord"]),
])
def test_information_pages(client, path, heading, must_contain):
    response = client.get(path)
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert f"<h1>{heading}</h1>" in html
    for text in must_contain:
        assert text in html


def test_the_nearby_api_pages_with_offset(crowded):
    client = crowded.test_client()
    base = f"/api/v1/initiatives/nearby?postcode={BAARN_PC4}&radius_m=1000"
    four = client.get(base + "&limit=4").get_json()
    later = client.get(base + "&limit=2&offset=2").get_json()
    names = [f["properties"]["name"] for f in four["features"]]
    assert [f["properties"]["name"] for f in later["features"]] == names[2:]
    assert later["numberMatched"] == four["numberMatched"] == 60 and later["numberReturned"] == 2
    past = client.get(base + "&limit=10&offset=60").get_json()
    assert past["features"] == [] and past["numberMatched"] == 60
    assert client.get(base + "&offset=-1").status_code == 400
