"""In a real browser: another website can frame /embed/kaart, but not the other pages (CSP frame-ancestors)."""

from __future__ import annotations

import pytest

from geoservice import create_app

from .browser_support import LiveServer
from .conftest import settings_for
from .helpers import QuietHandler, make_initiative, seeded_database, serving


@pytest.fixture(scope="module")
def live(browser, pg_server, template_db):
    def seed(session):
        return make_initiative(session, name="Buurtmoestuin (testdata)")

    with seeded_database(pg_server, template_db, "embed_browser", seed) as (url, _id):
        with LiveServer(create_app(settings_for(url, geocoder="offline"))) as server:
            yield server


def test_another_site_frames_the_embed_and_not_the_search_page(browser, live):
    framed = {"embed": f"{live.url}/embed/kaart?gemeente=GM0308", "search": f"{live.url}/",
              "login": f"{live.url}/inloggen"}
    host_page = ("<!doctype html><title>Gemeente (voorbeeld)</title>"
                 + "".join(f'<iframe name="{name}" src="{src}" width="600" height="400"></iframe>'
                           for name, src in framed.items())).encode()

    class Host(QuietHandler):  # another origin: another port
        def do_GET(self):
            self.answer(host_page, "text/html; charset=utf-8")

    with serving(Host) as port:
        page = browser.new_page()
        try:
            page.goto(f"http://127.0.0.1:{port}/", wait_until="load")
            frames = {frame.name: frame for frame in page.frames if frame.name}
            embed = frames["embed"]
            embed.wait_for_selector("ul.embed-list a", timeout=15_000)
            assert "Buurtmoestuin (testdata)" in embed.inner_text("ul.embed-list")
            for name in ("search", "login"):
                # Chromium refuses the frame: it shows its own error page instead of ours
                assert frames[name].query_selector("main#inhoud") is None, name
                assert frames[name].url.startswith("chrome-error:"), frames[name].url
        finally:
            page.close()
