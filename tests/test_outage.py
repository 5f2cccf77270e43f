"""A database outage answers 503 (JSON for programs, a Dutch page for people) and the app recovers by itself."""

from __future__ import annotations

import shutil
import time

import pytest
from sqlalchemy import text

from geoservice import db, localdb
from geoservice.config import Settings

from .helpers import make_initiative

DESCRIPTION = "De database is even niet bereikbaar. Probeer het over een minuut opnieuw."
JSON_PATHS = ["/api/v1/initiatives", "/api/v1/initiatives/nearby?lat=52.2165&lon=5.2878",
              "/ogc/collections/initiatives/items"]
PAGE = "/?lat=52.2165&lon=5.2878"  # a search: the page queries the database


@pytest.fixture
def own_cluster(tmp_path):
    """A private cluster this test may stop; never the one other tests and developers use."""
    cluster = localdb.LocalCluster(Settings(pgdata=tmp_path / "pgdata", pg_port=54392))
    cluster.start()
    yield cluster
    cluster.stop()
    shutil.rmtree(cluster.home, ignore_errors=True)


def test_outage_answers_503_and_the_same_app_recovers(own_cluster, app_for):
    url = own_cluster.url()
    db.upgrade(url)
    engine = db.make_engine(url)
    with engine.begin() as conn:
        ident = make_initiative(conn, name="Buurtmoestuin")
    engine.dispose()
    client = app_for(url).test_client()
    # an OGC item: its statement goes to psycopg directly (queries.ogc.initiative_item_json)
    json_paths = [*JSON_PATHS, f"/ogc/collections/initiatives/items/{ident}"]

    assert client.get("/api/v1/initiatives").get_json()["numberMatched"] == 1
    assert client.get(json_paths[-1]).status_code == 200
    assert client.get(PAGE).status_code == 200  # the pool now holds connections that the stop will kill

    own_cluster.stop()
    for path in json_paths:
        started = time.perf_counter()
        response = client.get(path)
        assert time.perf_counter() - started < 5, f"{path} hung"
        assert response.status_code == 503, path
        assert response.mimetype == "application/json"
        assert response.get_json() == {"code": "ServiceUnavailable", "description": DESCRIPTION}
        assert response.headers["Retry-After"] == "60"
    page = client.get(PAGE)
    assert page.status_code == 503 and page.mimetype == "text/html"
    html = page.get_data(as_text=True)
    assert '<html lang="nl">' in html and "Even niet beschikbaar" in html and DESCRIPTION in html
    assert "Traceback" not in html and "OperationalError" not in html
    assert client.get("/healthz").status_code == 503

    own_cluster.start()  # no new app, no new engine: the pool reconnects by itself
    assert client.get("/healthz").status_code == 200
    for path in json_paths:
        assert client.get(path).status_code == 200, path
    assert client.get(PAGE).status_code == 200


@pytest.mark.parametrize("sqlstate, unavailable", [
    (None, True),        # no socket, refused, closed mid-query
    ("57P01", True),     # admin shutdown (pg_ctl stop)
    ("57P03", True),     # the database system is starting up
    ("08006", True),     # connection failure
    ("57014", False),    # statement timeout: the query, not the server
    ("53100", False),    # disk full
])
def test_which_database_errors_mean_unavailable(sqlstate, unavailable):
    import psycopg
    from sqlalchemy.exc import OperationalError

    error = type("Error", (psycopg.OperationalError,), {"sqlstate": sqlstate})("x")
    assert db.is_unavailable(error) is unavailable
    assert db.is_unavailable(OperationalError("SELECT 1", {}, error)) is unavailable


def test_a_broken_query_is_still_a_500(app_for, empty_db_url, monkeypatch):
    """Only connection failures become 503; a programming error stays a 500 without details."""
    from geoservice.queries import initiatives as q

    def broken(session, *args, **kwargs):
        session.execute(text("SELECT no_such_column FROM initiative"))

    monkeypatch.setattr(q, "list_initiatives", broken)
    response = app_for(empty_db_url).test_client().get("/api/v1/initiatives")
    assert response.status_code == 500
    assert response.get_json()["code"] == "ServerError"
    assert "Retry-After" not in response.headers


def test_a_connection_lost_after_the_answer_keeps_the_answer(app_for, empty_db_url):
    """The database goes away between the query and the teardown's ROLLBACK: no 500, and the pool heals."""
    import psycopg

    from geoservice.backup import libpq_target
    from geoservice.db import get_session

    app = app_for(empty_db_url)
    with app.test_request_context("/api/v1/initiatives"):
        pid = get_session().execute(text("SELECT pg_backend_pid()")).scalar()
        with psycopg.connect(libpq_target(empty_db_url)[0], autocommit=True) as admin:
            assert admin.execute("SELECT pg_terminate_backend(%s, 5000)", (pid,)).fetchone() == (True,)
    # leaving the context ran the teardown without raising
    assert app.test_client().get("/api/v1/initiatives").status_code == 200
