"""Test fixtures on a real PostGIS: the embedded cluster, or GEOSERVICE_TEST_DATABASE_URL's server.

A template database is migrated and loaded with the shipped CBS data once per run;
read-only tests share one copy of it, tests that write get a fresh copy each.
"""

from __future__ import annotations

import itertools
import os
from pathlib import Path

import psycopg
import pytest
from sqlalchemy.engine import make_url

from geoservice import create_app, db
from geoservice.cbs.loader import load_cbs, shipped_files
from geoservice.config import Settings
from geoservice.localdb import LocalCluster

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "data" / "cbs_wijken"
# Per process, so that test runs side by side on one server do not drop each other's databases.
TEMPLATE = f"geoservice_test_tpl_{os.getpid()}"
SHARED = f"geoservice_test_shared_{os.getpid()}"
_counter = itertools.count()


class TestServer:
    """Creates and drops databases on the test server."""

    def __init__(self):
        url = os.environ.get("GEOSERVICE_TEST_DATABASE_URL")
        if url:
            self.base = make_url(url).set(drivername="postgresql+psycopg")
        else:
            cluster = LocalCluster(Settings())
            cluster.start()
            self.base = make_url(cluster.url("postgres"))

    def url(self, dbname: str) -> str:
        return self.base.set(database=dbname).render_as_string(hide_password=False)

    def _admin(self):
        url = self.base.set(drivername="postgresql", database="postgres")
        return psycopg.connect(url.render_as_string(hide_password=False), autocommit=True)

    def create(self, dbname: str, template: str | None = None) -> str:
        with self._admin() as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{dbname}" WITH (FORCE)')
            conn.execute(f'CREATE DATABASE "{dbname}"' + (f' TEMPLATE "{template}"' if template else ""))
        return self.url(dbname)

    def drop(self, dbname: str) -> None:
        with self._admin() as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{dbname}" WITH (FORCE)')


@pytest.fixture(scope="session")
def pg_server() -> TestServer:
    return TestServer()


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
    return Settings(database_url=url, secret_key="test", **overrides)


@pytest.fixture(scope="session")
def app(shared_db_url):
    app = create_app(settings_for(shared_db_url))
    app.config.update(TESTING=True)
    return app


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def app_for():
    """An app on a given database URL (e.g. a fresh_db_url with test initiatives)."""

    def make(url: str, **overrides):
        app = create_app(settings_for(url, **overrides))
        app.config.update(TESTING=True)
        return app

    return make


@pytest.fixture
def runner_env():
    """Environment for CLI runs against a given database URL."""

    def env(url: str, **extra) -> dict:
        return {"DATABASE_URL": url, **{f"GEOSERVICE_{k.upper()}": str(v) for k, v in extra.items()}}

    return env
