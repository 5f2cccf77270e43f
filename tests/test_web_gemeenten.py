"""The municipality pages: `/gemeenten` (national overview) and `/gemeente/<code>` (dashboard), via the test client.

Expectations come from the API (/api/v1/gaps, /api/v1/gaps/summary, /api/v1/initiatives), never from
numbers written into the test: the page must show what the API says, and its map must load the same.
"""

from __future__ import annotations

import csv
import io
import json
import math
import os
import re
from html.parser import HTMLParser
from urllib.parse import parse_qs, urlsplit

import pytest

from geoservice.analysis.gaps import STATUS_LABELS, STATUSES
from web.filters import number, percent
from web.maps import CHOROPLETHS, NATIONAL_ZOOM, STATUS_COLOURS

from .helpers import BUURT_GEOM, add_partner, add_service_area, make_initiative

NATIONAL_MAX_BYTES = 1_000_000
DASHBOARD_MAX_BYTES = 300_000
AMSTERDAM_POINTS = [(4.8924, 52.3731), (4.9170, 52.3900), (4.9770, 52.3100), (4.8600, 52.3600)]


# --- reading a page as a person would -------------------------------------------------------------

VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}


class Node:
    def __init__(self, tag: str, attrs: dict, parent: Node | None = None):
        self.tag, self.attrs, self.parent, self.children = tag, attrs, parent, []

    def iter(self):
        for child in self.children:
            if isinstance(child, Node):
                yield child
                yield from child.iter()

    def find_all(self, tag: str, cls: str | None = None, **attrs) -> list[Node]:
        return [n for n in self.iter() if n.tag == tag
                and (cls is None or cls in (n.attrs.get("class") or "").split())
                and all(n.attrs.get(k.replace("_", "-")) == v for k, v in attrs.items())]

    def find(self, tag: str, cls: str | None = None, **attrs) -> Node | None:
        found = self.find_all(tag, cls, **attrs)
        return found[0] if found else None

    @property
    def text(self) -> str:
        parts = []
        for child in self.children:
            parts.append(child.text if isinstance(child, Node) else child)
        return " ".join(" ".join(parts).split())


class _Tree(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.root = self.current = Node("#document", {})

    def handle_starttag(self, tag, attrs):
        node = Node(tag, dict(attrs), self.current)
        self.current.children.append(node)
        if tag not in VOID:
            self.current = node

    def handle_endtag(self, tag):
        node = self.current
        while node is not None and node.tag != tag:
            node = node.parent
        if node is not None and node.parent is not None:
            self.current = node.parent

    def handle_data(self, data):
        self.current.children.append(data)


def parse(response) -> Node:
    tree = _Tree()
    tree.feed(response.get_data(as_text=True))
    return tree.root


LOAD_LAYER = re.compile(r'Samenkaart\.loadLayer\(\w+, ("(?:[^"\\]|\\.)*"), (\{.*?\})\);')


def layers(response) -> dict[str, tuple[str, dict]]:
    """The map's layers as map.js will load them: kind -> (URL, options)."""
    found = LOAD_LAYER.findall(response.get_data(as_text=True))
    return {json.loads(options)["kind"]: (json.loads(url), json.loads(options)) for url, options in found}


def units_body(page: Node) -> Node | None:
    """The body of the page's main table: the dashboard's table of all units (section #tabel), else the first."""
    section = page.find("section", id="tabel")
    return (section or page).find("tbody")


def table_rows(page: Node) -> list[list[str]]:
    body = units_body(page)
    if body is None:
        return []
    return [[cell.text for cell in row.children if isinstance(cell, Node)] for row in body.find_all("tr")]


def headers(page: Node) -> dict[str, Node]:
    return {th.text: th for th in page.find("thead").find_all("th")}


def query(url: str) -> dict[str, list[str]]:
    return parse_qs(urlsplit(url).query)


def dutch_int(text: str) -> int | None:
    return None if text == "onbekend" else int(text.replace(".", ""))


def csv_rows(response) -> list[dict]:
    return list(csv.DictReader(io.StringIO(response.get_data(as_text=True))))


# --- a database with initiatives and partners -----------------------------------------------------

@pytest.fixture(scope="module")
def data_client(pg_server, template_db):
    """Initiatives in Baarn and Amsterdam, and partners with service areas there."""
    from geoservice.db import make_engine

    from .conftest import app_on

    name = f"geoservice_test_web_gemeenten_{os.getpid()}"
    url = pg_server.create(name, template=template_db)
    engine = make_engine(url)
    with engine.begin() as conn:
        make_initiative(conn, name="Energie Baarn", kind="energiecooperatie", themes=["energie_klimaat"])
        make_initiative(conn, name="Buurthuis Baarn", lon=5.2700, lat=52.2100)
        for k, (lon, lat) in enumerate(AMSTERDAM_POINTS):
            make_initiative(conn, name=f"Amsterdam {k}", lon=lon, lat=lat)
        make_initiative(conn, name="Nog niet gepubliceerd", lon=4.90, lat=52.37, status="pending")
        noord = add_partner(conn, "Buurtfonds Noord")
        add_service_area(conn, noord, "Planciusbuurt", BUURT_GEOM, code="BU0363AA01")
        baarn = add_partner(conn, "Energiehuis Baarn")
        add_service_area(conn, baarn, "Staatsliedenwijk", BUURT_GEOM, code="BU03080102")
        add_service_area(conn, baarn, "Amsterdam-Centrum", BUURT_GEOM, code="BU0363AA02")
    engine.dispose()
    app = app_on(url)
    yield app.test_client()
    pg_server.drop(name)


# --- /gemeenten -------------------------------------------------------------------------------------

def test_national_overview_shows_the_table_of_every_gemeente_as_the_api_counts_it(client):
    response = client.get("/gemeenten")
    assert response.status_code == 200 and response.mimetype == "text/html"
    page = parse(response)
    assert page.find("html").attrs["lang"] == "nl"
    assert [h.text for h in page.find_all("h1")] == ["Witte vlekken per gemeente"]
    api_rows = client.get("/api/v1/gaps/summary?sort=naam").get_json()["gemeenten"]
    body = page.find("tbody")
    links = [row.find("a").attrs["href"] for row in body.find_all("tr")]
    assert links == [f"/gemeente/{r['gemeentecode']}" for r in api_rows]  # by name, as the API sorts
    for cells, row in zip(table_rows(page), api_rows):
        assert cells == [row["naam"], number(row["aantal_inwoners"]), number(row["units"]),
                         percent(row["white_spot_share"], 1), percent(row["no_initiative_nearby_share"], 1),
                         number(row["units_white_spot"]), number(row["n_initiatives"]),
                         number(row["initiatives_per_1000"], 2), number(row["partners_active"]),
                         number(row["priority_total"])], row["gemeentecode"]
    assert [th.text for th in page.find_all("th", aria_sort="ascending")] == ["Gemeente"]


def test_national_overview_has_a_legend_of_the_classes(client):
    page = parse(client.get("/gemeenten"))
    spec = CHOROPLETHS["white_spot_share"]
    legend = page.find("section", "legend")
    assert legend.find("h2").text == spec["label"]
    items = legend.find_all("li")
    assert len(items) == len(spec["bins"]) + 2  # one per class, and 'onbekend'
    colours = [re.search(r"#[0-9a-f]{6}", li.find("span", "swatch").attrs["style"]).group(0) for li in items]
    assert colours[:-1] == spec["colours"]
    texts = [li.text for li in items]
    assert texts[0] == f"minder dan {round(spec['bins'][0] * 100)} %"
    assert texts[-2] == f"{round(spec['bins'][-1] * 100)} % of meer" and texts[-1].startswith("onbekend")


@pytest.mark.parametrize("order", ["desc", "asc"])
def test_national_table_sorts_by_inhabitants_on_the_server(client, order):
    response = client.get(f"/gemeenten?sort=aantal_inwoners&order={order}")
    assert response.status_code == 200
    page = parse(response)
    api_rows = client.get(f"/api/v1/gaps/summary?sort=aantal_inwoners&order={order}").get_json()["gemeenten"]
    codes = [row.find("a").attrs["href"].rsplit("/", 1)[1] for row in page.find("tbody").find_all("tr")]
    assert codes == [r["gemeentecode"] for r in api_rows]
    inhabitants = [dutch_int(cells[1]) for cells in table_rows(page) if cells[1] != "onbekend"]
    assert inhabitants == sorted(inhabitants, reverse=order == "desc") and len(inhabitants) > 300
    sorted_headers = page.find_all("th", aria_sort="descending" if order == "desc" else "ascending")
    assert [th.find("a").text for th in sorted_headers] == ["Inwoners"]
    link = query(sorted_headers[0].find("a").attrs["href"])
    assert link["sort"] == ["aantal_inwoners"] and link["order"] == ["asc" if order == "desc" else "desc"]
    assert query(headers(page)["Gemeente"].find("a").attrs["href"])["order"] == ["asc"]


def tile_of(lon: float, lat: float, z: int) -> dict:
    """The slippy-map tile (z, x, y) that holds a WGS84 point."""
    n = 2 ** z
    y = (1 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2 * n
    return {"z": z, "x": int((lon + 180) / 360 * n), "y": int(y)}


def figures_of(page: Node) -> dict[str, dict]:
    """The page's JSON of gemeente figures for map.js ({"keys": [...], "values": {code: [...]}}), by code."""
    data = json.loads(page.find("script", id="gemeente-figures").text)
    return {code: dict(zip(data["keys"], values)) for code, values in data["values"].items()}


def test_national_map_draws_the_gemeenten_from_vector_tiles_with_the_tables_figures(client):
    response = client.get("/gemeenten")
    page = parse(response)
    found = layers(response)
    assert list(found) == ["gemeenten"]
    url, options = found["gemeenten"]
    assert url == "/tiles/gemeenten/{z}/{x}/{y}.mvt" and options["tiles"] == "gemeenten"
    assert options["property"] == "white_spot_share"
    # a tile in view at the first zoom holds gemeenten (the one around Amsterdam)
    tile = client.get(url.format(**tile_of(*AMSTERDAM_POINTS[0], NATIONAL_ZOOM)))
    assert tile.status_code == 200 and tile.mimetype == "application/vnd.mapbox-vector-tile" and tile.data
    # what colours each gemeente: the same figures as the table, by code
    api_rows = client.get("/api/v1/gaps/summary").get_json()["gemeenten"]
    figures = figures_of(page)
    assert figures == {r["gemeentecode"]: {k: r[k] for k in ("aantal_inwoners", "white_spot_share",
                                                                "initiatives_per_1000")} for r in api_rows}
    config = json.loads(page.find("script", id="samenkaart-config").text)
    assert config["choropleth"]["white_spot_share"] == CHOROPLETHS["white_spot_share"]
    scripts = [s.attrs["src"] for s in page.find_all("script") if "src" in s.attrs]
    assert any(src.split("?")[0].endswith("vectorgrid/Leaflet.VectorGrid.bundled.min.js") for src in scripts)
    assert client.get(next(src for src in scripts if "vectorgrid" in src)).status_code == 200


def test_national_page_loads_no_national_geojson(client):
    """The whole country as GeoJSON (~0.5 MB) is a download a person may choose, never what the map loads."""
    response = client.get("/gemeenten")
    html = response.get_data(as_text=True)
    page = parse(response)
    downloads = {a.text: a.attrs["href"] for a in page.find("p", "downloads").find_all("a")}
    geojson_url = downloads["GeoJSON met grenzen"]
    assert query(geojson_url)["format"] == ["geojson"]
    map_script = next(s.text for s in page.find_all("script") if "Samenkaart.loadLayer(" in s.text)
    assert "Samenkaart.loadLayer(" in map_script and "/tiles/gemeenten/{z}/{x}/{y}.mvt" in map_script
    assert "/api/" not in map_script and "geojson" not in map_script.lower()
    assert html.count("format=geojson") == 1  # the download link only


def test_national_map_switches_to_initiatives_per_1000(client):
    page_response = client.get("/gemeenten?kaart=initiatieven&sort=naam&order=desc")
    page = parse(page_response)
    assert layers(page_response)["gemeenten"][1]["property"] == "initiatives_per_1000"
    assert "checked" in page.find("input", type="radio", value="initiatieven").attrs
    assert page.find("section", "legend").find("h2").text == CHOROPLETHS["initiatives_per_1000"]["label"]
    # the switch is a form that keeps the table's order
    form = page.find("input", type="radio", value="witte-vlekken").parent.parent.parent
    assert form.tag == "form" and form.attrs["method"] == "get"
    assert {i.attrs["name"]: i.attrs["value"] for i in form.find_all("input", type="hidden")} == \
        {"sort": "naam", "order": "desc"}


def test_national_downloads_give_the_table(client):
    page = parse(client.get("/gemeenten?sort=white_spot_share"))
    downloads = {a.text: a.attrs["href"] for a in page.find("p", "downloads").find_all("a")}
    response = client.get(downloads["CSV"])
    assert response.status_code == 200 and response.mimetype == "text/csv"
    rows = csv_rows(response)
    codes = [row.find("a").attrs["href"].rsplit("/", 1)[1] for row in page.find("tbody").find_all("tr")]
    assert [r["gemeentecode"] for r in rows] == codes
    assert client.get(downloads["JSON"]).get_json()["numberReturned"] == len(codes)
    geojson = client.get(downloads["GeoJSON met grenzen"])
    assert geojson.mimetype == "application/geo+json" and len(geojson.get_json()["features"]) == len(codes)


def test_national_bad_sort_is_a_dutch_400_with_the_default_table(client):
    response = client.get("/gemeenten?sort=geom")
    assert response.status_code == 400
    page = parse(response)
    assert "sort" in page.find("p", "error-message").text
    assert len(table_rows(page)) == client.get("/api/v1/gaps/summary").get_json()["numberReturned"]


def test_national_page_is_small(client):
    response = client.get("/gemeenten")
    print(f"/gemeenten: {len(response.data):,} bytes of HTML")
    assert len(response.data) <= NATIONAL_MAX_BYTES


# --- /gemeente/<code> ---------------------------------------------------------------------------------

def _units(client, query_string: str) -> list[dict]:
    return [f["properties"] for f in client.get(f"/api/v1/gaps?{query_string}").get_json()["features"]]


def test_dashboard_shows_key_numbers_legend_and_the_units(data_client):
    response = data_client.get("/gemeente/GM0308")
    assert response.status_code == 200
    page = parse(response)
    assert [h.text for h in page.find_all("h1")] == ["Witte vlekken in Baarn"]
    summary = data_client.get("/api/v1/gaps/summary?gemeente=GM0308").get_json()["gemeenten"][0]
    numbers = [li.find("span", "value").text for li in page.find("ul", "key-numbers").find_all("li")]
    assert numbers == [number(summary["aantal_inwoners"]), number(summary["units"]),
                       percent(summary["white_spot_share"], 1), number(summary["n_initiatives"]),
                       number(summary["initiatives_per_1000"], 2), number(summary["partners_active"])]
    assert summary["n_initiatives"] == 2 and summary["partners_active"] == 1  # what the fixture put there
    legend = page.find("section", "legend")
    assert [li.text for li in legend.find_all("li")] == [STATUS_LABELS[s] for s in STATUSES]
    units = {u["code"]: u for u in _units(data_client, "gemeente=GM0308")}
    rows = units_body(page).find_all("tr")
    assert len(rows) == len(units) == summary["units"]
    for row in rows:
        code = row.find("span", "code").text
        cells = [cell.text for cell in row.children if isinstance(cell, Node)]
        unit = units[code]
        assert cells[1:5] == [number(unit["aantal_inwoners"]), STATUS_LABELS[unit["status"]],
                              str(unit["n_initiatives"]), str(unit["n_nearby"])], code
        # the status is written, and its swatch has the status colour
        assert row.find("span", "swatch").attrs["class"].split() == ["swatch", f"st-{unit['status']}"]
    style = page.find("style").text
    assert all(f".swatch.st-{s}{{background:{c}}}" in style for s, c in STATUS_COLOURS.items())


@pytest.mark.parametrize("order", ["desc", "asc"])
def test_dashboard_table_sorts_by_inhabitants(data_client, order):
    page = parse(data_client.get(f"/gemeente/GM0308?sort=aantal_inwoners&order={order}"))
    shown = [dutch_int(cells[1]) for cells in table_rows(page)]
    expected = sorted((u["aantal_inwoners"] for u in _units(data_client, "gemeente=GM0308")), reverse=order == "desc")
    assert shown == expected
    sorted_header = page.find("th", aria_sort="descending" if order == "desc" else "ascending")
    assert sorted_header.text.startswith("Inwoners")
    assert query(sorted_header.find("a").attrs["href"])["order"] == ["asc" if order == "desc" else "desc"]


def test_dashboard_table_sorts_by_status_white_spots_first(data_client):
    page = parse(data_client.get("/gemeente/GM0363?level=wijk&sort=status"))
    labels = [cells[2] for cells in table_rows(page)]
    rank = {STATUS_LABELS[s]: k for k, s in enumerate(STATUSES)}
    assert [rank[label] for label in labels] == sorted(rank[label] for label in labels)
    assert len(set(labels)) > 1
    statuses = sorted(STATUS_LABELS[u["status"]] for u in _units(data_client, "gemeente=GM0363&level=wijk"))
    assert sorted(labels) == statuses


def test_dashboard_layers_load_what_the_page_shows(data_client):
    response = data_client.get("/gemeente/GM0363")
    found = layers(response)
    assert set(found) == {"units", "initiatives", "service_areas"}
    rows = table_rows(parse(response))
    units = data_client.get(found["units"][0])
    assert units.status_code == 200 and units.mimetype == "application/geo+json"
    assert len(units.get_json()["features"]) == len(rows) == 518

    initiatives = data_client.get(found["initiatives"][0])
    assert initiatives.status_code == 200 and initiatives.mimetype == "application/geo+json"
    assert found["initiatives"][1]["cluster"] is True
    published = [f for f in initiatives.get_json()["features"] if f["properties"]["gemeentecode"] == "GM0363"]
    assert len(initiatives.get_json()["features"]) == len(published) == len(AMSTERDAM_POINTS)

    areas = data_client.get(found["service_areas"][0])
    assert areas.status_code == 200 and areas.mimetype == "application/geo+json"
    summary = data_client.get("/api/v1/gaps/summary?gemeente=GM0363").get_json()["gemeenten"][0]
    assert areas.get_json()["numberPartners"] == summary["partners_active"] == 2
    assert len(areas.get_json()["features"]) == 2  # Baarn's own area does not touch Amsterdam
    assert found["service_areas"][1]["name"] == "Werkgebieden van partners"
    assert "Werkgebieden van partners" in response.get_data(as_text=True)  # named in the layer control


def test_dashboard_controls_drive_map_table_and_downloads(data_client):
    response = data_client.get("/gemeente/GM0308?walk_m=250&kind=energiecooperatie&theme=energie_klimaat&level=wijk")
    assert response.status_code == 200
    page = parse(response)
    settings = "gemeente=GM0308&walk_m=250&kind=energiecooperatie&theme=energie_klimaat&level=wijk"
    expected = {u["code"]: u for u in _units(data_client, settings)}
    rows = units_body(page).find_all("tr")
    assert {row.find("span", "code").text for row in rows} == set(expected)
    assert all(code.startswith("WK") for code in expected)
    wanted = {"gemeente": ["GM0308"], "walk_m": ["250"], "kind": ["energiecooperatie"],
              "theme": ["energie_klimaat"], "level": ["wijk"]}
    units_url = layers(response)["units"][0]
    # the map's layer asks the same, with outlines simplified for the map's zoom (the downloads keep 1 m detail)
    assert {k: v for k, v in query(units_url).items() if k not in ("format", "zoom")} == wanted
    downloads = {a.text: a.attrs["href"] for a in page.find("p", "downloads").find_all("a")}
    assert {k: v for k, v in query(downloads["CSV"]).items() if k != "format"} == wanted
    csv_download = data_client.get(downloads["CSV"])
    assert csv_download.mimetype == "text/csv"
    assert {r["code"]: r["status"] for r in csv_rows(csv_download)} == {c: u["status"] for c, u in expected.items()}
    geojson = data_client.get(downloads["GeoJSON"])
    assert geojson.mimetype == "application/geo+json"
    assert {f["id"] for f in geojson.get_json()["features"]} == set(expected)
    # the form shows what was chosen
    assert "selected" in page.find("option", value="250").attrs
    assert "checked" in page.find("input", value="energiecooperatie").attrs
    assert "checked" in page.find("input", type="radio", value="wijk").attrs
    initiatives_url = layers(response)["initiatives"][0]
    assert query(initiatives_url)["kind"] == ["energiecooperatie"]
    # sorting keeps the settings
    sort_link = query(page.find("section", id="tabel").find("thead").find_all("a")[1].attrs["href"])
    assert sort_link["walk_m"] == ["250"] and sort_link["level"] == ["wijk"]


def test_dashboard_form_has_labelled_controls(client):
    page = parse(client.get("/gemeente/GM0308"))
    form = page.find("form", id="instellingen")
    assert form.attrs["method"] == "get"
    labels = {label.attrs.get("for") for label in form.find_all("label")}
    assert "walk_m" in labels and form.find("select", id="walk_m") is not None
    legends = [legend.text for legend in form.find_all("legend")]
    assert legends == ["Niveau", "Soort initiatief die telt", "Thema dat telt", "Behoefte: wat telt mee",
                       "Kleur de kaart naar"]
    assert {"need_ouderen", "need_alleenwonend", "need_lage_inkomens", "need_wmo"} <= labels
    # a gemeente without buurten has no level choice
    assert "Niveau" not in [legend.text for legend in parse(client.get("/gemeente/GM0344")).find_all("legend")]


def test_amsterdam_dashboard_is_small_and_shows_its_buurten_inhabitants(client):
    response = client.get("/gemeente/GM0363")
    print(f"/gemeente/GM0363: {len(response.data):,} bytes of HTML")
    assert response.status_code == 200
    assert len(response.data) <= DASHBOARD_MAX_BYTES
    page = parse(response)
    assert len(table_rows(page)) == 518
    # Amsterdam's buurten carry their CBS inhabitants: real key figures, no notice that they are unknown
    figures = {li.text.split(" ", 1)[1].strip(): li.find("span", "value").text
               for li in page.find("ul", "key-numbers").find_all("li")}
    assert figures["inwoners"] == "931.300"
    assert "onbekend" not in figures.values()
    assert page.find("p", "notice") is None or "geen inwoners bekend" not in page.find("p", "notice").text


@pytest.mark.parametrize("raw", ["gm0363", "Amsterdam", " amsterdam"])
def test_a_lower_case_code_or_a_name_leads_to_the_code(client, raw):
    response = client.get(f"/gemeente/{raw}?walk_m=500")
    assert response.status_code == 301
    assert response.headers["Location"].endswith("/gemeente/GM0363?walk_m=500")


def test_unknown_gemeente_is_a_dutch_404_page(client):
    for raw in ("GM9999", "Nergensland"):
        response = client.get(f"/gemeente/{raw}")
        assert response.status_code == 404 and response.mimetype == "text/html"
        page = parse(response)
        assert page.find("html").attrs["lang"] == "nl"
        assert page.find("h1").text == "Niet gevonden"
        assert raw in page.find("p", "error-message").text and "Traceback" not in response.get_data(as_text=True)


@pytest.mark.parametrize("raw", ["GM03", "WK036300", "BU03080102"])
def test_a_badly_formed_code_is_a_dutch_400_page(client, raw):
    response = client.get(f"/gemeente/{raw}")
    assert response.status_code == 400 and response.mimetype == "text/html"
    page = parse(response)
    assert page.find("h1").text == "Dat klopt niet helemaal"
    assert "gemeente" in page.find("p", "error-message").text


@pytest.mark.parametrize("query_string, field", [("walk_m=ver", "walk_m"), ("walk_m=50001", "walk_m"),
                                                 ("kind=sportclub", "kind"), ("sort=geom", "sort")])
def test_bad_settings_are_a_dutch_400_page_with_the_form(client, query_string, field):
    response = client.get(f"/gemeente/GM0308?{query_string}")
    assert response.status_code == 400 and response.mimetype == "text/html"
    page = parse(response)
    assert page.find("h1").text == "Witte vlekken in Baarn"
    assert field in page.find("p", "error-message").text
    assert page.find("form", id="instellingen").find("select", id="walk_m") is not None
    assert table_rows(page) == [] and layers(response) == {}


def test_buurten_where_there_are_none_is_a_400_page_with_the_form(client):
    response = client.get("/gemeente/GM0344?level=buurt")
    assert response.status_code == 400
    page = parse(response)
    assert "buurten" in page.find("p", "error-message").text and page.find("form", id="instellingen") is not None


def test_dashboard_units_layer_is_simplified_for_the_zoom_it_opens_at(client):
    from web.maps import fitting_zoom

    html = client.get("/gemeente/GM0363").get_data(as_text=True)
    url = re.search(r'Samenkaart\.loadLayer\([^,]+, "([^"]+)", \{[^}]*"kind": "units"', html).group(1)
    url = url.encode().decode("unicode_escape")
    query = parse_qs(urlsplit(url).query)
    # Amsterdam (about 0.36° by 0.16°) opens at zoom 11 in the map box; the outlines are drawn for one step closer
    assert fitting_zoom((4.73, 52.28, 5.08, 52.43)) == 11 and query["zoom"] == ["12"]
    simplified, full = client.get(url), client.get(url.replace("&zoom=12", ""))
    assert simplified.status_code == 200 and len(simplified.data) < 0.8 * len(full.data)
