"""Test fixtures on a real PostGIS: the embedded cluster, or GEOSERVICE_TEST_DATABASE_URL's server.

A template database is migrated and loaded with the shipped CBS data once per run;
read-only tests share one copy of it, tests that write get a fresh copy each.
"""

from __future__ import annotations

import itertools
import os
from pathlib import Path

import pytest

from geoservice import create_app, db
from geoservice.cbs.loader import load_cbs, shipped_files
from geoservice.config import Settings
from geoservice.localdb import ScratchDatabases

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "data" / "cbs_wijken"
# Per process, so that test runs side by side on one server do not drop each other's databases.
TEMPLATE = f"geoservice_test_tpl_{os.getpid()}"
SHARED = f"geoservice_test_shared_{os.getpid()}"
_counter = itertools.count()


@pytest.fixture(scope="session")
def pg_server() -> ScratchDatabases:
    return ScratchDatabases("GEOSERVICE_TEST_DATABASE_URL")


@pytest.fixture(scope="session")
def template_db(pg_server) -> str:
    """Name of the template: schema at head plus the shipped CBS data."""
    url = pg_server.create(TEMPLATE)
    db.upgrade(url)
    engine = db.make_engine(url)
    load_cbs(engine, shipped_files(DATA))
    engine.dispose()
    yield TEMPLATE
    pg_server.drop(TEMPLATE)


@pytest.fixture(scope="session")
def shared_db_url(pg_server, template_db) -> str:
    """A database for tests that only read."""
    url = pg_server.create(SHARED, template=template_db)
    yield url
    pg_server.drop(SHARED)


@pytest.fixture
def fresh_db_url(pg_server, template_db) -> str:
    """A private copy of the loaded template, for tests that write."""
    name = f"geoservice_test_{os.getpid()}_{next(_counter)}"
    yield pg_server.create(name, template=template_db)
    pg_server.drop(name)


@pytest.fixture
def empty_db_url(pg_server) -> str:
    """A migrated database without any data."""
    name = f"geoservice_test_empty_{os.getpid()}_{next(_counter)}"
    url = pg_server.create(name)
    db.upgrade(url)
    yield url
    pg_server.drop(name)


@pytest.fixture
def engine_for():
    engines = []

    def make(url: str):
        engine = db.make_engine(url)
        engines.append(engine)
        return engine

    yield make
    for engine in engines:
        engine.dispose()


def settings_for(url: str, **overrides) -> Settings:
    # no base-map tiles: no test depends on a tile server answering
    return Settings(database_url=url, secret_key="test", **{"tiles": "none", **overrides})


def app_on(url: str, **overrides):
    """The app on a database URL with the test settings, in testing mode (what every app fixture builds)."""
    app = create_app(settings_for(url, **overrides))
    app.config.update(TESTING=True)
    return app


@pytest.fixture(scope="session")
def app(shared_db_url):
    return app_on(shared_db_url)


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def app_for():
    """An app on a given database URL (e.g. a fresh_db_url with test initiatives)."""

    return app_on


@pytest.fixture
def runner_env():
    """Environment for CLI runs against a given database URL."""

    def env(url: str, **extra) -> dict:
        return {"DATABASE_URL": url, **{f"GEOSERVICE_{k.upper()}": str(v) for k, v in extra.items()}}

    return env


@pytest.fixture(scope="session")
def browser():
    """One headless Chromium for the whole session (Playwright's sync API allows one running instance).

    Skips without Chromium or Playwright, except with CI=true, where the browser tests must run.
    """
    from .browser_support import launch_chromium, missing_browser

    reason = missing_browser()
    if reason:
        if os.environ.get("CI", "").lower() not in ("", "0", "false", "no"):
            pytest.fail(f"CI must run the browser tests, but {reason}", pytrace=False)
        pytest.skip(f"browser tests need Chromium and Playwright: {reason}")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = launch_chromium(playwright)
        yield chromium
        chromium.close()
