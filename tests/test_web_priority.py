"""'Waar eerst?' on the dashboards: the priority list, the map modes, the need controls, and the partner's regions
by priority. In the shared database nothing covers Baarn, so all 21 buurten are white spots."""

from __future__ import annotations

import re
from html import unescape

import pytest

from geoservice.analysis.gaps import GapParams, gap_units

from .helpers import make_initiative

BAARN = "GM0308"


def _rows(page: str, table_id: str) -> list[str]:
    body = page[page.index(f'id="{table_id}"'):]
    body = body[body.index("<tbody>"):body.index("</tbody>")]
    return [re.sub(r"\s+", " ", unescape(re.sub(r"<[^>]+>", " ", row))).strip() for row in body.split("</tr>")[:-1]]


def test_waar_eerst_lists_the_ten_white_spots_with_the_highest_priority(client, shared_db_url, engine_for):
    with engine_for(shared_db_url).connect() as conn:
        units = gap_units(conn, GapParams(), gemeente=BAARN)
    expected = sorted(units, key=lambda u: -u["priority"])[:10]
    page = client.get("/gemeente/GM0308").get_data(as_text=True)
    rows = _rows(page, "waar-eerst-tabel")
    assert len(rows) == 10
    for row, unit in zip(rows, expected):
        assert unit["naam"] in row and unit["code"] in row
        assert f"{unit['aantal_inwoners']:,}".replace(",", ".") in row
        assert f"{round(unit['priority']):,}".replace(",", ".") in row
        assert "geen binnen 50 km" in row  # no initiatives at all in the shared database
        assert (unit["need_reasons"] or "het midden") in row
    # the indicators in words: e.g. Centrum, whose shares of older people and of people living alone are high
    assert any("veel alleenwonenden" in row for row in rows)


def test_the_nearest_initiative_is_named_and_linked(fresh_db_url, engine_for, app_for):
    with engine_for(fresh_db_url).begin() as conn:
        found = make_initiative(conn, lon=5.2720, lat=52.2050, name="Buurtkamer <Zuid>")
    page = app_for(fresh_db_url).test_client().get("/gemeente/GM0308").get_data(as_text=True)
    assert f'href="/initiatief/{found}">Buurtkamer &lt;Zuid&gt;</a>' in page


def test_map_modes_colour_the_units_by_need_or_priority(client):
    page = client.get("/gemeente/GM0308?kaart=prioriteit").get_data(as_text=True)
    assert "Prioriteit van de buurten" in page and "geen prioriteit (geen witte vlek" in page
    assert '"property": "priority"' in page and '"bins": [' in page
    need = client.get("/gemeente/GM0308?kaart=behoefte").get_data(as_text=True)
    assert "Behoefte van de buurten" in need and '"property": "need"' in need
    assert client.get("/gemeente/GM0308?kaart=onzin").status_code == 400


def test_need_controls_reach_the_map_and_the_downloads(client, shared_db_url, engine_for):
    page = client.get("/gemeente/GM0308?need_ouderen=2&need_alleenwonend=0&need_lage_inkomens=1&need_wmo=1"
                      ).get_data(as_text=True)
    # the map layer (in the map's script) and both downloads ask the API with the same weights
    assert page.count("need=ouderen:2,lage_inkomens:1,wmo:1\\u0026format=geojson") == 1
    assert 'need=ouderen:2,lage_inkomens:1,wmo:1&amp;format=csv"' in page
    assert re.search(r'<option value="2" selected>telt dubbel</option>', page)
    # the list follows those weights: one-person households no longer count
    with engine_for(shared_db_url).connect() as conn:
        units = gap_units(conn, GapParams(need=(("ouderen", 2.0), ("lage_inkomens", 1.0), ("wmo", 1.0))),
                          gemeente=BAARN)
    expected = [u["code"] for u in sorted(units, key=lambda u: (-u["priority"], u["code"]))[:10]]
    assert [re.search(r"BU\d{8}", row).group() for row in _rows(page, "waar-eerst-tabel")] == expected
    assert "alleenwonenden" not in page[page.index('id="waar-eerst-tabel"'):page.index('id="tabel"')]
    bad = client.get("/gemeente/GM0308?need_ouderen=7&need_alleenwonend=0&need_lage_inkomens=0&need_wmo=0")
    assert bad.status_code == 400 and "gewichten" in bad.get_data(as_text=True)
    none = client.get("/gemeente/GM0308?need_ouderen=0&need_alleenwonend=0&need_lage_inkomens=0&need_wmo=0")
    assert none.status_code == 400 and "minstens één indicator" in none.get_data(as_text=True)
    assert client.get("/gemeente/GM0308?need=ouderen:3").status_code == 200


@pytest.fixture(scope="module")
def outreach_db(pg_server, template_db):
    from .helpers import seed_outreach, seeded_database

    with seeded_database(pg_server, template_db, "web_priority", seed_outreach) as database:
        yield database


def test_partner_page_lists_its_growth_regions_by_priority(outreach_db, app_for):
    url, ids = outreach_db
    page = app_for(url).test_client().get(f"/partner/{ids['baarn']}?cluster_m=300").get_data(as_text=True)
    assert "de hoogste prioriteit eerst" in page
    rows = _rows(page, "regions")
    priorities = [float(row.split()[1].replace(".", "").replace(",", ".")) for row in rows]
    assert len(rows) >= 2 and priorities == sorted(priorities, reverse=True)


# --- in a browser ------------------------------------------------------------------------------------

def test_in_a_browser_the_priority_map_draws_and_the_national_table_fits_1280_px(browser, app):
    from .browser_support import VIEWPORT, LiveServer, wait_for_layer

    with LiveServer(app) as live:
        context = browser.new_context(viewport=VIEWPORT, locale="nl-NL")
        page = context.new_page()
        errors = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        page.goto(f"{live.url}/gemeente/GM0308?kaart=prioriteit")
        assert wait_for_layer(page, "units") == 21
        # every buurt is a white spot here: each filled in one of the priority classes, none in the status red
        fills = set(page.evaluate("""() => Array.from(document.querySelectorAll('.leaflet-overlay-pane path'))
                                          .map(p => p.getAttribute('fill'))"""))
        assert fills and fills <= {"#fef0d9", "#fdcc8a", "#fc8d59", "#d7301f", "#990000"}
        assert len(fills) >= 3
        page.goto(f"{live.url}/gemeenten")
        widths = page.evaluate("""() => { const s = document.querySelector('#tabel .table-scroll');
                                          return [s.scrollWidth, s.clientWidth]; }""")
        assert widths[0] <= widths[1], "the national table scrolls sideways at 1280 px"
        assert errors == []
        context.close()


def test_partner_need_controls_drive_the_regions_and_the_map(outreach_db, app_for):
    url, ids = outreach_db
    client = app_for(url).test_client()
    weights = "need_ouderen=1&need_alleenwonend=0&need_lage_inkomens=0&need_wmo=0"
    page = client.get(f"/partner/{ids['baarn']}?cluster_m=300&{weights}").get_data(as_text=True)
    assert "need=ouderen%3A1" in page  # the map layer and the downloads ask the same
    api = client.get(f"/api/v1/outreach?partner={ids['baarn']}&cluster_m=300&need=ouderen:1").get_json()
    shown = [float(row.split()[1].replace(".", "").replace(",", ".")) for row in _rows(page, "regions")]
    assert shown == [round(f["properties"]["priority"]) for f in api["features"]]
    default = client.get(f"/api/v1/outreach?partner={ids['baarn']}&cluster_m=300").get_json()
    assert [f["properties"]["priority"] for f in api["features"]] != [
        f["properties"]["priority"] for f in default["features"]]
