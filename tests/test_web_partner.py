"""The partner planning page `/partner/<id>` through Flask's test client, on a private database.

Setup as in test_outreach.py: "Steunpunt Baarn" serves every buurt of Baarn except Amaliapark,
Schilderswijk and Lage Vuursche, plus a small circle inside Amaliapark (so Amaliapark stays a white
spot that lies partly in its service area). An initiative in Lage Vuursche makes that buurt no_support.
A second partner has no service area yet, and a name and website that try to run script.
"""

from __future__ import annotations

import csv
import io
import json
import os
import re
from html import unescape
from html.parser import HTMLParser
from itertools import pairwise

import pytest
from sqlalchemy import text

from geoservice.analysis.gaps import GapParams, gap_units
from geoservice.analysis.outreach import outreach_regions
from geoservice.db import make_engine
from geoservice.vocab import PARTNER_KINDS, SERVICES

from .conftest import app_on
from .helpers import add_partner, add_service_area, make_initiative

AMALIAPARK, SCHILDERSWIJK, LAGE_VUURSCHE = "BU03080007", "BU03080103", "BU03080500"
UNCOVERED = [AMALIAPARK, SCHILDERSWIJK, LAGE_VUURSCHE]
BAARN_EXCEPT = ("(SELECT ST_Union(geom) FROM buurt "
                "WHERE jaar = 2024 AND gemeentecode = 'GM0308' AND code <> ALL(CAST(:skip AS text[])))")
CIRCLE_IN = "(SELECT ST_Buffer(ST_PointOnSurface(geom), 120) FROM buurt WHERE jaar = 2024 AND code = :code)"
XSS_PARTNER = "<img src=x onerror=alert(2)>"


@pytest.fixture(scope="module")
def site(pg_server, template_db):
    """(test client, partner ids, database URL)."""
    name = f"geoservice_test_web_partner_{os.getpid()}"
    url = pg_server.create(name, template=template_db)
    engine = make_engine(url)
    with engine.begin() as conn:
        baarn = add_partner(conn, "Steunpunt Baarn", kind="lokale_ondersteuner", services=("advies", "training"),
                            website="https://steunpunt.example", email="hallo@steunpunt.example",
                            description="Wij helpen bewoners op weg.")
        covered = [c for (c,) in conn.execute(text(
            "SELECT code FROM buurt WHERE jaar = 2024 AND gemeentecode = 'GM0308' AND code <> ALL(:skip) "
            "ORDER BY code"), {"skip": UNCOVERED})]
        add_service_area(conn, baarn, "Baarn", BAARN_EXCEPT, skip=UNCOVERED,
                         definition_type="codes", definition={"codes": covered})
        add_service_area(conn, baarn, "Rond het Amaliapark", CIRCLE_IN, code=AMALIAPARK, definition_type="radius",
                         definition={"point": {"lat": 52.2, "lon": 5.3}, "radius_m": 120})
        lon, lat = conn.execute(text(
            "SELECT ST_X(p), ST_Y(p) FROM (SELECT ST_Transform(ST_PointOnSurface(geom), 4326) AS p "
            "FROM buurt WHERE jaar = 2024 AND code = :code) AS s"), {"code": LAGE_VUURSCHE}).one()
        make_initiative(conn, lon=lon, lat=lat, name="Dorpshuis Lage Vuursche")
        empty = add_partner(conn, XSS_PARTNER, website="javascript:alert(2)")
    engine.dispose()
    app = app_on(url)
    yield app.test_client(), {"baarn": baarn, "empty": empty}, url
    pg_server.drop(name)


@pytest.fixture(scope="module")
def conn(site):
    engine = make_engine(site[2])
    with engine.connect() as connection:
        yield connection
    engine.dispose()


class Tables(HTMLParser):
    """Rows of every <table id=...> as lists of cell texts (th and td alike)."""

    def __init__(self):
        super().__init__()
        self.tables: dict[str, list[list[str]]] = {}
        self._table = self._row = self._cell = None

    def handle_starttag(self, tag, attrs):
        if tag == "table":
            self._table = self.tables.setdefault(dict(attrs).get("id", ""), [])
        elif tag == "tr" and self._table is not None:
            self._row = []
        elif tag in ("td", "th") and self._row is not None:
            self._cell = []
        elif tag == "li" and self._cell is not None and self._cell:
            self._cell.append("|")

    def handle_endtag(self, tag):
        if tag in ("td", "th") and self._cell is not None:
            self._row.append(" ".join("".join(self._cell).split()))
            self._cell = None
        elif tag == "tr" and self._row is not None:
            self._table.append(self._row)
            self._row = None
        elif tag == "table":
            self._table = None

    def handle_data(self, data):
        if self._cell is not None:
            self._cell.append(data)


def tables(html: str) -> dict[str, list[list[str]]]:
    """Body rows (the header row dropped) of each table, by id."""
    parser = Tables()
    parser.feed(html)
    return {name: rows[1:] for name, rows in parser.tables.items()}


def dutch_int(text_: str) -> int:
    return int(text_.replace(".", ""))


def layers(html: str) -> dict[str, str]:
    """{kind: url} of the layers the page asks map.js to load."""
    found, decoder = {}, json.JSONDecoder()
    for match in re.finditer(r"Samenkaart\.loadLayer\(\w+, ", html):
        url, end = decoder.raw_decode(html, match.end())
        options, _ = decoder.raw_decode(html, end + len(", "))
        found[options["kind"]] = url
    return found


def downloads(html: str) -> dict[str, str]:
    section = html[html.index('<p class="downloads">'):]
    section = section[:section.index("</p>")]
    return {label: unescape(href) for href, label in re.findall(r'<a href="([^"]+)"[^>]*>Regio\'s als (\w+)</a>',
                                                                 section)}


def get_page(client, path: str, status: int = 200) -> str:
    response = client.get(path)
    assert response.status_code == status and response.mimetype == "text/html"
    return response.get_data(as_text=True)


def test_the_page_shows_the_partner_and_its_service_areas(site, conn):
    client, ids, _ = site
    html = get_page(client, f"/partner/{ids['baarn']}")
    assert '<html lang="nl">' in html and html.count("<h1") == 1 and "<h1>Steunpunt Baarn</h1>" in html
    assert PARTNER_KINDS["lokale_ondersteuner"] in html
    assert f"{SERVICES['advies']}, {SERVICES['training']}" in html
    assert '<a href="https://steunpunt.example" rel="nofollow noopener">' in html
    assert '<a href="mailto:hallo@steunpunt.example">' in html
    expected = conn.execute(text(
        "SELECT name, definition_type, ST_Area(geom) / 1e6 AS km2 FROM service_area WHERE partner_id = :p "
        "ORDER BY name, id"), {"p": ids["baarn"]}).all()
    rows = tables(html)["service-areas"]
    assert [r[0] for r in rows] == [e.name for e in expected]
    assert [r[1] for r in rows] == ["CBS-gebieden" if e.definition_type == "codes" else "Cirkel rond een punt"
                                    for e in expected]
    assert "straal 120 m" in [r[2] for r in rows]
    assert [float(r[3].replace(".", "").replace(",", ".")) for r in rows] == pytest.approx(
        [e.km2 for e in expected], abs=0.006)
    levels = [int(n) for n in re.findall(r"<h([1-6])", html)]
    assert levels[0] == 1 and all(b - a <= 1 for a, b in pairwise(levels))
    for control in re.findall(r'<(?:input|select)[^>]*\bid="([^"]+)"', html):
        assert f'<label for="{control}"' in html, f"control {control} has no label"


def test_the_regions_table_is_the_analysis_ranked_by_priority(site, conn):
    client, ids, _ = site
    # 2 km around Baarn, only touching units together: Amaliapark apart, several regions to rank
    html = get_page(client, f"/partner/{ids['baarn']}?reach_m=2000&cluster_m=0")
    expected = outreach_regions(conn, partner=ids["baarn"], reach_m=2000, cluster_m=0, with_geometry=False)
    assert len(expected) >= 3
    rows = tables(html)["regions"]
    assert [int(r[0]) for r in rows] == [r["rank"] for r in expected] == list(range(1, len(expected) + 1))
    # ranked by priority: the sum of the units' inhabitants × need, as the analysis gives them unit by unit
    units = {u["code"]: u for u in gap_units(conn, GapParams(), near_partner=ids["baarn"], reach_m=2000)}
    priorities = [dutch_int(r[1]) for r in rows]
    assert priorities == [round(sum(units[u["code"]]["priority"] or 0 for u in r["units"])) for r in expected]
    assert priorities == sorted(priorities, reverse=True)
    assert [dutch_int(r[2]) for r in rows] == [r["aantal_inwoners"] for r in expected]
    assert [int(r[3]) for r in rows] == [r["n_units"] for r in expected]
    for row, region in zip(rows, expected):
        shown = [item.split(": ")[0] for item in row[4].split("|")]
        assert shown == [f"{u['naam']} ({u['code']})" for u in region["units"]]
        assert float(row[5].replace(".", "").replace(",", ".")) == pytest.approx(region["area_m2"] / 1e6, abs=0.006)


def test_the_white_spots_say_where_they_lie(site, conn):
    client, ids, _ = site
    html = get_page(client, f"/partner/{ids['baarn']}")
    rows = tables(html)["white-spots"]
    expected = outreach_regions(conn, partner=ids["baarn"], with_geometry=False)
    units = {u["code"]: (u, r["rank"]) for r in expected for u in r["units"]}
    assert sorted(r[1] for r in rows) == sorted(units)
    inhabitants = [dutch_int(r[4]) for r in rows]
    assert inhabitants == sorted(inhabitants, reverse=True)
    shares = dict(conn.execute(text("""
        SELECT u.code, ST_Area(ST_Intersection(u.geom, p.geom)) / ST_Area(u.geom)
        FROM (SELECT code, geom FROM buurt WHERE jaar = 2024
              UNION ALL SELECT code, geom FROM wijk WHERE jaar = 2024) AS u,
             (SELECT ST_Union(geom) AS geom FROM service_area WHERE partner_id = :p) AS p
        WHERE u.code = ANY(:codes)"""), {"p": ids["baarn"], "codes": list(units)}).all())
    by_code = {r[1]: r for r in rows}
    for code, (unit, rank) in units.items():
        row = by_code[code]
        assert row[0] == unit["naam"] and int(row[7]) == rank and row[5] == "witte vlek"
        if shares[code] >= 0.01:
            assert row[6].startswith("deels in het werkgebied"), (code, row)
        else:
            assert not row[6].startswith("deels"), (code, row)
    # the circle lies inside Amaliapark: partly in the service area, yet still a white spot (< 50 %)
    assert 0.01 <= shares[AMALIAPARK] < 0.5
    assert by_code[AMALIAPARK][6] == f"deels in het werkgebied ({round(shares[AMALIAPARK] * 100)} %)"
    assert by_code[SCHILDERSWIJK][6] == "grenst aan het werkgebied"
    inside = sum(1 for code in units if shares[code] >= 0.01)
    assert f'<span class="value">{inside}</span> daarvan (deels) in het werkgebied' in html
    assert f'<span class="value">{len(units)}</span> gebieden binnen 10,0 km' in html


def test_the_map_layers_load_the_service_areas_and_the_same_regions(site, conn):
    client, ids, _ = site
    html = get_page(client, f"/partner/{ids['baarn']}")
    found = layers(html)
    assert set(found) == {"service_areas", "regions"}
    assert '"fit": true, "kind": "service_areas"' in html  # the view fits to the service areas
    response = client.get(found["service_areas"])
    assert response.status_code == 200 and response.mimetype == "application/geo+json"
    n_areas = conn.execute(text("SELECT count(*) FROM service_area WHERE partner_id = :p"),
                           {"p": ids["baarn"]}).scalar()
    assert len(response.get_json()["features"]) == n_areas == 2
    response = client.get(found["regions"])
    assert response.status_code == 200 and response.mimetype == "application/geo+json"
    body = response.get_json()
    rows = tables(html)["regions"]
    assert [f["properties"]["rank"] for f in body["features"]] == [int(r[0]) for r in rows]
    assert [f["properties"]["aantal_inwoners"] for f in body["features"]] == [dutch_int(r[2]) for r in rows]
    assert '"coordinates"' not in html  # layers load by URL, never inline


def test_the_controls_drive_the_table_the_map_and_the_downloads(site, conn):
    client, ids, _ = site
    partner = ids["baarn"]
    html = get_page(client, f"/partner/{partner}?reach_m=0&cluster_m=5000&include_no_support=true")
    expected = outreach_regions(conn, partner=partner, reach_m=0, cluster_m=5000, include_no_support=True,
                                with_geometry=False)
    default = outreach_regions(conn, partner=partner, with_geometry=False)
    assert [r["aantal_inwoners"] for r in expected] != [r["aantal_inwoners"] for r in default]
    rows = tables(html)["regions"]
    assert [dutch_int(r[2]) for r in rows] == [r["aantal_inwoners"] for r in expected]
    assert any(": geen ondersteuning" in r[4] for r in rows)  # Lage Vuursche, written, not only coloured
    assert 'id="reach_m" name="reach_m" type="number"' in html and 'value="0"' in html
    assert re.search(r'id="include_no_support"[^>]*checked', html)
    for url in (layers(html)["regions"], *downloads(html).values()):
        assert "reach_m=0" in url and "cluster_m=5000" in url and "include_no_support=true" in url, url
    body = client.get(layers(html)["regions"]).get_json()
    assert body["parameters"]["reach_m"] == 0 and body["parameters"]["include_no_support"] is True
    assert [f["properties"]["aantal_inwoners"] for f in body["features"]] == [r["aantal_inwoners"] for r in expected]


def test_the_downloads_answer_with_the_regions_of_the_table(site):
    client, ids, _ = site
    html = get_page(client, f"/partner/{ids['baarn']}?cluster_m=300")
    rows = tables(html)["regions"]
    links = downloads(html)
    assert set(links) == {"GeoJSON", "CSV", "Excel"}
    excel = client.get(links["Excel"])
    assert excel.status_code == 200 and excel.headers["Content-Disposition"].endswith('.xlsx"')
    response = client.get(links["GeoJSON"])
    assert response.status_code == 200 and response.mimetype == "application/geo+json"
    assert [f["properties"]["rank"] for f in response.get_json()["features"]] == [int(r[0]) for r in rows]
    response = client.get(links["CSV"])
    assert response.status_code == 200 and response.mimetype == "text/csv"
    assert "attachment" in response.headers["Content-Disposition"]
    records = list(csv.DictReader(io.StringIO(response.get_data(as_text=True))))
    assert [(int(r["rank"]), int(r["aantal_inwoners"]), int(r["n_units"])) for r in records] == [
        (int(r[0]), dutch_int(r[2]), int(r[3])) for r in rows]
    assert [r["unit_codes"].split(";") for r in records] == [
        [re.search(r"\((\w+)\)(:|$)", u)[1] for u in r[4].split("|")] for r in rows]


@pytest.mark.parametrize("query, field", [
    ("reach_m=abc", "reach_m"),
    ("reach_m=100001", "reach_m"),
    ("reach_m=-5", "reach_m"),
    ("cluster_m=20000", "cluster_m"),
    ("include_no_support=misschien", "include_no_support"),
])
def test_bad_settings_give_a_dutch_400_page_with_the_form(site, query, field):
    client, ids, _ = site
    html = get_page(client, f"/partner/{ids['baarn']}?{query}", status=400)
    assert '<html lang="nl">' in html and "<h1>Steunpunt Baarn</h1>" in html
    assert re.search(rf'<p class="error-message" role="alert">Parameter &#39;{field}&#39; moet', html)
    assert '<form id="plan-form"' in html
    value = query.split("=", 1)[1]
    if field != "include_no_support":
        assert f'name="{field}" type="number"' in html and f'value="{value}"' in html  # kept, to correct it
    assert 'id="regions"' not in html and "regions" not in layers(html)
    assert "service_areas" in layers(html)  # the service areas are still shown


def test_a_partner_without_service_areas_is_told_plainly_and_escaped(site):
    client, ids, _ = site
    html = get_page(client, f"/partner/{ids['empty']}")
    assert "Deze partner heeft nog geen werkgebied." in html
    assert 'id="regions"' not in html and '<form id="plan-form"' not in html and not layers(html)
    assert XSS_PARTNER not in html and "<img src=x" not in html
    assert "<h1>&lt;img src=x onerror=alert(2)&gt;</h1>" in html
    assert not re.search(r"href=[\"']?\s*javascript:", html, re.IGNORECASE) and "javascript:alert(2)" in html


@pytest.mark.parametrize("path", ["/partner/999999", "/partner/99999999999", "/partner/abc"])
def test_an_unknown_partner_is_a_dutch_404_page(site, path):
    client, _, _ = site
    html = get_page(client, path, status=404)
    assert '<html lang="nl">' in html and "<h1>Niet gevonden</h1>" in html
    assert "Traceback" not in html
