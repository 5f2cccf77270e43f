"""Browser tests: the pages in headless Chromium (Debian's chromium driven by Playwright).

One live server on 127.0.0.1 serves a database filled here; the pages may load nothing from any
other host. They skip when Chromium or Playwright is missing, except in CI (CI=true), where they fail.
"""

from __future__ import annotations

import json
import os
import re
from collections import Counter
from urllib.parse import urlencode
from urllib.request import urlopen

import pytest

from geoservice import create_app
from geoservice.analysis.gaps import STATUS_LABELS, STATUSES
from geoservice.db import make_engine
from web.maps import CHOROPLETHS, STATUS_COLOURS

from .browser_support import (
    VIEWPORT,
    LiveServer,
    parse_distance,
    registered_layers,
    wait_for_layer,
    watch_page,
)
from .conftest import settings_for
from .helpers import add_partner, add_service_area, make_initiative

XSS_NAME = "<img src=x onerror=alert(1)>"
XSS_WEBSITE = "javascript:alert(1)"
PC4_BAARN = "3741"  # data/postcodes/pc4_nl.tsv: Baarn, centroid 52.2175, 5.2856
PC4_POINT = (5.2856, 52.2175)
RADIUS_M = 2000  # the search page's default
BAARN_PARTNER = "Stichting Samen Baarn (test)"
AMSTERDAM_PARTNER = "Buurtwerk Amsterdam-Centrum (test)"
# (name, lon, lat, kind): published initiatives within 2 km of the 3741 centroid, at varied distances
BAARN = [
    ("Buurtkamer De Kern", 5.2870, 52.2180, "bewonersinitiatief"),
    ("Repair Café Baarn", 5.2900, 52.2140, "vrijwilligersgroep"),
    ("Energiecoöperatie Baarn-Noord", 5.2790, 52.2230, "energiecooperatie"),
    ("Taalcafé Zuid", 5.2950, 52.2050, "vrijwilligersgroep"),
    (XSS_NAME, 5.3040, 52.2260, "overig"),
]
FAR_AWAY = ("Dorpsfonds Lage Vuursche", 5.2220, 52.1806)  # about 6 km away: outside the default radius
PENDING = ("Nog niet gepubliceerd", 5.2860, 52.2170)  # next to the centroid, but not public
AMSTERDAM = [("Buurtmoestuin Jordaan", 4.8830, 52.3760), ("Taalcafé De Pijp", 4.8940, 52.3550),
             ("Wijkcoöperatie Oost", 4.9300, 52.3600)]


# --- fixtures: browser, data, live server, watched page ----------------------------------------------

@pytest.fixture(scope="session")
def browser_data(pg_server, template_db):
    """A private database: initiatives in Baarn and Amsterdam, partners with service areas."""
    name = f"geoservice_test_browser_{os.getpid()}"
    url = pg_server.create(name, template=template_db)
    engine = make_engine(url)
    ids = {}
    with engine.begin() as conn:
        for title, lon, lat, kind in BAARN:
            ids[title] = make_initiative(conn, lon=lon, lat=lat, name=title, kind=kind,
                                         themes=["ontmoeting", "jeugd"],
                                         website=XSS_WEBSITE if title == XSS_NAME else "https://example.org/")
        ids[FAR_AWAY[0]] = make_initiative(conn, lon=FAR_AWAY[1], lat=FAR_AWAY[2], name=FAR_AWAY[0])
        make_initiative(conn, lon=PENDING[1], lat=PENDING[2], name=PENDING[0], status="pending")
        for title, lon, lat in AMSTERDAM:
            ids[title] = make_initiative(conn, lon=lon, lat=lat, name=title, kind="bewonersinitiatief")
        ids["baarn_partner"] = add_partner(conn, BAARN_PARTNER, kind="lokale_ondersteuner",
                                           website="https://example.org/samen-baarn")
        add_service_area(conn, ids["baarn_partner"], "Baarn-centrum, 1,5 km rond postcode 3741",
                         "ST_Buffer(ST_Transform(ST_SetSRID(ST_MakePoint(:lon, :lat), 4326), 28992), 1500)",
                         definition_type="radius", lon=PC4_POINT[0], lat=PC4_POINT[1],
                         definition={"point": {"lon": PC4_POINT[0], "lat": PC4_POINT[1]}, "radius_m": 1500})
        ids["amsterdam_partner"] = add_partner(conn, AMSTERDAM_PARTNER, kind="welzijnsorganisatie")
        add_service_area(conn, ids["amsterdam_partner"], "Centrum en Oost",
                         "ST_Buffer(ST_Transform(ST_SetSRID(ST_MakePoint(4.9000, 52.3650), 4326), 28992), 2500)",
                         definition_type="radius",
                         definition={"point": {"lon": 4.9, "lat": 52.365}, "radius_m": 2500})
    engine.dispose()
    yield url, ids
    pg_server.drop(name)


@pytest.fixture(scope="session")
def live(browser, browser_data):
    """The app on a free port of 127.0.0.1, offline: no tiles, postcode centroids as geocoder."""
    app = create_app(settings_for(browser_data[0], geocoder="offline"))
    with LiveServer(app) as server:
        yield server


@pytest.fixture(scope="session")
def ids(browser_data) -> dict:
    return browser_data[1]


class Visit:
    """A page in a fresh browser context, with what it did wrong recorded (see browser_support.Watch)."""

    def __init__(self, page, watch, base_url: str):
        self.page, self.watch, self.base_url = page, watch, base_url
        self.checked = False

    def goto(self, path: str, *, status: int = 200):
        response = self.page.goto(self.base_url + path, wait_until="load")
        assert response.status == status, f"{path} answered {response.status}"
        if status >= 400:  # Chromium logs the page's own error status; that one is expected here
            own = f"status of {status} "
            self.watch.console_errors[:] = [e for e in self.watch.console_errors
                                            if not (own in e and e.endswith(f"({response.url})"))]
        return response

    def wait_for_layer(self, kind: str) -> int:
        return wait_for_layer(self.page, kind)

    def assert_clean(self):
        self.checked = True
        assert self.watch.problems() == {}, "the page did something a visitor would call broken"


@pytest.fixture
def visit(browser, live):
    context = browser.new_context(viewport=VIEWPORT, locale="nl-NL")
    page = context.new_page()
    page.set_default_timeout(15_000)
    visit = Visit(page, watch_page(page, live.url), live.url)
    yield visit
    problems = visit.watch.problems()
    context.close()
    if not visit.checked:  # a test that stopped early still may not hide what the page did
        assert problems == {}, "the page did something a visitor would call broken"


def api_json(live, path: str, **params):
    with urlopen(f"{live.url}{path}?{urlencode(params, doseq=True)}", timeout=30) as response:
        return json.load(response)


def search_postcode(visit: Visit, postcode: str = PC4_BAARN):
    """What a resident does: type the postcode in the labelled field and press Enter."""
    visit.goto("/")
    field = visit.page.get_by_label("Adres of postcode")
    field.press_sequentially(postcode)
    with visit.page.expect_navigation():
        field.press("Enter")
    assert visit.page.url.startswith(visit.base_url + "/?") and f"q={postcode}" in visit.page.url


def markers_shown(page) -> int:
    """Initiatives on the map: single marker icons plus the counts written on cluster icons."""
    return page.evaluate("""() => {
        let n = 0;
        for (const icon of document.querySelectorAll('.leaflet-marker-pane .leaflet-marker-icon')) {
            n += icon.classList.contains('marker-cluster') ? parseInt(icon.textContent, 10) : 1;
        }
        return n;
    }""")


MAP_AT_REST = "() => !document.querySelector('.leaflet-zoom-anim, .leaflet-pan-anim')"


def open_marker_popup(page, title: str):
    """Open the popup of the marker titled `title` with the keyboard (focus, Enter), first clicking
    clusters open (they zoom in) until the marker shows. A click that misses a marker would search
    from that point on the map, so the marker itself is never clicked."""
    marker = page.locator(f'.leaflet-marker-pane img.leaflet-marker-icon[title="{title}"]')
    for _ in range(8):
        page.wait_for_function(MAP_AT_REST)
        if marker.count():
            break
        page.locator(".leaflet-marker-pane .marker-cluster").first.click()
        page.wait_for_timeout(400)  # the zoom animation starts
    marker.focus()
    page.keyboard.press("Enter")
    return page.locator(".leaflet-popup-content")


# --- / : the resident search -----------------------------------------------------------------------

def test_postcode_search_lists_initiatives_by_distance_and_marks_them_on_the_map(visit, live):
    page = visit.page
    search_postcode(visit)
    expected = api_json(live, "/api/v1/initiatives/nearby", postcode=PC4_BAARN, radius_m=RADIUS_M, limit=25)
    expected_names = [f["properties"]["name"] for f in expected["features"]]
    assert {name for name, *_ in BAARN} <= set(expected_names)
    assert FAR_AWAY[0] not in expected_names and PENDING[0] not in expected_names

    items = page.locator("ol.results > li")
    names = page.locator("ol.results > li a.name").all_inner_texts()
    distances = [parse_distance(t) for t in page.locator("ol.results > li .distance").all_inner_texts()]
    assert names == expected_names and items.count() == len(expected_names)
    assert distances == sorted(distances), "the list is not sorted by distance"
    for shown, feature in zip(distances, expected["features"]):
        assert shown == pytest.approx(feature["properties"]["distance_m"], abs=51)

    assert visit.wait_for_layer("initiatives") == len(names)
    page.wait_for_selector(".leaflet-marker-pane .leaflet-marker-icon")
    assert markers_shown(page) == len(names)
    assert visit.wait_for_layer("area") == 1  # the buurt of the searched point
    # the searched point's buurt is served by the Baarn partner (its area covers 1.5 km around it)
    assert BAARN_PARTNER in page.locator("main").inner_text()
    visit.assert_clean()


def test_the_xss_name_is_shown_as_text_in_the_list_and_the_popup(visit):
    page = visit.page
    search_postcode(visit)
    item = page.locator("ol.results > li").filter(has=page.get_by_role("link", name=XSS_NAME, exact=True))
    assert item.count() == 1
    assert XSS_WEBSITE in item.inner_text()  # the website is shown, as text
    visit.wait_for_layer("initiatives")

    popup = open_marker_popup(page, XSS_NAME)
    popup.wait_for()
    assert popup.locator("h3").inner_text() == XSS_NAME
    assert XSS_WEBSITE in popup.inner_text()

    assert page.locator('img[src="x"]').count() == 0
    assert page.locator('a[href^="javascript:" i]').count() == 0
    page.wait_for_timeout(300)  # an onerror handler would have run by now
    assert visit.watch.dialogs == []
    visit.assert_clean()


def test_search_page_loads_nothing_from_other_hosts(visit):
    search_postcode(visit)
    visit.wait_for_layer("initiatives")
    visit.page.wait_for_load_state("networkidle")
    assert visit.watch.outside_requests == []
    visit.assert_clean()


# --- keyboard and focus ----------------------------------------------------------------------------

def focused(page) -> dict:
    return page.evaluate("""() => {
        const el = document.activeElement, style = getComputedStyle(el);
        return {tag: el.tagName.toLowerCase(), id: el.id, cls: String(el.className && el.className.baseVal
                !== undefined ? el.className.baseVal : el.className), text: (el.innerText || el.value || '').trim().slice(0, 40),
                outline: style.outlineStyle, width: parseFloat(style.outlineWidth) || 0,
                shadow: style.boxShadow};
    }""")


def visible_focus(state: dict) -> bool:
    return (state["outline"] != "none" and state["width"] > 0) or state["shadow"] not in ("", "none")


def test_tab_reaches_skip_link_first_then_the_search_field_with_visible_focus(visit):
    page = visit.page
    visit.goto("/")
    page.keyboard.press("Tab")
    first = focused(page)
    assert first["tag"] == "a" and "skip-link" in first["cls"] and first["text"] == "Direct naar de inhoud"
    assert visible_focus(first), f"no visible focus on the skip link: {first}"
    stops = [first]
    for _ in range(10):
        if stops[-1]["id"] == "q":
            break
        page.keyboard.press("Tab")
        stops.append(focused(page))
    assert stops[-1]["id"] == "q", f"the search field is not among the first tab stops: {stops}"
    assert [s for s in stops if not visible_focus(s)] == []

    page.keyboard.press("Shift+Tab")
    while focused(page)["cls"] != "skip-link":
        page.keyboard.press("Shift+Tab")
    page.keyboard.press("Enter")  # the skip link moves focus to the content
    assert page.evaluate("document.activeElement.id") == "inhoud"
    visit.assert_clean()


def tab_stops(page, limit: int = 80) -> list[dict]:
    """Every element Tab reaches from the top of the page (at most `limit`)."""
    page.evaluate("document.activeElement && document.activeElement.blur()")
    stops, seen = [], set()
    for _ in range(limit):
        page.keyboard.press("Tab")
        state = focused(page)
        key = page.evaluate("""() => { const el = document.activeElement;
            if (!el.dataset.tabStop) { el.dataset.tabStop = String(Math.random()); } return el.dataset.tabStop; }""")
        if state["tag"] == "body" or key in seen:
            break
        seen.add(key)
        stops.append(state)
    return stops


def test_every_tab_stop_of_the_search_results_shows_focus(visit):
    search_postcode(visit)
    visit.wait_for_layer("initiatives")
    stops = tab_stops(visit.page, limit=200)
    assert stops[-1]["text"] == "API", "Tab did not reach the footer"  # the whole page was walked
    assert any("leaflet-marker-icon" in s["cls"] for s in stops), "markers are not reachable with Tab"
    assert any("leaflet-control-layers-selector" in s["cls"] for s in stops), "layer switches are not reachable"
    assert [s for s in stops if not visible_focus(s)] == []
    assert [s for s in stops if s["tag"] == "path"] == [], "nameless map shapes are Tab stops"
    visit.assert_clean()


@pytest.mark.parametrize("path", ["/gemeente/GM0363", "/gemeenten"])
def test_map_polygons_are_not_separate_tab_stops(visit, path):
    """Hundreds of nameless polygons in the Tab order would keep a keyboard user from the table and footer.

    (Chromium makes an SVG element with a focus listener focusable; Leaflet's tooltips add one.)
    """
    page = visit.page
    visit.goto(path)
    visit.wait_for_layer("units" if "gemeente/" in path else "gemeenten")
    page.locator(".leaflet-container").first.focus()
    reached = []
    for _ in range(8):
        page.keyboard.press("Tab")
        reached.append(page.evaluate("document.activeElement.tagName.toLowerCase()"))
    assert "path" not in reached, f"Tab from the map goes through its polygons: {reached}"
    visit.assert_clean()


# --- /gemeente/<code>: the municipality dashboard --------------------------------------------------

def leaflet_features(page, key: str) -> list[dict]:
    """Each polygon Leaflet drew whose feature has property `key`: its properties, SVG fill, and whether
    its path is in the page's overlay pane (what a person sees)."""
    return page.evaluate("""key => {
        const found = [];
        for (const value of Object.values(window)) {
            if (!(value instanceof L.Map)) { continue; }
            value.eachLayer(layer => {
                const p = layer.feature && layer.feature.properties;
                if (p && p[key] !== undefined && layer._path) {
                    found.push({properties: p, fill: layer._path.getAttribute('fill'),
                                shown: layer._path.isConnected
                                       && !!layer._path.closest('.leaflet-overlay-pane')});
                }
            });
        }
        return found;
    }""", key)


def leaflet_units(page) -> list[dict]:
    return [{"code": f["properties"].get("code"), "status": f["properties"]["status"], "fill": f["fill"],
             "shown": f["shown"]} for f in leaflet_features(page, "status")]


def overlay_paths_by_fill(page) -> Counter:
    fills = page.eval_on_selector_all(".leaflet-overlay-pane path", "ps => ps.map(p => p.getAttribute('fill'))")
    return Counter(fills)


def feature_counts(page) -> dict:
    colours = list(STATUS_COLOURS.values())
    paths = overlay_paths_by_fill(page)
    return {"units": sum(paths[c] for c in colours), "paths": sum(paths.values()), "markers": markers_shown(page)}


def overlay_checkboxes(page):
    return page.locator(".leaflet-control-layers-overlays input[type=checkbox]")


def toggle_by_keyboard(page, checkbox) -> None:
    checkbox.focus()
    page.keyboard.press("Space")
    page.wait_for_timeout(200)


def check_unit_colours(visit, gap_responses: list) -> Counter:
    """Every unit drawn in the colour of its status, the same units as the API answered; the statuses."""
    n_units = visit.wait_for_layer("units")
    assert n_units > 0
    units = leaflet_units(visit.page)
    assert len(units) == n_units
    assert [u for u in units if u["fill"] != STATUS_COLOURS[u["status"]]] == []
    assert all(u["shown"] for u in units)
    statuses = Counter(u["status"] for u in units)
    geojson = [r.json() for r in gap_responses if r.ok and "geo" in (r.headers.get("content-type") or "")]
    assert geojson, "the units did not come from /api/v1/gaps"
    assert statuses == Counter(f["properties"]["status"] for f in geojson[-1]["features"])
    fills = overlay_paths_by_fill(visit.page)
    for status, count in statuses.items():
        assert fills[STATUS_COLOURS[status]] >= count
    gap_responses.clear()
    return statuses


def test_amsterdam_dashboard_colours_units_by_status_with_a_legend(visit):
    page = visit.page
    gap_responses = []
    page.on("response", lambda r: gap_responses.append(r) if re.search(r"/api/v1/gaps\?", r.url) else None)
    visit.goto("/gemeente/GM0363")
    check_unit_colours(visit, gap_responses)  # buurten: without population in the shipped data

    legend = page.locator(".legend")
    assert legend.count() >= 1
    rows = legend.first.locator("li")
    labels = [t.strip() for t in rows.all_inner_texts()]
    assert {STATUS_LABELS[s] for s in STATUSES} <= set(labels)
    for i, text in enumerate(labels):
        status = next((s for s in STATUSES if STATUS_LABELS[s] == text), None)
        if status:
            colour = rows.nth(i).locator(".swatch").evaluate("e => getComputedStyle(e).backgroundColor")
            assert colour == _rgb(STATUS_COLOURS[status]), f"legend colour of {text!r}"

    # the wijken have inhabitants: switch to them with the keyboard and see several statuses in colour
    wijken = page.get_by_label("Wijken", exact=True)
    wijken.focus()
    page.keyboard.press("Space")
    assert wijken.is_checked()
    with page.expect_navigation():
        page.get_by_role("button", name="Toon", exact=True).press("Enter")
    statuses = check_unit_colours(visit, gap_responses)
    assert len(statuses) >= 2, statuses
    visit.assert_clean()


def _rgb(hex_colour: str) -> str:
    r, g, b = (int(hex_colour[i:i + 2], 16) for i in (1, 3, 5))
    return f"rgb({r}, {g}, {b})"


def test_dashboard_layers_switch_off_and_on_with_the_keyboard(visit):
    page = visit.page
    visit.goto("/gemeente/GM0363")
    visit.wait_for_layer("units")
    visit.wait_for_layer("initiatives")
    page.wait_for_load_state("networkidle")
    boxes = overlay_checkboxes(page)
    assert boxes.count() >= 2, "the layer control should list the units and the initiatives"
    start = feature_counts(page)
    assert start["units"] > 0

    switched = {}
    for i in range(boxes.count()):
        box = boxes.nth(i)
        name = box.locator("xpath=..").inner_text().strip()
        was_checked = box.is_checked()
        toggle_by_keyboard(page, box)
        assert box.is_checked() != was_checked, f"Space did not switch layer {name!r}"
        switched[name] = (was_checked, feature_counts(page))
        toggle_by_keyboard(page, box)
        assert box.is_checked() == was_checked
        assert feature_counts(page) == start, f"switching {name!r} back did not restore its features"

    # one switch takes every coloured unit away, and one every initiative marker
    units_switch = [n for n, (on, c) in switched.items() if on and c["units"] == 0]
    markers_switch = [n for n, (on, c) in switched.items() if on and c["markers"] == 0 and start["markers"] > 0]
    assert units_switch, f"no layer switch removes the units: {switched}"
    assert markers_switch, f"no layer switch removes the initiatives: {switched}"
    # every other switch changes something on the map too
    assert [n for n, (on, c) in switched.items() if c == start] == []
    visit.assert_clean()


# --- /gemeenten, /partner/<id>, /initiatief/<id> -------------------------------------------------------

def choropleth_colour(value, spec: dict) -> str:
    """The class colour of a value as the legend describes it: below bins[i] gets colours[i]."""
    if value is None:
        return "#bdbdbd"
    return next((c for upper, c in zip(spec["bins"], spec["colours"]) if value < upper), spec["colours"][-1])


# the national map's choropleths: web.maps.CHOROPLETHS by the summary property each one colours by
NATIONAL_MAPS = [(spec["label"], prop) for prop, spec in CHOROPLETHS.items()]


def test_national_overview_colours_every_gemeente_and_switches_maps(visit, live):
    page = visit.page
    visit.goto("/gemeenten")
    n = visit.wait_for_layer("gemeenten")
    summary = api_json(live, "/api/v1/gaps/summary")["gemeenten"]
    assert n == len(summary) > 300
    assert page.locator("table caption").count() >= 1
    assert page.locator("table.data tbody tr").count() == len(summary)

    assert len(NATIONAL_MAPS) >= 2
    for i, (label, prop) in enumerate(NATIONAL_MAPS):
        if i:  # switch the map, as a person does: pick the radio button, then the button
            page.get_by_label(label).check()
            with page.expect_navigation():
                page.get_by_role("button", name="Toon op de kaart").click()
            visit.wait_for_layer("gemeenten")
        drawn = tile_features(page)  # vector tiles since issue #7 (was: leaflet_features of a GeoJSON layer)
        assert len(drawn) == n and all(f["shown"] for f in drawn)
        spec = CHOROPLETHS[prop]
        wrong = [(f["properties"]["naam"], f["properties"].get(prop), f["fill"]) for f in drawn
                 if f["fill"] != choropleth_colour(f["properties"].get(prop), spec)]
        assert wrong == [], f"gemeenten coloured against the legend of {label!r}"
        assert len({f["fill"] for f in drawn}) >= 3  # a choropleth, not one colour
        legend = page.locator(".legend").first
        assert legend.locator(".legend-title").inner_text().strip() == label
        swatches = legend.locator(".swatch").evaluate_all("ss => ss.map(s => getComputedStyle(s).backgroundColor)")
        assert [_rgb(c) for c in spec["colours"]] == swatches[:len(spec["colours"])]
    visit.assert_clean()


def test_partner_page_shows_its_service_areas(visit, live, ids):
    page = visit.page
    partner_id = ids["baarn_partner"]
    visit.goto(f"/partner/{partner_id}")
    assert BAARN_PARTNER in page.locator("h1").inner_text()
    areas = api_json(live, f"/api/v1/partners/{partner_id}/service-areas")
    assert visit.wait_for_layer("service_areas") == len(areas["features"]) == 1
    assert page.locator(".leaflet-overlay-pane path").count() >= 1
    visit.assert_clean()


def test_initiative_page_shows_the_xss_name_as_text(visit, ids):
    page = visit.page
    visit.goto(f"/initiatief/{ids[XSS_NAME]}")
    assert page.locator("h1").inner_text() == XSS_NAME
    assert XSS_WEBSITE in page.locator("main").inner_text()
    page.wait_for_selector(".leaflet-marker-pane .leaflet-marker-icon")
    assert page.locator('img[src="x"]').count() == 0
    assert page.locator('a[href^="javascript:" i]').count() == 0
    page.wait_for_timeout(300)
    visit.assert_clean()


# --- every page: no JavaScript errors, nothing from other hosts ------------------------------------------

PAGES = [
    ("/", 200), (f"/?q={PC4_BAARN}", 200), ("/gemeenten", 200), ("/gemeente/GM0363", 200),
    ("/gemeente/GM0308", 200), ("/partner/{baarn_partner}", 200), ("/initiatief/{first}", 200),
    ("/over", 200), ("/toegankelijkheid", 200), ("/aanmelden", 200), ("/inloggen", 200),
    ("/gemeente/GM9999", 404), ("/partner/999999", 404), ("/initiatief/999999", 404),
]


@pytest.mark.parametrize(("path", "status"), PAGES)
def test_page_runs_without_javascript_errors_and_loads_every_map_layer(visit, ids, path, status):
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    path = path.format(baarn_partner=ids["baarn_partner"], first=ids[BAARN[0][0]])
    response = visit.goto(path, status=status)
    kinds = registered_layers(response.text())
    missing = []
    for kind in sorted(kinds):
        try:
            wait_for_layer(visit.page, kind, timeout=10_000)
        except PlaywrightTimeout:
            missing.append(kind)
    status_line = visit.page.locator("#map-status").all_inner_texts()
    assert missing == [], f"layers not loaded: {missing}; the page says {status_line}"
    visit.page.wait_for_load_state("networkidle")
    visit.assert_clean()


# --- /gemeenten from vector tiles (issue #7): no national GeoJSON ------------------------------------------

def tile_features(page) -> list[dict]:
    """Each gemeente Leaflet.VectorGrid drew on the national map, once however many tiles cut it: its tile
    properties with the page's figures for its code (what map.js colours by), its SVG fill ("mixed: …" when
    its pieces differ) and whether every piece is in the overlay pane (what a person sees)."""
    return page.evaluate("""() => {
        const data = JSON.parse(document.getElementById('gemeente-figures').textContent);
        const byCode = {};
        for (const value of Object.values(window)) {
            if (!(value instanceof L.Map)) { continue; }
            value.eachLayer(layer => {
                if (!(layer instanceof L.VectorGrid) || !layer.options.interactive) { return; }
                for (const tile of Object.values(layer._vectorTiles || {})) {
                    for (const [code, entry] of Object.entries(tile._features || {})) {
                        const path = entry.feature._path;
                        const found = byCode[code] || (byCode[code] = {fills: new Set(), shown: true,
                            properties: Object.assign({gemeentecode: code}, entry.feature.properties)});
                        found.fills.add(path.getAttribute('fill'));
                        found.shown = found.shown && path.isConnected && !!path.closest('.leaflet-overlay-pane');
                    }
                }
            });
        }
        return Object.values(byCode).map(f => {
            const values = data.values[f.properties.gemeentecode] || [];
            data.keys.forEach((key, i) => { if (i < values.length) { f.properties[key] = values[i]; } });
            const fills = [...f.fills];
            return {properties: f.properties, shown: f.shown,
                    fill: fills.length === 1 ? fills[0] : 'mixed: ' + fills.join(' ')};
        });
    }""")


def test_national_map_draws_gemeenten_from_vector_tiles_in_their_class_colour(visit, live):
    page = visit.page
    tiles, geojson = [], []
    page.on("response", lambda r: tiles.append((r.url, r.status)) if "/tiles/" in r.url else None)
    page.on("request", lambda r: geojson.append(r.url) if "geojson" in r.url else None)
    visit.goto("/gemeenten")
    n = visit.wait_for_layer("gemeenten")
    page.wait_for_load_state("networkidle")

    assert tiles and all(re.search(r"/tiles/gemeenten/\d+/\d+/\d+\.mvt$", url) for url, _ in tiles), tiles
    assert {status for _, status in tiles} <= {200, 204} and 200 in {status for _, status in tiles}
    assert geojson == [], "the national map loaded GeoJSON"
    shapes = page.locator(".leaflet-overlay-pane svg path")
    assert shapes.count() >= n > 300  # an area cut by a tile edge is drawn once per tile

    # a gemeente whose value the API knows, drawn in the colour of its class (as the browser computes it)
    spec = CHOROPLETHS["white_spot_share"]
    summary = {r["gemeentecode"]: r for r in api_json(live, "/api/v1/gaps/summary")["gemeenten"]}
    drawn = {f["properties"]["gemeentecode"]: f for f in tile_features(page)}
    assert set(drawn) == set(summary)
    for code, row in summary.items():
        assert drawn[code]["fill"] == choropleth_colour(row["white_spot_share"], spec), row["naam"]
    amsterdam = summary["GM0363"]
    fill = page.evaluate("""code => {
        for (const value of Object.values(window)) {
            if (!(value instanceof L.Map)) { continue; }
            let colour = null;
            value.eachLayer(layer => {
                if (layer instanceof L.VectorGrid && layer.options.interactive) {
                    for (const tile of Object.values(layer._vectorTiles)) {
                        const entry = tile._features[code];
                        if (entry) { colour = getComputedStyle(entry.feature._path).fill; }
                    }
                }
            });
            if (colour) { return colour; }
        }
        return null;
    }""", "GM0363")
    assert fill == _rgb(choropleth_colour(amsterdam["white_spot_share"], spec))
    visit.assert_clean()


def test_national_map_gemeente_shows_its_name_and_leads_to_its_dashboard(visit, live):
    """Hovering a gemeente names it; clicking opens a popup (text, never HTML) with the link to its dashboard."""
    page = visit.page
    visit.goto("/gemeenten")
    visit.wait_for_layer("gemeenten")
    page.wait_for_function(MAP_AT_REST)
    naam = api_json(live, "/api/v1/gaps/summary", gemeente="GM0363")["gemeenten"][0]["naam"]
    # the middle of Amsterdam's largest piece on screen, found in the drawn shapes
    box = page.evaluate("""code => {
        let best = null;
        for (const value of Object.values(window)) {
            if (!(value instanceof L.Map)) { continue; }
            value.eachLayer(layer => {
                if (!(layer instanceof L.VectorGrid) || !layer.options.interactive) { return; }
                for (const tile of Object.values(layer._vectorTiles)) {
                    const entry = tile._features[code];
                    if (!entry) { continue; }
                    const r = entry.feature._path.getBoundingClientRect();
                    if (!best || r.width * r.height > best.width * best.height) { best = r; }
                }
            });
        }
        return best && {x: best.x + best.width / 2, y: best.y + best.height / 2};
    }""", "GM0363")
    assert box, "Amsterdam is not drawn"
    page.mouse.move(box["x"], box["y"])
    tooltip = page.locator(".leaflet-tooltip")
    tooltip.wait_for()
    assert tooltip.inner_text().strip() == naam
    page.mouse.click(box["x"], box["y"])
    popup = page.locator(".leaflet-popup-content")
    popup.wait_for()
    link = popup.locator("h3 a")
    assert link.inner_text() == naam and link.get_attribute("href") == "/gemeente/GM0363"
    with page.expect_navigation():
        link.click()
    assert page.url == f"{live.url}/gemeente/GM0363"
    visit.wait_for_layer("units")
    visit.assert_clean()


def test_dashboard_draws_the_neighbouring_gemeenten_from_tiles(visit):
    """Around the gemeente: the outlines of its neighbours from /tiles/gemeenten, only at the dashboard's zoom."""
    page = visit.page
    zooms = []
    page.on("response", lambda r: zooms.append((int(r.url.split("/tiles/gemeenten/")[1].split("/")[0]), r.status))
            if "/tiles/gemeenten/" in r.url else None)
    visit.goto("/gemeente/GM0308")
    visit.wait_for_layer("units")
    visit.wait_for_layer("context")
    page.wait_for_load_state("networkidle")
    map_zoom = page.evaluate("""() => {
        for (const value of Object.values(window)) { if (value instanceof L.Map) { return value.getZoom(); } }
    }""")
    assert zooms and {z for z, _ in zooms} == {map_zoom} and {s for _, s in zooms} <= {200, 204}
    outlines = page.locator(".leaflet-tile-pane svg path")
    assert outlines.count() >= 2  # Baarn and at least one neighbour
    visit.assert_clean()
