"""HTTP caching: ETag from the data version (bumped by triggers), Cache-Control, 304; never for logged-in users."""

from __future__ import annotations

from sqlalchemy import text

from geoservice.serving.caching import API_MAX_AGE_S, TILES_MAX_AGE_S

from .helpers import make_initiative, scalar

LIST = "/api/v1/initiatives?gemeente=GM0308"
TILE = "/tiles/gemeenten/8/131/84.mvt"


def test_public_reads_carry_etag_and_cache_control_and_answer_304(client):
    for path, max_age in ((LIST, API_MAX_AGE_S), (TILE, TILES_MAX_AGE_S)):
        first = client.get(path)
        assert first.status_code == 200
        etag = first.headers["ETag"]
        assert first.headers["Cache-Control"] == f"public, max-age={max_age}"
        again = client.get(path, headers={"If-None-Match": etag})
        assert again.status_code == 304
        assert again.data == b""
        assert again.headers["ETag"] == etag
        # another URL is another resource
        assert client.get(path + ("&limit=1" if "?" in path else "?x=1")).headers["ETag"] != etag


def test_etag_changes_after_a_write_through_the_trigger(app_for, fresh_db_url, engine_for):
    client = app_for(fresh_db_url).test_client()
    before_version = scalar(fresh_db_url, "SELECT version FROM data_version")
    before = client.get(LIST)
    with engine_for(fresh_db_url).begin() as conn:  # one transaction, several statements: one bump
        make_initiative(conn, name="Nieuw")
        make_initiative(conn, name="Nog een")
    assert scalar(fresh_db_url, "SELECT version FROM data_version") == before_version + 1
    after = client.get(LIST, headers={"If-None-Match": before.headers["ETag"]})
    assert after.status_code == 200
    assert after.headers["ETag"] != before.headers["ETag"]
    assert after.get_json()["numberMatched"] == before.get_json()["numberMatched"] + 2
    tile_before = client.get(TILE).headers["ETag"]
    with engine_for(fresh_db_url).begin() as conn:
        conn.execute(text("UPDATE gemeente SET naam = naam || '' WHERE code = 'GM0308'"))
    assert client.get(TILE, headers={"If-None-Match": tile_before}).status_code == 200


def test_a_rolled_back_write_does_not_change_the_version(fresh_db_url, engine_for):
    before = scalar(fresh_db_url, "SELECT version FROM data_version")
    with engine_for(fresh_db_url).connect() as conn:
        make_initiative(conn)
        conn.rollback()
    assert scalar(fresh_db_url, "SELECT version FROM data_version") == before


def test_an_import_bumps_the_version(app_for, fresh_db_url, runner_env, tmp_path):
    from click.testing import CliRunner

    from geoservice.cli import main

    client = app_for(fresh_db_url).test_client()
    etag = client.get(LIST).headers["ETag"]
    csv = tmp_path / "i.csv"
    csv.write_text("id;name;kind;themes;lat;lon\n1;Buurtmoestuin (test);bewonersinitiatief;groen_natuur;52.2165;5.2878\n")
    result = CliRunner().invoke(main, ["import", "initiatives", str(csv), "--source", "test"],
                                env=runner_env(fresh_db_url))
    assert result.exit_code == 0, result.output
    assert client.get(LIST, headers={"If-None-Match": etag}).status_code == 200


def test_no_public_caching_with_authorization_or_a_logged_in_user(app_for, fresh_db_url, engine_for):
    from geoservice import accounts
    from geoservice.auth import session_fingerprint
    from geoservice.db import get_session
    from geoservice.models import User

    app = app_for(fresh_db_url)
    client = app.test_client()
    etag = client.get(LIST).headers["ETag"]
    with_token = client.get(LIST, headers={"Authorization": "Bearer whatever", "If-None-Match": etag})
    assert with_token.status_code == 200
    assert "ETag" not in with_token.headers
    assert "public" not in with_token.headers.get("Cache-Control", "")
    with app.app_context():
        session = get_session()
        user = accounts.create_user(session, email="mod@example.nl", password="een lang wachtwoord 123",
                                    role="moderator")
        session.commit()
        user_id = user.id
    with app.app_context():
        fingerprint = session_fingerprint(get_session().get(User, user_id))
    with client.session_transaction() as sess:  # what login_user stores
        sess.update(user_id=user_id, login_nonce="n", pw=fingerprint)
    logged_in = client.get(LIST, headers={"If-None-Match": etag})
    assert logged_in.status_code == 200
    assert "ETag" not in logged_in.headers
    assert "public" not in logged_in.headers.get("Cache-Control", "")


def _bump_elsewhere(engine) -> None:
    """A write as another process makes it: committed outside this process's SQLAlchemy connections."""
    raw = engine.raw_connection()
    try:
        raw.cursor().execute("UPDATE data_version SET version = version + 1")
        raw.commit()
    finally:
        raw.close()


def test_a_worker_reuses_the_data_version_for_a_second_then_sees_other_writes(app_for, fresh_db_url, engine_for):
    from geoservice.serving.caching import DATA_VERSION_TTL_S

    app = app_for(fresh_db_url)
    now = [1000.0]
    app.extensions["geoservice.data_version_cache"].clock = lambda: now[0]
    client = app.test_client()
    etag = client.get(LIST).headers["ETag"]
    _bump_elsewhere(engine_for(fresh_db_url))
    now[0] += DATA_VERSION_TTL_S / 2
    assert client.get(LIST, headers={"If-None-Match": etag}).status_code == 304  # the documented lag
    now[0] += DATA_VERSION_TTL_S
    fresh = client.get(LIST, headers={"If-None-Match": etag})
    assert fresh.status_code == 200
    assert fresh.headers["ETag"] != etag


def test_a_commit_in_this_process_is_seen_at_once(app_for, fresh_db_url, engine_for):
    app = app_for(fresh_db_url)
    app.extensions["geoservice.data_version_cache"].clock = lambda: 1000.0  # the clock stands still
    client = app.test_client()
    before = client.get(LIST)
    with engine_for(fresh_db_url).begin() as conn:
        make_initiative(conn, name="Direct zichtbaar")
    after = client.get(LIST, headers={"If-None-Match": before.headers["ETag"]})
    assert after.status_code == 200
    assert after.get_json()["numberMatched"] == before.get_json()["numberMatched"] + 1
