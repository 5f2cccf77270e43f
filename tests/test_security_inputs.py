"""Hostile input on the read side: XSS payloads stay text, CSV cells never start a formula, and
injection-looking values in any GET parameter answer 4xx or a normal 200, never 5xx, and change nothing.

Each payload is stored in every text field of an initiative, of a partner and of a service area, and as
the CBS names a loaded map file could carry (buurten and wijken of Baarn, some gemeenten), in a private
copy of the test database. What a page or response must show is computed from what was stored.
"""

from __future__ import annotations

import csv
import importlib
import io
import json
import os
import re
from dataclasses import dataclass, field
from html.parser import HTMLParser
from urllib.parse import quote, urlencode

import pytest
from click.testing import CliRunner
from sqlalchemy import text

from geoservice.cli import main
from geoservice.db import make_engine

from .conftest import app_on
from .test_tiles import tile_at
from .helpers import BUURT_GEOM, QuietHandler, add_partner, add_service_area, make_initiative, serving

XSS = (
    "<img src=x onerror=alert(1)>",
    "<script>alert(1)</script>",
    '"><svg onload=alert(1)>',
    "javascript:alert(1)",
    "' onmouseover='alert(1)",
)
MARKER = "alert(1)"  # in every XSS payload: a string carrying it carries a payload
# Spreadsheets run a cell starting with one of these (OWASP "CSV injection"); tab and CR too.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
FORMULAS = (
    '=HYPERLINK("http://x.example/?leak="&A1,"klik")',
    "+1+1",
    "-2+3",
    "@SUM(A1:A2)",
    "\t=1+1",
    "\r=1+1",
)
# Dutch Excel opens a .csv with ';' as separator: text after a ';' inside a cell starts a cell of its own.
SEMICOLON_FORMULA = 'Koffie;=HYPERLINK("http://x.example";"klik")'
SEARCH = (5.2878, 52.2165)  # lon, lat in Baarn (Staatsliedenwijk)
BAARN = "GM0308"
BAARN_PC4 = "3741"
PC4_CENTROID = (5.2856, 52.2175)  # of 3741 in data/postcodes/pc4_nl.tsv: where a search for it starts
BAARN_BBOX = "5.20,52.15,5.40,52.27"
INITIATIVE_TEXT = ("name", "description", "website", "email", "phone", "address", "postcode")
PARTNER_TEXT = ("name", "description", "website", "email", "phone")
URL_ATTRIBUTES = ("href", "src", "action", "formaction", "data", "xlink:href", "poster", "srcdoc")
GEOJSON, JSON, CSV = "application/geo+json", "application/json", "text/csv"
PROXIES = ("http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY", "all_proxy", "ALL_PROXY")


# --- a site full of payloads ------------------------------------------------------------------------

class NoMatch(QuietHandler):
    """A Locatieserver that finds nothing, so an address ends in 404 rather than 'geocoder unavailable'."""

    def do_GET(self):  # noqa: N802 (http.server's name)
        self.answer(json.dumps({"response": {"numFound": 0, "start": 0, "docs": []}}).encode())


@pytest.fixture(scope="module")
def locatieserver():
    patch = pytest.MonkeyPatch()
    for name in PROXIES:  # nothing between us and 127.0.0.1
        patch.delenv(name, raising=False)
    with serving(NoMatch) as port:
        yield f"http://127.0.0.1:{port}/bzk/locatieserver/search/v3_1"
    patch.undo()


@dataclass
class Site:
    client: object
    url: str
    db_name: str
    payloads: tuple[str, ...]
    home: str  # the buurt of SEARCH, with the initiatives and service areas; it and the PC4's keep their names
    home_wijk: str
    initiatives: dict[str, int] = field(default_factory=dict)
    partners: dict[str, int] = field(default_factory=dict)
    areas: dict[str, int] = field(default_factory=dict)
    buurt_names: dict[str, str] = field(default_factory=dict)  # code -> stored name
    wijk_names: dict[str, str] = field(default_factory=dict)
    gemeente_names: dict[str, str] = field(default_factory=dict)


def rename(conn, table: str, where: str, payloads, **params) -> dict[str, str]:
    """Give the areas of a CBS table (fixed name) the payloads as names, in turn; {code: name}."""
    codes = conn.execute(text(f"SELECT code FROM {table} WHERE jaar = 2024 AND {where} ORDER BY code"),
                         params).scalars().all()
    names = {code: payloads[n % len(payloads)] for n, code in enumerate(codes)}
    for code, name in names.items():
        conn.execute(text(f"UPDATE {table} SET naam = :name WHERE jaar = 2024 AND code = :code"),
                     {"name": name, "code": code})
    return names


def buurt_at(conn, lon: float, lat: float) -> tuple[str, str]:
    """(code, wijkcode) of the buurt containing a WGS84 point."""
    return tuple(conn.execute(text(
        "SELECT code, wijkcode FROM buurt WHERE jaar = 2024 AND ST_Contains(geom, ST_Transform("
        "ST_SetSRID(ST_MakePoint(:lon, :lat), 4326), 28992))"), {"lon": lon, "lat": lat}).one())


def build_site(pg_server, template_db, locatieserver, label: str, payloads: tuple[str, ...], extra=()) -> Site:
    db_name = f"geoservice_test_security_{label}_{os.getpid()}"
    url = pg_server.create(db_name, template=template_db)
    engine = make_engine(url)
    with engine.begin() as conn:
        home, home_wijk = buurt_at(conn, *SEARCH)
        keep = [home, buurt_at(conn, *PC4_CENTROID)[0]]
        site = Site(client=None, url=url, db_name=db_name, payloads=payloads, home=home, home_wijk=home_wijk)
        for payload in (*payloads, *extra):
            site.initiatives[payload] = make_initiative(
                conn, lon=SEARCH[0], lat=SEARCH[1], **{name: payload for name in INITIATIVE_TEXT})
            site.partners[payload] = add_partner(conn, payload, **{name: payload for name in PARTNER_TEXT[1:]})
            site.areas[payload] = add_service_area(conn, site.partners[payload], payload, BUURT_GEOM, code=home)
        # as a CBS or PDOK file could name them
        site.buurt_names = rename(conn, "buurt", "gemeentecode = :g AND code <> ALL(:keep)", payloads, g=BAARN,
                                  keep=keep)
        site.wijk_names = rename(conn, "wijk", "gemeentecode = :g", payloads, g=BAARN)
        site.gemeente_names = rename(conn, "gemeente", "code IN (SELECT code FROM gemeente WHERE jaar = 2024 AND "
                                     "code <> :g ORDER BY code LIMIT :n)", payloads, g=BAARN, n=len(payloads))
    engine.dispose()
    app = app_on(url, geocoder="pdok", locatieserver_url=locatieserver, geocoder_timeout_s=2)
    site.client = app.test_client()
    return site


@pytest.fixture(scope="module")
def xss_site(pg_server, template_db, locatieserver):
    site = build_site(pg_server, template_db, locatieserver, "xss", XSS)
    yield site
    pg_server.drop(site.db_name)


@pytest.fixture(scope="module")
def csv_site(pg_server, template_db, locatieserver):
    site = build_site(pg_server, template_db, locatieserver, "csv", FORMULAS, extra=(SEMICOLON_FORMULA,))
    yield site
    pg_server.drop(site.db_name)


# --- XSS: pages ---------------------------------------------------------------------------------------

class Page(HTMLParser):
    """What a browser builds from the HTML: elements with their attributes, script bodies, text."""

    def __init__(self, html: str):
        super().__init__(convert_charrefs=True)
        self.elements: list[tuple[str, dict]] = []
        self.scripts: list[tuple[dict, str]] = []
        self.texts: list[str] = []
        self._script: tuple[dict, list[str]] | None = None
        self.feed(html)
        self.close()

    def handle_starttag(self, tag, attrs):
        attributes = {name: value or "" for name, value in attrs}
        self.elements.append((tag, attributes))
        if tag == "script":
            self._script = (attributes, [])

    def handle_startendtag(self, tag, attrs):
        self.elements.append((tag, {name: value or "" for name, value in attrs}))

    def handle_endtag(self, tag):
        if tag == "script" and self._script is not None:
            self.scripts.append((self._script[0], "".join(self._script[1])))
            self._script = None

    def handle_data(self, data):
        (self._script[1] if self._script is not None else self.texts).append(data)


def assert_inert(html: str, shown=()) -> Page:
    """No payload became markup or a javascript: link; each of `shown` is on the page as text; no map script
    or map configuration carries user text (map.js loads the layers by URL and writes popups as text)."""
    assert all(payload not in html for payload in XSS if set(payload) & set("<>\"'")), "a payload is unescaped"
    page = Page(html)
    for tag, attributes in page.elements:
        assert not [name for name in attributes if name.startswith("on")], (tag, attributes)
        for name in URL_ATTRIBUTES:
            assert not attributes.get(name, "").strip().lower().startswith("javascript:"), (tag, attributes)
    for attributes, body in page.scripts:
        for fragment in (MARKER, "onerror", "onload", "onmouseover", "javascript:"):
            assert fragment not in body, (attributes, fragment)
    for payload in shown:
        assert any(payload in chunk for chunk in page.texts), f"{payload!r} is not shown as text"
    return page


def get_html(client, path: str, status: int = 200) -> str:
    response = client.get(path)
    assert response.status_code == status and response.mimetype == "text/html", (path, response.status_code)
    return response.get_data(as_text=True)


def map_scripts(page: Page) -> list[str]:
    return [body for attributes, body in page.scripts if "nonce" in attributes]


def test_search_list_shows_the_payloads_as_text(xss_site):
    for query in (f"q={BAARN_PC4}&radius_m=5000", f"lat={SEARCH[1]}&lon={SEARCH[0]}"):
        page = assert_inert(get_html(xss_site.client, f"/?{query}"), shown=XSS)
        # the list links each initiative to its page; the map loads its markers from the API
        scripts = map_scripts(page)
        assert scripts and "Samenkaart.loadLayer" in scripts[0]
        links = {a.get("href") for tag, a in page.elements if tag == "a"}
        assert {f"/initiatief/{i}" for i in xss_site.initiatives.values()} <= links


def html_safe_json(value: str) -> str:
    """A string as Jinja's |tojson writes it into a script: JSON with < > & ' as \\u escapes."""
    escapes = {"<": "\\u003c", ">": "\\u003e", "&": "\\u0026", "'": "\\u0027"}
    return "".join(escapes.get(c, c) for c in json.dumps(value))


def test_a_buurt_name_reaches_the_map_script_only_json_encoded(xss_site):
    """The one map label with stored text in it: 'Jouw buurt: <naam>' (the CBS name of the searched buurt)."""
    seen = set()
    for code, name in xss_site.buurt_names.items():
        lon, lat = scalar_point(xss_site.url, code)
        response = xss_site.client.get("/", query_string={"lat": lat, "lon": lon})
        html = response.get_data(as_text=True)
        assert response.status_code == 200
        (script,) = map_scripts(Page(html))
        # the label is the name, then its gemeente in brackets (issue 13): the start, JSON-encoded
        assert html_safe_json(f"Jouw buurt: {name}")[:-1] in script
        assert all(payload not in html for payload in XSS if set(payload) & set("<>\"'"))
        seen.add(name)
    assert seen == set(XSS)


def scalar_point(url: str, code: str) -> tuple[float, float]:
    """(lon, lat) of a point inside a buurt."""
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            return tuple(conn.execute(text(
                "SELECT ST_X(p), ST_Y(p) FROM (SELECT ST_Transform(ST_PointOnSurface(geom), 4326) AS p "
                "FROM buurt WHERE jaar = 2024 AND code = :code) AS s"), {"code": code}).one())
    finally:
        engine.dispose()


@pytest.mark.parametrize("payload", XSS)
def test_a_search_for_a_payload_echoes_it_as_text(xss_site, payload):
    response = xss_site.client.get("/", query_string={"q": payload})
    assert response.status_code in (400, 404) and response.mimetype == "text/html"
    page = assert_inert(response.get_data(as_text=True))
    (field_,) = [a for tag, a in page.elements if tag == "input" and a.get("name") == "q"]
    assert field_["value"] == payload


@pytest.mark.parametrize("payload", XSS)
def test_initiative_page_shows_every_field_as_text(xss_site, payload):
    page = assert_inert(get_html(xss_site.client, f"/initiatief/{xss_site.initiatives[payload]}"), shown=[payload])
    assert map_scripts(page)
    shown = "".join(page.texts)
    assert shown.count(payload) >= len(INITIATIVE_TEXT) - 1  # address and postcode share one line


@pytest.mark.parametrize("payload", XSS)
def test_partner_page_shows_every_field_and_service_area_as_text(xss_site, payload):
    page = assert_inert(get_html(xss_site.client, f"/partner/{xss_site.partners[payload]}"), shown=[payload])
    assert map_scripts(page)
    # name (title, h1, 'Waar kan ... groeien?'), description, website, e-mail, phone, the service area
    assert "".join(page.texts).count(payload) >= len(PARTNER_TEXT) + 1


@pytest.mark.parametrize("query", ["", "?level=wijk"])
def test_gemeente_tables_show_area_names_as_text(xss_site, query):
    names = xss_site.wijk_names if query else xss_site.buurt_names
    page = assert_inert(get_html(xss_site.client, f"/gemeente/{BAARN}{query}"), shown=set(names.values()))
    assert map_scripts(page)


def test_map_js_writes_popups_and_tooltips_as_text_nodes():
    """The popups get their text from the API at run time: map.js must hand Leaflet DOM nodes, never HTML
    strings (bindPopup and bindTooltip set a string as innerHTML)."""
    from pathlib import Path

    source = (Path(__file__).resolve().parents[1] / "web" / "static" / "map.js").read_text(encoding="utf-8")
    code = "\n".join(line for line in source.splitlines() if not line.lstrip().startswith(("/*", "*", "//")))
    for sink in ("innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval("):
        assert sink not in code, sink
    # every call that hands Leaflet content (a string would become innerHTML) passes a node built by text() or a
    # popup builder; the vector-tile layers set the content of popups and tooltips they open themselves
    calls = re.findall(r"\.(bindPopup|bindTooltip|setContent)\((\w+)\(", code)
    assert len(calls) == len(re.findall(r"\.(?:bindPopup|bindTooltip|setContent)\(", code)), calls
    assert calls and {argument for _, argument in calls} <= {"text", "popup"}, calls


def test_national_table_shows_gemeente_names_as_text(xss_site):
    assert_inert(get_html(xss_site.client, "/gemeenten"), shown=set(xss_site.gemeente_names.values()))


# --- XSS: JSON and GeoJSON ---------------------------------------------------------------------------

def strings(node):
    if isinstance(node, str):
        yield node
    elif isinstance(node, dict):
        for key, value in node.items():
            yield key
            yield from strings(value)
    elif isinstance(node, list):
        for value in node:
            yield from strings(value)


def get_data(client, path: str, media_type: str):
    response = client.get(path)
    assert response.status_code == 200, (path, response.status_code, response.get_data(as_text=True)[:300])
    assert response.mimetype == media_type, (path, response.mimetype)
    assert response.headers.get("X-Content-Type-Options") == "nosniff", path
    return json.loads(response.get_data(as_text=True))


def assert_data(body, expected) -> None:
    """Every string with a payload in it is exactly a payload (data, not escaped or cut), and all expected are there."""
    found = {s for s in strings(body) if MARKER in s}
    assert found <= set(XSS), found - set(XSS)
    assert set(expected) <= found, set(expected) - found


def data_endpoints(site: Site):
    """(path, media type, payloads it must carry) of every read endpoint that serves stored text."""
    everything, buurten = set(site.payloads), set(site.buurt_names.values())
    wijken, gemeenten = set(site.wijk_names.values()), set(site.gemeente_names.values())
    yield f"/api/v1/initiatives?gemeente={BAARN}&limit=1000", GEOJSON, everything
    yield f"/api/v1/initiatives?q={quote(MARKER)}", GEOJSON, everything
    yield f"/api/v1/initiatives/nearby?lat={SEARCH[1]}&lon={SEARCH[0]}&limit=100", GEOJSON, everything
    yield f"/ogc/collections/initiatives/items?bbox={BAARN_BBOX}&limit=1000", GEOJSON, everything
    yield "/api/v1/partners?limit=1000", JSON, everything
    yield f"/api/v1/areas/{site.home}/partners", JSON, everything
    yield f"/api/v1/service-areas?gemeente={BAARN}", GEOJSON, everything
    yield "/ogc/collections/service_areas/items?limit=1000", GEOJSON, everything
    for payload in site.payloads:
        yield f"/api/v1/initiatives/{site.initiatives[payload]}", GEOJSON, {payload}
        yield f"/ogc/collections/initiatives/items/{site.initiatives[payload]}", GEOJSON, {payload}
        yield f"/api/v1/partners/{site.partners[payload]}", JSON, {payload}
        yield f"/api/v1/partners/{site.partners[payload]}/service-areas", GEOJSON, {payload}
    yield f"/api/v1/gaps?gemeente={BAARN}", GEOJSON, buurten
    yield f"/api/v1/gaps?gemeente={BAARN}&level=wijk", GEOJSON, wijken
    yield "/api/v1/gaps/summary", JSON, gemeenten
    yield "/api/v1/gaps/summary?format=geojson", GEOJSON, gemeenten
    yield f"/api/v1/outreach?gemeente={BAARN}", GEOJSON, ()
    yield f"/api/v1/areas/{site.home_wijk}", GEOJSON, ()
    yield f"/ogc/collections/buurten/items?bbox={BAARN_BBOX}&limit=1000", GEOJSON, buurten
    yield f"/ogc/collections/wijken/items?bbox={BAARN_BBOX}&limit=1000", GEOJSON, wijken
    yield "/ogc/collections/gemeenten/items?limit=1000", GEOJSON, gemeenten


def test_json_and_geojson_carry_the_payloads_as_exact_strings(xss_site):
    for path, media_type, expected in data_endpoints(xss_site):
        assert_data(get_data(xss_site.client, path, media_type), expected)


def test_every_text_field_comes_back_unchanged(xss_site):
    for payload in xss_site.payloads:
        item = get_data(xss_site.client, f"/api/v1/initiatives/{xss_site.initiatives[payload]}", GEOJSON)
        assert {name: item["properties"][name] for name in INITIATIVE_TEXT} == dict.fromkeys(INITIATIVE_TEXT, payload)
        partner = get_data(xss_site.client, f"/api/v1/partners/{xss_site.partners[payload]}", JSON)
        assert {name: partner[name] for name in PARTNER_TEXT} == dict.fromkeys(PARTNER_TEXT, payload)
        assert [a["name"] for a in partner["service_areas"]] == [payload]


def test_outreach_regions_name_their_units_as_stored(xss_site):
    body = get_data(xss_site.client, f"/api/v1/outreach?gemeente={BAARN}", GEOJSON)
    units = [u for f in body["features"] for u in f["properties"]["units"]]
    assert units, "Baarn has white spots outside the buurt with the initiatives"
    assert {u["naam"] for u in units} <= set(xss_site.buurt_names.values()) | set(xss_site.wijk_names.values())


# --- CSV formula injection ---------------------------------------------------------------------------

def cells(body: str) -> list[str]:
    return [cell for row in csv.reader(io.StringIO(body, newline="")) for cell in row]


def is_number(cell: str) -> bool:
    try:
        float(cell)
    except ValueError:
        return False
    return True


def runs_as_formula(cell: str) -> bool:
    """Whether a spreadsheet would take this cell as a formula (a plain negative number is no formula)."""
    return cell.startswith(FORMULA_STARTS) and not is_number(cell)


def csv_sources(site: Site, tmp_path, runner_env):
    """(name, CSV text, stored texts that must come back neutralised) for every CSV the service produces."""
    client = site.client
    everything = set(FORMULAS)

    def get(path):
        response = client.get(path)
        assert response.status_code == 200 and response.mimetype == CSV, (path, response.status_code)
        return response.get_data(as_text=True)

    yield "initiatives", get(f"/api/v1/initiatives?gemeente={BAARN}&limit=1000&format=csv"), everything
    yield "gaps", get(f"/api/v1/gaps?gemeente={BAARN}&format=csv"), set(site.buurt_names.values())
    yield "gaps wijk", get(f"/api/v1/gaps?gemeente={BAARN}&level=wijk&format=csv"), set(site.wijk_names.values())
    yield "summary", get("/api/v1/gaps/summary?format=csv"), set(site.gemeente_names.values())
    yield "outreach gemeente", get(f"/api/v1/outreach?gemeente={BAARN}&format=csv"), ()
    partner = site.partners[FORMULAS[0]]
    yield "outreach partner", get(f"/api/v1/outreach?partner={partner}&format=csv&include_no_support=true"), ()
    for statuses in ((), ("--status", "all")):
        path = tmp_path / f"export{len(statuses)}.csv"
        result = CliRunner().invoke(main, ["export", "initiatives", "--format", "csv", "--output", str(path),
                                           *statuses], env=runner_env(site.url))
        assert result.exit_code == 0, result.output
        with path.open(encoding="utf-8", newline="") as exported:  # keep a CR inside a cell
            yield f"export {' '.join(statuses)}".strip(), exported.read(), everything


def test_no_csv_cell_starts_a_formula(csv_site, tmp_path, runner_env):
    for name, body, expected in csv_sources(csv_site, tmp_path, runner_env):
        found = cells(body)
        assert [c for c in found if runs_as_formula(c)] == [], name
        # the text is kept, behind a ' that tells the spreadsheet it is text
        assert {"'" + p for p in expected} <= set(found), (name, {"'" + p for p in expected} - set(found))
        if name == "outreach gemeente":  # its regions are Baarn's renamed buurten
            assert [c for c in found if c.startswith("'")], f"{name}: no region names a renamed buurt"


def test_no_csv_cell_starts_a_formula_when_split_on_semicolons(csv_site, tmp_path, runner_env):
    for name, body, _ in csv_sources(csv_site, tmp_path, runner_env):
        pieces = [piece.lstrip('"') for cell in cells(body) for piece in cell.split(";")[1:]]
        assert [p for p in pieces if runs_as_formula(p)] == [], name


# --- injection-looking values in every GET parameter -------------------------------------------------

INJECTIONS = ("' OR 1=1 --", "1; DROP TABLE initiative", "%27", "\x00", "' OR 'a'='a" * 1000,
              "Zoë 🚲 \u202e漢字\ufeff Ⅻ", "GM0308' --")
# Pages have no OpenAPI document: their parameters are listed here (path, query parameters).
PAGES = (
    ("/", ("q", "lat", "lon", "kind", "theme", "radius_m")),
    ("/gemeente/{code}", ("walk_m", "kind", "theme", "level", "sort", "order")),
    ("/partner/{partner_id}", ("reach_m", "cluster_m", "include_no_support")),
    ("/initiatief/{initiative_id}", ()),
    ("/gemeenten", ("kaart", "sort", "order")),
    ("/hulp", ("q", "lat", "lon", "service", "theme", "reach_m")),
)
# Requests that need more than their required parameters to reach the database (path -> query).
BASELINE = {
    "/": {"q": BAARN_PC4},
    "/api/v1/initiatives/nearby": {"lat": str(SEARCH[1]), "lon": str(SEARCH[0])},
    "/api/v1/support": {"lat": str(SEARCH[1]), "lon": str(SEARCH[0])},
    "/hulp": {"q": BAARN_PC4},
    "/api/v1/outreach": {"gemeente": BAARN},
}
# A parameter that replaces others: sent instead of them.
INSTEAD_OF = {"postcode": ("lat", "lon"), "address": ("lat", "lon"), "partner": ("gemeente",)}
# Found by this test, in files owned by others: (template, parameter, value) -> reason; xfailed until fixed.
KNOWN_PROBLEMS: dict[tuple[str, str, str], str] = {}
TABLES = ("initiative", "partner", "service_area", "app_user", "api_token", "audit_log", "submission_contact")


def valid_values(site: Site, collection: str | None = None) -> dict[str, str]:
    """A value that answers 200 for each path and required parameter of the API, by name."""
    initiative = str(site.initiatives[site.payloads[0]])
    feature = {"gemeenten": BAARN, "wijken": site.home_wijk, "buurten": site.home,
               "initiatives": initiative, "service_areas": str(site.areas[site.payloads[0]])}
    tile_x, tile_y = tile_at(*SEARCH, TILE_ZOOM)
    return {"lat": str(SEARCH[1]), "lon": str(SEARCH[0]), "gemeente": BAARN, "code": site.home,
            "initiative_id": initiative, "partner_id": str(site.partners[site.payloads[0]]),
            "collection_id": collection or "initiatives", "feature_id": feature.get(collection, initiative),
            "layer": "buurten", "z": str(TILE_ZOOM), "x": str(tile_x), "y": str(tile_y)}


TILE_ZOOM = 12  # a buurt tile over the searched point has content: a 200




def api_requests(site: Site):
    """(template, path params, query params, names to inject, needs a token) of every GET in the OpenAPI document."""
    document = site.client.get("/api/v1/openapi.json").get_json()
    for template, item in document["paths"].items():
        operation = item.get("get")
        if operation is None:
            continue
        parameters = [*item.get("parameters", []), *operation.get("parameters", [])]
        path_names = [p["name"] for p in parameters if p["in"] == "path"]
        query = [p for p in parameters if p["in"] == "query"]
        secured = bool(operation.get("security", document.get("security")))
        collection_enum = next((p["schema"].get("enum") for p in parameters if p["name"] == "collection_id"), None)
        for collection in collection_enum or [None]:
            valid = valid_values(site, collection)
            path = {name: valid[name] for name in path_names}
            base = {**BASELINE.get(template, {}),
                    **{p["name"]: valid[p["name"]] for p in query if p.get("required")}}
            yield template, path, base, [*path_names, *(p["name"] for p in query)], secured


def page_requests(site: Site):
    valid = {**valid_values(site), "code": BAARN}  # pages take a gemeente code
    for template, names in PAGES:
        path_names = [part[1:-1] for part in template.split("/") if part.startswith("{")]
        yield template, {name: valid[name] for name in path_names}, BASELINE.get(template, {}), \
            [*path_names, *names], False


def table_fingerprints(url: str, engine=None) -> dict[str, str | None]:
    """A digest of every row of the tables a write could touch (None: no such table)."""
    own = engine is None
    engine = make_engine(url) if own else engine
    try:
        with engine.connect() as conn:
            found = {}
            for table in TABLES:  # fixed names
                if conn.execute(text("SELECT to_regclass(:t)"), {"t": table}).scalar() is None:
                    found[table] = None
                    continue
                # a token's last_used_at is bookkeeping of the authentication, not data the request changed
                found[table] = conn.execute(text(
                    f"SELECT count(*) || ':' || coalesce(md5(string_agg((to_jsonb(t) - 'last_used_at')::text, '|' "
                    f"ORDER BY (to_jsonb(t) - 'last_used_at')::text)), '') FROM {table} t")).scalar()
            return found
    finally:
        if own:
            engine.dispose()


def request(client, template: str, path: dict, query: dict):
    url = template
    for name, value in path.items():
        url = url.replace("{" + name + "}", quote(value, safe=""))
    return client.get(url + ("?" + urlencode(query) if query else ""))


def answer_problem(response, api: bool) -> str | None:
    """What is wrong with an answer to a hostile request, or None."""
    status = response.status_code
    if status >= 500:
        return f"{status}: {response.get_data(as_text=True)[:200]}"
    if 400 <= status < 500:
        if api:
            body = response.get_json(silent=True)
            if not isinstance(body, dict) or not {"code", "description"} <= set(body):
                return f"{status} without the JSON error shape: {response.get_data(as_text=True)[:200]}"
        elif response.mimetype != "text/html":
            return f"{status} page as {response.mimetype}"
    elif status != 200 and not (not api and status in (301, 302, 303)):
        return f"unexpected {status}"
    return None


def test_every_get_operation_has_a_working_baseline(xss_site):
    """The requests the injections start from answer 200 (or 401/403 when a token is needed):
    a new required parameter without a value in valid_values() shows up here."""
    for template, path, base, _, secured in [*api_requests(xss_site), *page_requests(xss_site)]:
        response = request(xss_site.client, template, path, base)
        assert response.status_code in ((200, 401, 403) if secured else (200,)), \
            (template, path, base, response.status_code, response.get_data(as_text=True)[:200])


@pytest.mark.parametrize("value", INJECTIONS, ids=["or", "drop", "pct27", "nul", "long", "unicode", "code-comment"])
def test_injection_looking_values_answer_4xx_or_200_and_change_nothing(xss_site, value):
    before = table_fingerprints(xss_site.url)
    problems, known = [], []
    for template, path, base, names, _ in [*api_requests(xss_site), *page_requests(xss_site)]:
        api = not any(template == page for page, _ in PAGES)
        for name in names:
            query = {k: v for k, v in base.items() if k not in INSTEAD_OF.get(name, ())}
            if name in path:
                response = request(xss_site.client, template, {**path, name: value}, query)
            else:
                response = request(xss_site.client, template, path, {**query, name: value})
            problem = answer_problem(response, api)
            if problem and (template, name, value) in KNOWN_PROBLEMS:
                known.append(KNOWN_PROBLEMS[template, name, value])
            elif problem:
                problems.append(f"GET {template} {name}={value[:30]!r} (path {path}, query {query}): {problem}")
    assert problems == [], "\n".join(problems)
    assert table_fingerprints(xss_site.url) == before
    if known:
        pytest.xfail("; ".join(known))


# --- the write side: payloads entered through the API, hostile values in every write ------------------

ADMIN_EMAIL, ADMIN_PASSWORD = "beheer@example.nl", "een lang wachtwoord 42"
SUBMITTED_TEXT = ("name", "description", "website", "email", "phone", "address")
CONTACT_TEXT = ("name", "email", "phone")


@pytest.fixture(scope="module")
def write_site(pg_server, template_db, locatieserver):
    """(client, admin token, database URL, home buurt): a copy of the template with an admin and a partner per
    payload; everything else comes in through the API."""
    from sqlalchemy.orm import Session

    from geoservice import accounts

    db_name = f"geoservice_test_security_write_{os.getpid()}"
    url = pg_server.create(db_name, template=template_db)
    engine = make_engine(url)
    with Session(engine) as session, session.begin():
        home = buurt_at(session.connection(), *SEARCH)[0]
        partners = {payload: add_partner(session, f"Partner {n}") for n, payload in enumerate(XSS)}
        admin = accounts.create_user(session, ADMIN_EMAIL, role="admin", password=ADMIN_PASSWORD)
        token = accounts.create_token(session, admin, "security")[1]
    engine.dispose()
    app = app_on(url, geocoder="pdok", locatieserver_url=locatieserver, geocoder_timeout_s=2)
    yield app, {"Authorization": f"Bearer {token}"}, url, home, partners
    pg_server.drop(db_name)


def write(app, method: str, path: str, headers: dict | None = None, **kwargs):
    """One API write, with the rate limits reset (they have tests of their own; here they would hide the rest)."""
    app.extensions["geoservice.ratelimiter"].reset()
    return app.test_client().open(path, method=method, headers=headers or {}, **kwargs)


def accepted(app, method: str, path: str, body: dict, headers=None, nested: str | None = None):
    """Send body; drop the fields the API refuses (a javascript: website, say) and send again.
    Returns (response, the fields that were kept)."""
    response = write(app, method, path, headers, json=body)
    for _ in range(len(body) + 3):
        if response.status_code != 400:
            break
        description = response.get_json()["description"]
        refused = [name for name in body if name != nested and labelled(name) in description]
        if nested:
            refused_nested = [name for name in body[nested] if labelled(f"contact_{name}") in description]
            body = {**body, nested: {k: v for k, v in body[nested].items() if k not in refused_nested}}
        assert refused or nested, description
        body = {k: v for k, v in body.items() if k not in refused}
        response = write(app, method, path, headers, json=body)
    return response, body


def labelled(name: str) -> str:
    """How a refusal names a field (the Dutch label of submissions and partner edits)."""
    from geoservice.registry import submissions

    return submissions.LABELS.get(name, name)


def logged_in_client(app):
    client = app.test_client()
    html = client.get("/inloggen").get_data(as_text=True)
    token = next(a["value"] for tag, a in Page(html).elements if a.get("name") == "csrf_token")
    response = client.post("/inloggen", data={"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD, "csrf_token": token})
    assert response.status_code == 303, response.status_code
    return client


def test_payloads_entered_through_the_api_stay_text_everywhere(write_site):
    app, auth, _url, home, partners = write_site
    staff = logged_in_client(app)
    public = app.test_client()
    for payload in XSS:
        body = {**dict.fromkeys(SUBMITTED_TEXT, payload), "kind": "bewonersinitiatief", "lat": SEARCH[1],
                "lon": SEARCH[0], "contact": {**dict.fromkeys(CONTACT_TEXT, payload), "email": "aanmelder@example.org"}}
        response, kept = accepted(app, "POST", "/api/v1/submissions", body, nested="contact")
        assert response.status_code == 201, response.get_json()
        assert "name" in kept and "description" in kept  # free text is kept as written
        new_id = response.get_json()["id"]
        stored = {k for k in SUBMITTED_TEXT if k in kept}
        # the moderators' pages show it (and the private contact) as text
        assert_inert(get_html(staff, "/beheer"), shown=[payload])
        assert_inert(get_html(staff, f"/beheer/initiatief/{new_id}"), shown=[payload])
        # an edit through the API: the audit log holds the old and the new text
        other = XSS[(XSS.index(payload) + 1) % len(XSS)]
        edited = write(app, "PATCH", f"/api/v1/initiatives/{new_id}", auth, json={"description": other})
        assert edited.status_code == 200, edited.get_json()
        assert edited.get_json()["changes"]["description"] == [payload, other]
        assert write(app, "POST", f"/api/v1/initiatives/{new_id}/publish", auth).status_code == 200
        assert_inert(get_html(staff, f"/beheer/initiatief/{new_id}"), shown=[payload, other])
        audit = write(app, "GET", f"/api/v1/initiatives/{new_id}/audit", auth)
        assert audit.headers.get("X-Content-Type-Options") == "nosniff"
        assert_data(audit.get_json(), [payload, other])
        # the public sees the published text as text, and the API gives it back exactly
        assert_inert(get_html(public, f"/initiatief/{new_id}"), shown=[payload])
        item = get_data(public, f"/api/v1/initiatives/{new_id}", GEOJSON)["properties"]
        assert {k: item[k] for k in stored} == {**dict.fromkeys(stored, payload), "description": other}
        assert set(item) >= set(SUBMITTED_TEXT) and not {"contact", "contact_name"} & set(item)

        partner = partners[payload]
        kept = []
        for name in PARTNER_TEXT:  # one field at a time: a refused one (an e-mail that is none) changes nothing
            response = write(app, "PATCH", f"/api/v1/partners/{partner}", auth, json={name: payload})
            assert response.status_code in (200, 400), response.get_json()
            kept += [name] if response.status_code == 200 else []
        assert {"name", "description"} <= set(kept)
        area = write(app, "POST", f"/api/v1/partners/{partner}/service-areas", auth,
                     json={"name": payload, "codes": [home]})
        assert area.status_code == 201, area.get_json()
        assert area.get_json()["properties"]["name"] == payload
        assert_inert(get_html(public, f"/partner/{partner}"), shown=[payload])
        assert_inert(get_html(staff, f"/beheer/partner/{partner}"), shown=[payload])
        profile = get_data(public, f"/api/v1/partners/{partner}", JSON)
        assert_data(profile, [payload])
        assert {name: profile[name] for name in kept} == dict.fromkeys(kept, payload)
    assert_inert(get_html(public, f"/?lat={SEARCH[1]}&lon={SEARCH[0]}"), shown=XSS)


# Valid requests the hostile values are put into, one field at a time (operationId -> (path params, body)).
WRITE_BASELINES = {
    "submitInitiative": ({}, {"name": "Buurtkamer", "kind": "bewonersinitiatief", "lat": SEARCH[1],
                              "lon": SEARCH[0], "contact": {"email": "aanmelder@example.org"}}),
    "editInitiative": ({"initiative_id": "{initiative}"}, {"description": "Koffie op dinsdag."}),
    "rejectInitiative": ({"initiative_id": "{pending}"}, {"reason": "Geen initiatief."}),
    "publishInitiative": ({"initiative_id": "{pending}"}, None),
    "archiveInitiative": ({"initiative_id": "{initiative}"}, None),
    "verifyInitiative": ({"initiative_id": "{initiative}"}, None),
    "initiativeAudit": ({"initiative_id": "{initiative}"}, None),
    "moderationPending": ({}, None),
    "moderationStale": ({}, None),
    "updatePartner": ({"partner_id": "{partner}"}, {"description": "Wij helpen."}),
    "addServiceArea": ({"partner_id": "{partner}"}, {"name": "Werkgebied", "codes": ["{home}"]}),
    "removeServiceArea": ({"partner_id": "{partner}", "area_id": "{area}"}, None),
}


def write_operations(document: dict):
    """(method, template, operationId, query parameter names, body property names) of every write in the document,
    and of the GETs that need a token."""
    for template, item in document["paths"].items():
        for method, operation in item.items():
            if method == "parameters" or (method == "get" and not operation.get("security")):
                continue
            body = operation.get("requestBody", {}).get("content", {}).get(JSON, {}).get("schema", {})
            if "$ref" in body:
                body = document["components"]["schemas"][body["$ref"].rsplit("/", 1)[1]]
            query = [p["name"] for p in operation.get("parameters", []) if p["in"] == "query"]
            yield method.upper(), template, operation["operationId"], query, list(body.get("properties", {}))


# The modules that document the write operations (paths(), schemas()); the integrator merges them into
# geoservice/api/openapi.py, and until then with_write_operations() does it for the tests.
WRITE_MODULES = ("geoservice.api.openapi_moderation", "geoservice.api.openapi_partner_editing")
BEARER_SCHEME = {"bearerAuth": {"type": "http", "scheme": "bearer"}}


def write_modules() -> list:
    return [importlib.import_module(name) for name in WRITE_MODULES]


def with_write_operations(document: dict) -> dict:
    """The document plus the documented write operations; per path and method, what it already has wins
    (so this changes nothing once openapi.py merges the modules itself)."""
    for module in write_modules():
        for path, item in module.paths().items():
            for method, operation in item.items():
                document["paths"].setdefault(path, {}).setdefault(method, operation)
        for name, schema in module.schemas().items():
            document["components"]["schemas"].setdefault(name, schema)
    schemes = document["components"].setdefault("securitySchemes", {})
    for name, scheme in BEARER_SCHEME.items():
        schemes.setdefault(name, scheme)
    return document


@pytest.mark.parametrize("value", INJECTIONS, ids=["or", "drop", "pct27", "nul", "long", "unicode", "code-comment"])
def test_injection_looking_values_in_writes_answer_4xx_or_2xx_and_a_refusal_changes_nothing(write_site, value):
    app, auth, url, home, _ = write_site
    engine = make_engine(url)
    with engine.begin() as conn:  # fresh targets for each value: the writes below may change them
        ids = {"initiative": make_initiative(conn, name="Doelwit"), "pending": make_initiative(
            conn, name="Wacht", status="pending"), "partner": add_partner(conn, f"Doelwit {INJECTIONS.index(value)}"),
            "home": home}
        ids["area"] = add_service_area(conn, ids["partner"], "Gebied", BUURT_GEOM, code=home)

    def fill(template):
        if isinstance(template, str):
            return template.format(**ids) if template.startswith("{") else template
        if isinstance(template, list):
            return [fill(v) for v in template]
        if isinstance(template, dict):
            return {k: fill(v) for k, v in template.items()}
        return template

    document = with_write_operations(app.test_client().get("/api/v1/openapi.json").get_json())
    problems, operations = [], list(write_operations(document))
    assert {op_id for _, _, op_id, _, _ in operations} <= set(WRITE_BASELINES), \
        "a new write operation needs a baseline in WRITE_BASELINES"
    for method, template, op_id, query_names, body_names in operations:
        path_params, body = WRITE_BASELINES[op_id]
        path_params, body = fill(path_params), fill(body)
        targets = [("path", n) for n in path_params] + [("query", n) for n in query_names] + \
                  [("body", n) for n in body_names]
        for where, name in targets:
            path = dict(path_params)
            query, sent = {}, dict(body) if body is not None else None
            if where == "path":
                path[name] = value
            elif where == "query":
                query[name] = value
            else:
                sent = {**(sent or {}), name: value}
            target = template
            for key, given in path.items():
                target = target.replace("{" + key + "}", quote(str(given), safe=""))
            before = table_fingerprints(url, engine)
            response = write(app, method, target + ("?" + urlencode(query) if query else ""), auth,
                             **({"json": sent} if sent is not None else {}))
            label = f"{method} {template} {where} {name}={value[:30]!r}"
            status = response.status_code
            if status >= 500:
                problems.append(f"{label}: {status} {response.get_data(as_text=True)[:200]}")
            elif status >= 400:
                body_json = response.get_json(silent=True) or {}
                if not {"code", "description"} <= set(body_json):
                    problems.append(f"{label}: {status} without the JSON error shape")
                if table_fingerprints(url, engine) != before:
                    problems.append(f"{label}: refused with {status}, but the data changed")
    engine.dispose()
    assert problems == [], "\n".join(problems)
