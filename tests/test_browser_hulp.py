"""/hulp in headless Chromium: the form works, the results fit a 390 px phone, and axe-core finds nothing.

Same pattern as test_browser.py (one live server on 127.0.0.1, nothing loaded from other hosts). The axe-core
checks need `npm install axe-core` in the project (node_modules/ is not committed); without it they skip.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from geoservice import create_app

from .browser_support import LiveServer, watch_page
from .conftest import settings_for
from .helpers import seeded_database
from .test_support import FUND, _seed

AXE = Path(__file__).resolve().parents[1] / "node_modules" / "axe-core" / "axe.min.js"
PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 900}


@pytest.fixture(scope="module")
def live(browser, pg_server, template_db):
    with seeded_database(pg_server, template_db, "browser_hulp", _seed) as (url, _ids):
        with LiveServer(create_app(settings_for(url, geocoder="offline"))) as server:
            yield server


@pytest.fixture(params=[DESKTOP, PHONE], ids=["1280px", "390px"])
def page(request, browser, live):
    context = browser.new_context(viewport=request.param, locale="nl-NL")
    page = context.new_page()
    page.set_default_timeout(15_000)
    watch = watch_page(page, live.url)
    yield page
    # Chromium logs the page's own 404 (a postcode that does not exist); that one is expected
    watch.console_errors[:] = [e for e in watch.console_errors if "status of 404" not in e or "/hulp?q=9999" not in e]
    problems = watch.problems()
    context.close()
    assert problems == {}, "the page did something a visitor would call broken"


def axe_violations(page) -> list[dict]:
    if not AXE.exists():
        pytest.skip("axe-core is not installed here (npm install axe-core)")
    # evaluated through the DevTools protocol: the page's Content-Security-Policy (rightly) refuses inline scripts
    page.evaluate(AXE.read_text(encoding="utf-8") + "\n;true")
    result = page.evaluate("async () => (await axe.run(document)).violations.map("
                           "v => ({id: v.id, impact: v.impact, nodes: v.nodes.map(n => n.target.join(' '))}))")
    return result


def fits_the_width(page) -> bool:
    """Nothing of the page's own content (main) reaches past the right edge of the window.

    The site header is shared by every page (and reworked for phones elsewhere): it is not this page's to check.
    """
    return page.evaluate("""() => {
        const width = document.documentElement.clientWidth;
        const main = document.querySelector('main');
        return main.scrollWidth <= main.clientWidth
            && [main, ...main.querySelectorAll('*')].every(el => el.getBoundingClientRect().right <= width + 0.5);
    }""")


def test_the_form_finds_the_fund_with_its_contact(page, live):
    page.goto(f"{live.url}/hulp", wait_until="load")
    page.get_by_label("Waar? Je adres of postcode").fill("3741")
    page.get_by_label("Geld (financiering)").check()
    page.get_by_label("Waar gaat je plan over?").select_option(label="Energie en klimaat")
    page.get_by_role("button", name="Zoek hulp").click()
    page.wait_for_url("**/hulp?*")
    first = page.locator(".hulp-partner").first
    assert FUND in first.locator(".hulp-name").inner_text()
    assert "werkt in heel Baarn" in first.inner_text()
    assert first.get_by_role("link", name="info@energiefonds.example").get_attribute("href") == (
        "mailto:info@energiefonds.example")
    assert page.locator(".hulp-initiatives li").count() == 5
    assert fits_the_width(page)


@pytest.mark.parametrize("path", ["/hulp", "/hulp?q=3741&service=financiering",
                                  "/hulp?q=3741&service=juridisch&theme=cultuur&reach_m=5000", "/hulp?q=9999"])
def test_hulp_fits_the_screen_and_has_no_axe_violations(page, live, path):
    response = page.goto(f"{live.url}{path}", wait_until="load")
    assert response.status in (200, 404)
    assert fits_the_width(page)
    assert axe_violations(page) == []
