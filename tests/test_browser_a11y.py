"""Every page for everyone: axe-core's WCAG 2.1 A/AA rules, reflow down to 320 px, and a keyboard journey.

axe-core is the npm package (`npm install --no-save axe-core@4` in the checkout; scripts/setup-venv test does it
when npm is there), injected into each page by Playwright. Like the other browser tests these skip when
Chromium, Playwright or axe-core is missing, except in CI (CI=true), where they fail.
"""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path

import pytest

from sqlalchemy.orm import Session

from geoservice import accounts, create_app
from geoservice.db import make_engine

from .browser_support import LiveServer, registered_layers, wait_for_layer, watch_page
from .conftest import settings_for
from .helpers import add_partner, add_service_area, make_initiative

ROOT = Path(__file__).resolve().parents[1]
AXE = Path(os.environ.get("GEOSERVICE_AXE", ROOT / "node_modules" / "axe-core" / "axe.min.js"))
AXE_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]
WIDTHS = {"desktop": 1280, "phone": 390}
REFLOW_WIDTHS = (320, 390, 640)  # 640 CSS px: 200 % zoom on a 1280 px screen
PC4_BAARN = "3741"  # data/postcodes/pc4_nl.tsv: Baarn, centroid 52.2175, 5.2856
N_NEAR = 32  # more than one page of search results (25)
PASSWORD = "een lang wachtwoord voor tests"

# The pages every check visits; {placeholders} are ids from the data fixture. One list, so a new page is
# checked by adding it here.
PAGES = [
    "/", f"/?q={PC4_BAARN}", "/gemeenten", "/gemeente/GM0363", "/gemeente/GM0308", "/initiatief/{stale}",
    "/partner/{partner}", "/aanmelden", "/privacy", "/over", "/toegankelijkheid", "/inloggen",
    "/initiatief/{stale}/melden", "/hulp", f"/hulp?q={PC4_BAARN}&service=advies",
]
# Pages behind a login (the account's e-mail, the path) and an error page: the same checks.
LOGGED_IN_PAGES = [("mod@example.nl", "/beheer"), ("mod@example.nl", "/beheer/initiatief/{pending}"),
                   ("redactie@example.nl", "/beheer/partner/{partner}")]
ERROR_PAGES = ["/initiatief/999999", "/gemeente/GM9999"]


def ci() -> bool:
    return os.environ.get("CI", "").lower() not in ("", "0", "false", "no")


@pytest.fixture(scope="session")
def axe_source(browser) -> str:
    if not AXE.is_file():
        reason = f"{AXE} is missing (scripts/setup-venv test runs npm install --no-save axe-core@4)"
        if ci():
            pytest.fail(f"CI must run the accessibility checks, but {reason}", pytrace=False)
        pytest.skip(reason)
    return AXE.read_text(encoding="utf-8")


@pytest.fixture(scope="session")
def a11y_data(pg_server, template_db):
    """Baarn with more initiatives near 3741 than one result page holds, one of them checked long ago,
    a few in Amsterdam, and a partner with a service area."""
    name = f"geoservice_test_a11y_{os.getpid()}"
    url = pg_server.create(name, template=template_db)
    engine = make_engine(url)
    ids = {}
    with engine.begin() as conn:
        for i in range(N_NEAR):  # a ring around the 3741 centroid (5.2856, 52.2175), 100 m to 1.7 km out
            step = (i + 1) / N_NEAR
            lon = 5.2856 + (0.024 * step) * (1 if i % 2 else -1) * (0.5 if i % 3 else 1)
            lat = 52.2175 + (0.014 * step) * (1 if i % 4 < 2 else -1)
            make_initiative(conn, lon=lon, lat=lat, name=f"Buurtinitiatief {i + 1:02d} (test)",
                            themes=["ontmoeting"], last_verified=dt.date.today() - dt.timedelta(days=30))
        ids["stale"] = make_initiative(conn, lon=5.2870, lat=52.2180, name="Buurtkamer De Kern (test)",
                                       website="https://example.org/", email="kern@example.org",
                                       last_verified=dt.date.today() - dt.timedelta(days=1000))
        for title, lon, lat in [("Buurtmoestuin Jordaan (test)", 4.8830, 52.3760),
                                ("Wijkcoöperatie Oost (test)", 4.9300, 52.3600)]:
            make_initiative(conn, lon=lon, lat=lat, name=title)
        ids["pending"] = make_initiative(conn, lon=5.2900, lat=52.2140, name="Nieuw buurthuis (test)", status="pending")
        ids["partner"] = add_partner(conn, "Stichting Samen Baarn (test)", kind="lokale_ondersteuner")
        add_service_area(conn, ids["partner"], "Baarn-centrum",
                         "ST_Buffer(ST_Transform(ST_SetSRID(ST_MakePoint(5.2856, 52.2175), 4326), 28992), 1500)",
                         definition_type="radius", definition={"point": {"lon": 5.2856, "lat": 52.2175},
                                                               "radius_m": 1500})
    with Session(engine) as session, session.begin():
        accounts.create_user(session, "mod@example.nl", role="moderator", password=PASSWORD)
        accounts.create_user(session, "redactie@example.nl", role="partner_editor", password=PASSWORD,
                             partner_id=ids["partner"])
    engine.dispose()
    yield url, ids
    pg_server.drop(name)


@pytest.fixture(scope="session")
def a11y_live(browser, a11y_data):
    app = create_app(settings_for(a11y_data[0], geocoder="offline"))
    with LiveServer(app) as server:
        yield server


def page_path(template: str, ids: dict) -> str:
    return template.format(**ids)


def open_page(browser, live, path: str, width: int, *, bypass_csp: bool = False, user: str | None = None,
              status: int = 200):
    """A fresh context at `width` × 900 with the page loaded (logged in as `user` first), every map layer
    drawn and the network idle."""
    context = browser.new_context(viewport={"width": width, "height": 900}, locale="nl-NL", bypass_csp=bypass_csp)
    page = context.new_page()
    page.set_default_timeout(20_000)
    watch = watch_page(page, live.url)
    if user:
        page.goto(live.url + "/inloggen")
        page.get_by_label("E-mailadres").fill(user)
        page.get_by_label("Wachtwoord").fill(PASSWORD)
        with page.expect_navigation():
            page.get_by_role("button", name="Inloggen").click()
    response = page.goto(live.url + path, wait_until="load")
    assert response.status == status, f"{path} answered {response.status}"
    if status >= 400:  # Chromium logs the page's own error status; that one is expected
        watch.console_errors[:] = [e for e in watch.console_errors if f"status of {status}" not in e]
    for kind in sorted(registered_layers(response.text())):
        wait_for_layer(page, kind)
    page.wait_for_load_state("networkidle")
    return context, page, watch


def axe_violations(page, source: str, inject: bool = True) -> list[dict]:
    if inject:
        page.add_script_tag(content=source)  # the context bypasses the page's CSP for this one script
    return page.evaluate("""async tags => {
        const result = await axe.run(document, {runOnly: {type: 'tag', values: tags}, resultTypes: ['violations']});
        return result.violations.map(v => ({id: v.id, impact: v.impact, help: v.help,
            nodes: v.nodes.slice(0, 4).map(n => n.target.join(' ') + ': ' + n.failureSummary.split('\\n')[1])}));
    }""", AXE_TAGS)


VISITS = ([(None, p, 200) for p in PAGES] + [(user, p, 200) for user, p in LOGGED_IN_PAGES]
          + [(None, p, 404) for p in ERROR_PAGES])
VISIT_IDS = [f"{p}{' as ' + user if user else ''}" for user, p, _ in VISITS]


OVERFLOW = """() => {
    const width = window.innerWidth, wide = [];
    for (const el of document.querySelectorAll('body *')) {
        const box = el.getBoundingClientRect();
        const inside = '.table-scroll, .leaflet-container, .visually-hidden, .skip-link, .hp-field';
        if (box.width && box.right > width + 1 && !el.closest(inside)) {
            wide.push((el.tagName + '.' + (el.className.baseVal ?? el.className) + '#' + el.id).slice(0, 80)
                      + ' right=' + Math.round(box.right));
        }
    }
    return {scroll: document.documentElement.scrollWidth, inner: width, wide: wide.slice(0, 6)};
}"""


def resize(page, width: int) -> None:
    page.set_viewport_size({"width": width, "height": 900})
    page.wait_for_timeout(150)  # layout, and Leaflet's own resize handling


@pytest.mark.parametrize(("user", "template", "status"), VISITS, ids=VISIT_IDS)
def test_page_passes_axe_and_reflows(browser, a11y_live, a11y_data, axe_source, user, template, status):
    """One load per page (they are many): axe-core's WCAG 2.1 A/AA rules find nothing at 390 px (a phone) and at
    1280 px, and (WCAG 1.4.10) the page never scrolls sideways at 320 px, 390 px or 640 px (200 % zoom on a
    1280 px screen); the menu wraps rather than running off the edge."""
    path = page_path(template, a11y_data[1])
    context, page, watch = open_page(browser, a11y_live, path, WIDTHS["phone"], bypass_csp=True, user=user,
                                     status=status)
    try:
        assert axe_violations(page, axe_source) == [], f"axe-core on {path} at {WIDTHS['phone']} px"
        for width in REFLOW_WIDTHS:
            resize(page, width)
            found = page.evaluate(OVERFLOW)
            assert found["scroll"] <= found["inner"], f"{path} at {width} px is {found['scroll']} px wide: {found}"
            if width == 320:
                right = page.eval_on_selector_all(".site-header nav a, .site-header nav button",
                                                  "els => els.map(e => e.getBoundingClientRect().right)")
                assert right and max(right) <= 320, "the menu runs off the screen"
        resize(page, WIDTHS["desktop"])
        assert axe_violations(page, axe_source, inject=False) == [], f"axe-core on {path} at {WIDTHS['desktop']} px"
        assert watch.problems() == {}
    finally:
        context.close()


@pytest.mark.parametrize("width", WIDTHS.values(), ids=WIDTHS.keys())
def test_keyboard_user_searches_a_postcode_and_opens_the_first_result_within_15_tabs(browser, a11y_live, width):
    context = browser.new_context(viewport={"width": width, "height": 900}, locale="nl-NL")
    page = context.new_page()
    page.set_default_timeout(20_000)
    watch = watch_page(page, a11y_live.url)
    try:
        page.goto(a11y_live.url + "/")
        tabs = 0

        def tab_until(selector: str) -> None:
            nonlocal tabs
            while not page.evaluate("s => document.activeElement.matches(s)", selector):
                page.keyboard.press("Tab")
                tabs += 1
                assert tabs <= 15, f"{selector} not reached in 15 Tab presses"

        tab_until("#q")
        page.keyboard.type(PC4_BAARN)
        with page.expect_navigation():
            page.keyboard.press("Enter")
        # the results heading has the focus: a screen reader says how many were found
        heading = page.evaluate("() => [document.activeElement.tagName, document.activeElement.textContent]")
        assert heading[0] == "H2" and "initiatieven binnen" in heading[1]
        assert int(heading[1].split()[0]) > 25  # more than one page: the journey is the same
        first = page.locator("ol.results a.name").first
        name = first.inner_text()
        tab_until("ol.results a.name")
        assert page.evaluate("() => document.activeElement.textContent") == name
        with page.expect_navigation():
            page.keyboard.press("Enter")
        assert page.locator("h1").inner_text() == name and "/initiatief/" in page.url
        assert tabs <= 15
        assert watch.problems() == {}
    finally:
        context.close()


def test_map_controls_are_dutch_and_clusters_are_named(browser, a11y_live):
    context, page, watch = open_page(browser, a11y_live, f"/?q={PC4_BAARN}", 1280)
    try:
        assert page.locator(".leaflet-control-zoom-in").get_attribute("title") == "Inzoomen"
        assert page.locator(".leaflet-control-zoom-out").get_attribute("title") == "Uitzoomen"
        layers = page.locator(".leaflet-control-layers")
        assert layers.get_attribute("aria-label") == "Kaartlagen"
        assert page.locator(".leaflet-control-layers-toggle").get_attribute("title") == "Kaartlagen"
        scale = page.locator(".leaflet-control-scale").inner_text()
        assert scale.strip() and not any(unit in scale for unit in (" ft", " mi"))  # metric only
        assert page.locator(".leaflet-control-scale-line").count() == 1
        clusters = page.locator(".leaflet-marker-pane .marker-cluster")
        assert clusters.count() >= 1
        for i in range(clusters.count()):
            count = clusters.nth(i).inner_text().strip()
            assert clusters.nth(i).get_attribute("aria-label") == f"{count} initiatieven"
        english = page.evaluate("""() => [...document.querySelectorAll(
                '.leaflet-container [title], .leaflet-container [aria-label]')]
            .map(e => (e.getAttribute('title') || '') + ' ' + (e.getAttribute('aria-label') || ''))
            .filter(t => /Zoom in|Zoom out|Layers|Close popup|JavaScript library/.test(t))""")
        assert english == []
        assert watch.problems() == {}
    finally:
        context.close()


def test_escape_closes_a_popup_and_gives_focus_back_to_its_marker(browser, a11y_live, a11y_data):
    context, page, watch = open_page(browser, a11y_live, "/initiatief/{stale}".format(**a11y_data[1]), 1280)
    try:
        marker = page.locator(".leaflet-marker-pane .leaflet-marker-icon").first
        marker.focus()
        page.keyboard.press("Enter")
        popup = page.locator(".leaflet-popup")
        popup.wait_for()
        assert page.locator(".leaflet-popup-close-button").get_attribute("aria-label") == "Sluiten"
        assert page.evaluate("() => !!document.activeElement.closest('.leaflet-popup')"), "the popup has no focus"
        page.keyboard.press("Escape")
        popup.wait_for(state="detached")
        assert page.evaluate("() => document.activeElement.classList.contains('leaflet-marker-icon')")
        # the same from the marker itself: Enter opens, Escape (focus moved back) closes again
        page.keyboard.press("Enter")
        popup.wait_for()
        page.keyboard.press("Escape")
        popup.wait_for(state="detached")
        assert watch.problems() == {}
    finally:
        context.close()


def test_a_click_on_the_whole_country_zooms_in_and_only_a_close_click_searches(browser, a11y_live):
    context, page, watch = open_page(browser, a11y_live, "/", 1280)
    try:
        zoom = "() => Object.values(window).find(v => v instanceof L.Map).getZoom()"
        start = page.evaluate(zoom)
        box = page.locator(".map-box .leaflet-container").bounding_box()
        centre = (box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
        for _ in range(5):
            if page.evaluate(zoom) >= 12:
                break
            page.mouse.click(*centre)
            page.wait_for_timeout(700)
            assert page.url == a11y_live.url + "/", "a click at national zoom searched"
        assert page.evaluate(zoom) > start
        assert "Ingezoomd" in page.locator("#map-status").inner_text()
        with page.expect_navigation():
            page.mouse.click(*centre)
        assert "lat=" in page.url and "lon=" in page.url
        assert watch.problems() == {}
    finally:
        context.close()


def test_the_map_shows_the_initiatives_of_the_result_page(browser, a11y_live):
    context, page, watch = open_page(browser, a11y_live, f"/?q={PC4_BAARN}&page=2", 1280)
    try:
        listed = page.locator("ol.results > li").count()
        assert 0 < listed < 25 and page.locator("ol.results").get_attribute("start") == "26"
        assert wait_for_layer(page, "initiatives") == listed
        assert page.locator('a[rel="prev"]').count() == 1 and page.locator('a[rel="next"]').count() == 0
        assert watch.problems() == {}
    finally:
        context.close()


def test_on_a_phone_the_results_and_a_list_map_switch_come_before_the_filters(browser, a11y_live):
    context, page, watch = open_page(browser, a11y_live, f"/?q={PC4_BAARN}&kind=bewonersinitiatief", 390)
    try:
        def top(selector):
            return page.locator(selector).first.bounding_box()["y"]

        assert top("#results-title") < top(".view-switch") < top("ol.results") < top("details.filters summary")
        assert top("#results-title") < 900, "the results heading is not on the first screen"
        summary = page.locator("details.filters summary").inner_text()
        assert summary == "Filters (1 actief)"
        assert page.locator(".search-map").is_hidden() and page.locator("ol.results").is_visible()
        page.get_by_role("button", name="Kaart").click()
        assert page.locator(".search-map").is_visible() and page.locator("ol.results").is_hidden()
        assert page.get_by_role("button", name="Kaart").get_attribute("aria-pressed") == "true"
        page.get_by_role("button", name="Lijst").click()
        assert page.locator("ol.results").is_visible()
        assert watch.problems() == {}
    finally:
        context.close()


def test_after_a_failed_send_the_focus_is_on_the_error_summary(browser, a11y_live):
    context, page, watch = open_page(browser, a11y_live, "/aanmelden", 390)
    try:
        with page.expect_navigation():
            page.get_by_role("button", name="Aanmelding versturen").click()
        assert page.evaluate("() => document.activeElement.id") == "fouten"
        assert "Niet alles is goed ingevuld" in page.locator("#fouten").inner_text()
        # its links lead to the fields
        page.keyboard.press("Tab")
        assert page.evaluate("() => document.activeElement.getAttribute('href')").startswith("#veld-")
        watch.console_errors[:] = [e for e in watch.console_errors if "status of 400" not in e]
        assert watch.problems() == {}
    finally:
        context.close()


@pytest.mark.parametrize("path", ["/gemeente/GM0363", "/gemeente/GM0308", "/gemeenten"])
def test_the_dashboard_map_starts_near_the_top_and_follows_the_key_figures_on_a_phone(browser, a11y_live, path):
    context, page, watch = open_page(browser, a11y_live, path, 1280)
    try:
        top = page.locator(".map-box").bounding_box()["y"]
        assert top <= 400, f"the map of {path} starts {top:.0f} px down at 1280×900"
        page.set_viewport_size({"width": 390, "height": 844})
        page.wait_for_timeout(100)
        boxes = page.evaluate("""() => Object.fromEntries(['.key-numbers', '.map-box', '.legend', 'table.data']
            .map(s => [s, document.querySelector(s) ? document.querySelector(s).getBoundingClientRect().top : null]))""")
        if boxes[".key-numbers"] is not None:  # a dashboard: key figures, then the map, then the rest
            assert boxes[".key-numbers"] < boxes[".map-box"] < boxes[".legend"] < boxes["table.data"]
        else:  # the national overview: the map before the long table
            assert boxes[".map-box"] < boxes["table.data"]
        assert watch.problems() == {}
    finally:
        context.close()


def test_a_dashboard_arrives_compressed_and_its_static_files_are_kept(browser, a11y_live):
    """Chromium's own Accept-Encoding: every text answer over 1 KB comes gzipped, static files are immutable,
    and a second visit fetches no static file again (bench/page_weight.py measures the bytes with demo data)."""
    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="nl-NL")
    page = context.new_page()
    seen = []
    page.on("response", lambda r: seen.append(r))
    try:
        page.goto(a11y_live.url + "/gemeente/GM0363", wait_until="load")
        wait_for_layer(page, "units")
        page.wait_for_load_state("networkidle")
        plain = [r.url for r in seen if r.status == 200 and r.request.sizes()["responseBodySize"] > 1024
                 and not r.headers.get("content-encoding")]
        assert plain == [], "sent uncompressed"
        static = [r for r in seen if "/static/" in r.url]
        assert static and all("immutable" in r.headers.get("cache-control", "") for r in static)
        seen.clear()
        page.goto(a11y_live.url + "/gemeente/GM0308", wait_until="load")
        page.wait_for_load_state("networkidle")
        fetched = [r.url for r in seen if "/static/" in r.url and not r.from_service_worker
                   and r.request.sizes()["responseBodySize"] > 0]
        assert fetched == [], "static files fetched again"
    finally:
        context.close()
