"""A bounded schemathesis run against /api/v1/openapi.json, in process through the WSGI app.

Every operation the document lists gets schema-driven requests (valid and invalid ones); each answer must
be no 5xx and must match the document: a documented status code, a documented content type, and a body
that validates against the documented schema. Read operations run on a small registry; the write
operations (submissions, moderation, partner editing) run with an admin's API token on a database of
their own. The run is deterministic (fixed seed, derandomized Hypothesis, no example database) so CI
sees the same requests every time.
"""

from __future__ import annotations

import json
import os

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.config import SchemathesisConfig
from schemathesis.specs.openapi.checks import (content_type_conformance, response_schema_conformance,
                                                status_code_conformance)
from sqlalchemy import text
from sqlalchemy.orm import Session

from geoservice import accounts, create_app
from geoservice.db import make_engine

from .conftest import app_on, settings_for
from .helpers import BUURT_GEOM, add_partner, add_service_area, make_initiative
from .test_security_inputs import locatieserver  # noqa: F401  (fixture: a Locatieserver that finds nothing)
from .test_security_inputs import with_write_operations, write_modules

MAX_EXAMPLES = 6  # per operation and phase; the whole run stays well under a minute on 2 cores
CONFIG = """
seed = 20260601
[generation]
mode = "all"
deterministic = true
database = "none"
[phases.stateful]
enabled = false
"""
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]
DB_NAME = f"geoservice_test_schemathesis_{os.getpid()}"
WRITE_DB_NAME = f"geoservice_test_schemathesis_write_{os.getpid()}"
HYPOTHESIS = settings(max_examples=MAX_EXAMPLES, derandomize=True, deadline=None, database=None,
                      suppress_health_check=list(HealthCheck))


def served_document() -> dict:
    """The document as the app serves it; building it needs no database (the app factory connects lazily)."""
    from geoservice.api.openapi import document

    app = create_app(settings_for("postgresql+psycopg://nobody@/unused?host=/nonexistent"))
    # built directly: serving it would look up the data version for its ETag, which needs a database
    with app.test_request_context("/api/v1/openapi.json"):
        return json.loads(json.dumps(document()))


def full_document() -> dict:
    """The served document with the write operations of their own modules merged in."""
    return with_write_operations(served_document())


def write_operation_ids() -> list[str]:
    return [operation["operationId"] for module in write_modules() for item in module.paths().values()
            for operation in item.values()]


def add_registry(conn) -> None:
    """Published and other initiatives, a partner with a service area (over the buurt of the first one)."""
    for n, (lon, lat, kind, themes) in enumerate([
            (5.2878, 52.2165, "bewonersinitiatief", ["ontmoeting"]),
            (5.2790, 52.2110, "wijkcooperatie", ["groen_natuur", "energie_klimaat"]),
            (4.9000, 52.3700, "zorgcooperatie", ["zorg_welzijn"])]):
        make_initiative(conn, lon=lon, lat=lat, name=f"Initiatief {n}", kind=kind, themes=themes,
                        description="Samen doen.", website="https://example.org", email="info@example.org",
                        phone="035 123 45 67", address="Laanstraat 1", postcode="3743 BA")
    make_initiative(conn, name="Nog niet gepubliceerd", status="pending")
    partner = add_partner(conn, "Steunpunt Baarn", website="https://steunpunt.example")
    home = conn.execute(text(
        "SELECT code FROM buurt WHERE jaar = 2024 AND ST_Contains(geom, ST_Transform("
        "ST_SetSRID(ST_MakePoint(5.2878, 52.2165), 4326), 28992))")).scalar_one()
    add_service_area(conn, partner, "Staatsliedenwijk", BUURT_GEOM, code=home)


def pdok_app(url: str, geocoder_url: str):
    return app_on(url, geocoder="pdok", locatieserver_url=geocoder_url, geocoder_timeout_s=2)


@pytest.fixture(scope="module")
def live_app(pg_server, template_db, locatieserver):  # noqa: F811
    url = pg_server.create(DB_NAME, template=template_db)
    engine = make_engine(url)
    with engine.begin() as conn:
        add_registry(conn)
    engine.dispose()
    yield pdok_app(url, locatieserver)
    pg_server.drop(DB_NAME)


@pytest.fixture(scope="module")
def write_app(pg_server, template_db, locatieserver):  # noqa: F811
    """(app, admin token) on a registry of its own: the writes change it as the run goes."""
    url = pg_server.create(WRITE_DB_NAME, template=template_db)
    engine = make_engine(url)
    with engine.begin() as conn:
        add_registry(conn)
    with Session(engine) as session, session.begin():
        admin = accounts.create_user(session, "beheer@example.nl", role="admin", password="een lang wachtwoord 42")
        token = accounts.create_token(session, admin, "schemathesis")[1]
    engine.dispose()
    yield pdok_app(url, locatieserver), token
    pg_server.drop(WRITE_DB_NAME)


# Loaded at collection, so that each operation is a test of its own (the lazy from_fixture loader does
# not run on pytest 9: it sets Function._nodeid, which pytest no longer has).
DOCUMENT = full_document()
WRITE_IDS = write_operation_ids()
read_schema = schemathesis.openapi.from_dict(DOCUMENT, config=SchemathesisConfig.from_str(CONFIG)).include(
    method="GET").exclude(operation_id=WRITE_IDS)  # the GETs that need a token run with the writes
write_schema = schemathesis.openapi.from_dict(DOCUMENT, config=SchemathesisConfig.from_str(CONFIG)).include(
    operation_id=WRITE_IDS)


# Schemathesis asks for gzip but its WSGI transport does not decode it (an HTTP client would): ask for plain
# bodies; gzip itself has tests of its own (tests/test_compression.py).
PLAIN = {"Accept-Encoding": "identity"}


@read_schema.parametrize()
# One pytest parameter: on pytest 9 it is what keeps the operation in each test's id (test[GET /path][read]).
@pytest.mark.parametrize("side", ["read"])
@HYPOTHESIS
def test_read_operations_conform_to_the_document(case, side, live_app):
    case.call_and_validate(app=live_app, headers=PLAIN, checks=CHECKS)


@write_schema.parametrize()
@pytest.mark.parametrize("side", ["write"])
@HYPOTHESIS
def test_write_operations_conform_to_the_document(case, side, write_app):
    app, token = write_app
    app.extensions["geoservice.ratelimiter"].reset()  # the limits have tests of their own; here they hide the rest
    case.call_and_validate(app=app, headers={"Authorization": f"Bearer {token}", **PLAIN}, checks=CHECKS)
