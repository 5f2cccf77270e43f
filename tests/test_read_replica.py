"""DATABASE_READ_URL on a real streaming replica: reads from the standby, writes to the primary, fallbacks.

Two private clusters: a primary and a hot standby made with pg_basebackup -R that streams from it.
"""

from __future__ import annotations

import logging
import shutil
import time
from pathlib import Path

import psycopg
import pytest
from sqlalchemy import event, text
from sqlalchemy.orm import Session

from geoservice import accounts, db, localdb
from geoservice.config import Settings
from geoservice.errors import SystemDependencyMissing

from .conftest import app_on
from .helpers import make_initiative, scalar


def _basebackup_missing() -> str | None:
    try:
        binaries = localdb.find_binaries()
    except SystemDependencyMissing as exc:
        return str(exc).splitlines()[0]
    if not Path(binaries.tool("pg_basebackup")).exists():
        return f"pg_basebackup niet gevonden in {binaries.bindir}: geen replica te maken"
    return None


pytestmark = pytest.mark.skipif(_basebackup_missing() is not None, reason=str(_basebackup_missing()))

PASSWORD = "een-lang-wachtwoord-voor-de-replica-test"
BAARN = {"lat": 52.2165, "lon": 5.2878}
CONTACT = {"name": "Aanmelder", "email": "aanmelder@example.nl", "phone": "0612345678"}


def wait_for_replay(primary: localdb.LocalCluster, replica: localdb.LocalCluster, timeout_s: float = 20) -> None:
    """Until the standby has replayed everything the primary has written so far."""
    with psycopg.connect(primary.conninfo("geoservice")) as conn:
        lsn = conn.execute("SELECT pg_current_wal_lsn()::text").fetchone()[0]
    deadline = time.monotonic() + timeout_s
    while True:
        with psycopg.connect(replica.conninfo("geoservice")) as conn:
            if conn.execute("SELECT pg_last_wal_replay_lsn() >= %s::pg_lsn", (lsn,)).fetchone()[0]:
                return
        if time.monotonic() > deadline:
            raise AssertionError(f"the standby did not replay up to {lsn} within {timeout_s} s")
        time.sleep(0.05)


@pytest.fixture(scope="module")
def clusters(tmp_path_factory):
    """(primary, standby, moderator token, ids of two published initiatives)."""
    base = tmp_path_factory.mktemp("replica")
    primary = localdb.LocalCluster(Settings(pgdata=base / "primary", pg_port=54395))
    replica = localdb.LocalCluster(Settings(pgdata=base / "replica", pg_port=54396))
    try:
        primary.start()
        db.upgrade(primary.url())
        engine = db.make_engine(primary.url())
        with Session(engine) as session, session.begin():
            ids = [make_initiative(session, name=name) for name in ("Buurtmoestuin", "Repair Café")]
            moderator = accounts.create_user(session, "mod@example.nl", role="moderator", password=PASSWORD)
            token = accounts.create_token(session, moderator)[1]
        engine.dispose()
        replica.make_standby_of(primary)
        replica.start()
        wait_for_replay(primary, replica)
        yield primary, replica, token, ids
    finally:
        for cluster in (replica, primary):
            cluster.stop()
            shutil.rmtree(cluster.home, ignore_errors=True)


@pytest.fixture
def app(clusters):
    """An app on the primary with the standby as DATABASE_READ_URL; app.served lists which server ran each query."""
    primary, replica, _token, _ids = clusters
    app = localdb_app(primary, replica)
    yield app
    app.extensions[db.ENGINE].dispose()
    app.extensions[db.READ_REPLICA].engine.dispose()
    for engine in app.extensions[db.FAST_READS].values():
        engine.dispose()


def localdb_app(primary, replica):

    app = app_on(primary.url(), database_read_url=replica.url(), geocoder="offline")
    app.served = []
    for name, engine in (("primary", app.extensions[db.ENGINE]),
                         ("replica", app.extensions[db.READ_REPLICA].engine),
                         *((name.split("-")[0], engine)  # db.read_connection()'s
                           for name, engine in app.extensions[db.FAST_READS].items())):
        event.listen(engine, "before_cursor_execute",
                     lambda *_args, name=name: app.served.append(name))
    return app


def served_by(app, call):
    """Which servers (a set of 'primary'/'replica') answered the queries of one request, and its response."""
    app.served.clear()
    response = call()
    return set(app.served), response


def test_the_standby_really_is_one(clusters):
    primary, replica, _token, _ids = clusters
    assert scalar(replica.url(), "SELECT pg_is_in_recovery()") is True
    assert scalar(primary.url(), "SELECT pg_is_in_recovery()") is False
    assert scalar(replica.url(), "SELECT count(*) FROM initiative") == scalar(primary.url(),
                                                                              "SELECT count(*) FROM initiative")


def test_get_session_picks_the_server_by_request(app):
    def in_recovery(**request_args) -> bool:
        write = request_args.pop("write", False)
        with app.test_request_context(**request_args):
            return db.get_session(write=write).execute(text("SELECT pg_is_in_recovery()")).scalar()

    assert in_recovery(path="/api/v1/initiatives") is True
    assert in_recovery(path="/", method="HEAD") is True
    assert in_recovery(path="/api/v1/initiatives", write=True) is False  # a GET that must see its own writes
    assert in_recovery(path="/api/v1/submissions", method="POST") is False
    assert in_recovery(path="/api/v1/moderation/pending", headers={"Authorization": "Bearer x"}) is False
    assert in_recovery(path="/", headers={"Cookie": f"{db.READ_YOUR_WRITES_COOKIE}=1"}) is False
    with app.app_context():  # no request (CLI, jobs): the primary
        assert db.get_session().execute(text("SELECT pg_is_in_recovery()")).scalar() is False


@pytest.mark.parametrize("path", ["/api/v1/initiatives", "/api/v1/initiatives/nearby?lat=52.2165&lon=5.2878",
                                  "/ogc/collections/initiatives/items", "/healthz", "/?lat=52.2165&lon=5.2878"])
def test_reads_are_answered_by_the_standby(app, clusters, path):
    primary = clusters[0]
    servers, response = served_by(app, lambda: app.test_client().get(path))
    assert response.status_code == 200, response.get_data(as_text=True)[:300]
    assert servers == {"replica"}
    if path == "/api/v1/initiatives":
        assert response.get_json()["numberMatched"] == scalar(
            primary.url(), "SELECT count(*) FROM initiative WHERE status = 'published'")


def test_writes_go_to_the_primary_and_reach_the_standby(app, clusters):
    primary, replica, token, ids = clusters
    moderator = app.test_client()
    servers, response = served_by(app, lambda: moderator.patch(
        f"/api/v1/initiatives/{ids[0]}", json={"name": "Moestuin De Eng"},
        headers={"Authorization": f"Bearer {token}"}))
    assert response.status_code == 200, response.get_json()
    assert servers == {"primary"}
    assert scalar(primary.url(), "SELECT name FROM initiative WHERE id = :id", id=ids[0]) == "Moestuin De Eng"

    # The writer's own next read goes to the primary (the replica may lag), a stranger's to the replica.
    assert db.READ_YOUR_WRITES_COOKIE in response.headers.get("Set-Cookie", "")
    servers, own = served_by(app, lambda: moderator.get(f"/api/v1/initiatives/{ids[0]}"))
    assert servers == {"primary"} and own.get_json()["properties"]["name"] == "Moestuin De Eng"

    wait_for_replay(primary, replica)
    servers, other = served_by(app, lambda: app.test_client().get(f"/api/v1/initiatives/{ids[0]}"))
    assert servers == {"replica"} and other.get_json()["properties"]["name"] == "Moestuin De Eng"

    visitor = app.test_client()
    pending_before = scalar(primary.url(), "SELECT count(*) FROM initiative WHERE status = 'pending'")
    servers, created = served_by(app, lambda: visitor.post("/api/v1/submissions", json={
        "name": "Nieuwe buurttafel", "kind": "bewonersinitiatief", **BAARN, "contact": CONTACT}))
    assert created.status_code == 201, created.get_json()
    assert servers == {"primary"}
    wait_for_replay(primary, replica)
    assert scalar(replica.url(), "SELECT count(*) FROM initiative WHERE status = 'pending'") == pending_before + 1


def test_reads_fall_back_to_the_primary_while_the_standby_is_down(app, clusters, caplog):
    primary, replica, _token, _ids = clusters
    expected = scalar(primary.url(), "SELECT count(*) FROM initiative WHERE status = 'published'")
    assert served_by(app, lambda: app.test_client().get("/api/v1/initiatives"))[0] == {"replica"}

    replica.stop()
    try:
        caplog.set_level(logging.WARNING, logger="geoservice.db")
        for _ in range(3):
            servers, response = served_by(app, lambda: app.test_client().get("/api/v1/initiatives"))
            assert response.status_code == 200 and response.get_json()["numberMatched"] == expected
            assert servers == {"primary"}
        warnings = [r for r in caplog.records if "read replica unavailable" in r.getMessage()]
        assert len(warnings) == 1  # once per outage, not per request
    finally:
        replica.start()
    app.extensions[db.READ_REPLICA]._down_until = 0.0  # the retry interval is over
    servers, response = served_by(app, lambda: app.test_client().get("/api/v1/initiatives"))
    assert response.status_code == 200 and servers == {"replica"}
    assert any("read replica answers again" in r.getMessage() for r in caplog.records)


def test_with_the_primary_down_reads_still_work_and_writes_answer_503(app, clusters):
    primary, _replica, token, ids = clusters
    client = app.test_client()
    assert client.get("/api/v1/initiatives").status_code == 200
    primary.stop()
    try:
        servers, response = served_by(app, lambda: app.test_client().get("/api/v1/initiatives"))
        assert response.status_code == 200 and servers == {"replica"}
        assert app.test_client().get(f"/api/v1/initiatives/{ids[1]}").get_json()["properties"]["name"] == "Repair Café"
        write = app.test_client().patch(f"/api/v1/initiatives/{ids[1]}", json={"name": "Kan niet"},
                                        headers={"Authorization": f"Bearer {token}"})
        assert write.status_code == 503 and write.get_json()["code"] == "ServiceUnavailable"
    finally:
        primary.start()


def test_settings_read_the_replica_url():
    settings = Settings.from_env({"DATABASE_URL": "postgres://app@primary/kaart",
                                  "DATABASE_READ_URL": "postgres://app@replica/kaart"})
    assert settings.database_read_url == "postgresql+psycopg://app@replica/kaart"
    assert Settings.from_env({}).database_read_url is None
    with pytest.raises(ValueError, match="DATABASE_READ_URL"):
        Settings(database_read_url="mysql://replica/kaart")
