"""Made tiles kept by data version (geoservice.serving.tile_cache), and the hot reads' own connection (db.read_connection)."""

from __future__ import annotations

import pytest
from sqlalchemy import event

from geoservice import db
from geoservice.serving import tile_cache

from .helpers import add_partner, add_service_area, make_initiative
from .test_ratelimit_redis import redis_url  # noqa: F401 - the module's real redis-server fixture
from .test_tiles import BAARN, decode, tile_at

Z = 14
X, Y = tile_at(*BAARN, Z)
TILE = f"/tiles/initiatives/{Z}/{X}/{Y}.mvt"


def statements(app) -> list[str]:
    """The SQL each request runs on the hot reads' connections, collected in a list."""
    seen: list[str] = []
    for engine in app.extensions[db.FAST_READS].values():
        event.listen(engine, "before_cursor_execute", lambda _c, _cur, sql, *_a: seen.append(sql))
    return seen


def names(response) -> set[str]:
    return {f["properties"]["name"] for f in decode(response.data).get("initiatives", [])}


@pytest.fixture
def baarn_db(fresh_db_url, engine_for):
    with engine_for(fresh_db_url).begin() as conn:
        make_initiative(conn, name="Buurtmoestuin")
    return fresh_db_url


def test_a_tile_is_made_once_per_data_version_and_again_after_a_write(app_for, baarn_db, engine_for):
    app = app_for(baarn_db)
    client, seen = app.test_client(), statements(app)
    first = client.get(TILE)
    assert first.status_code == 200 and names(first) == {"Buurtmoestuin"}
    made = [sql for sql in seen if "ST_AsMVT" in sql]
    assert len(made) == 1
    # one round trip for the tile itself: the data version and the tile, nothing else (no BEGIN, ROLLBACK, ping)
    assert len(seen) == 2, seen
    again = client.get(TILE)
    assert again.data == first.data and again.headers["ETag"] == first.headers["ETag"]
    assert len([sql for sql in seen if "ST_AsMVT" in sql]) == 1  # not made again
    with engine_for(baarn_db).begin() as conn:  # a write: a new data version (this process committed it)
        make_initiative(conn, name="Repair Café", lon=BAARN[0] + 0.001)
    after = client.get(TILE)
    assert names(after) == {"Buurtmoestuin", "Repair Café"}
    assert after.headers["ETag"] != first.headers["ETag"]
    assert len([sql for sql in seen if "ST_AsMVT" in sql]) == 2


def test_without_a_cache_every_request_makes_its_tile(app_for, baarn_db):
    app = app_for(baarn_db, tile_cache_mb=0)
    assert tile_cache.for_app(app) is None
    client, seen = app.test_client(), statements(app)
    assert client.get(TILE).data == client.get(TILE).data
    assert len([sql for sql in seen if "ST_AsMVT" in sql]) == 2


def test_a_request_with_a_token_neither_reads_nor_fills_the_cache(app_for, baarn_db):
    app = app_for(baarn_db)
    client, seen = app.test_client(), statements(app)
    client.get(TILE, headers={"Authorization": "Bearer not-a-token"})
    client.get(TILE, headers={"Authorization": "Bearer not-a-token"})
    assert len([sql for sql in seen if "ST_AsMVT" in sql]) == 2
    assert tile_cache.for_app(app).hits == 0


def test_the_cache_drops_the_least_recently_used_tiles_beyond_its_size():
    cache = tile_cache.TileCache(max_bytes=8 * 100)
    for n in range(12):
        cache.put(("v1", "initiatives", 14, n, 0), bytes(90))
    assert cache.get(("v1", "initiatives", 14, 0, 0)) is None  # the oldest went
    assert cache.get(("v1", "initiatives", 14, 11, 0)) == bytes(90)
    cache.put(("v1", "initiatives", 14, 99, 0), bytes(500))  # larger than an eighth: never kept
    assert cache.get(("v1", "initiatives", 14, 99, 0)) is None


def test_with_redis_a_tile_made_by_one_server_is_there_for_another(app_for, baarn_db, redis_url):  # noqa: F811
    first_server, second_server = app_for(baarn_db, redis_url=redis_url), app_for(baarn_db, redis_url=redis_url)
    seen_first, seen_second = statements(first_server), statements(second_server)
    made = first_server.test_client().get(TILE)
    served = second_server.test_client().get(TILE)
    assert served.data == made.data and names(served) == {"Buurtmoestuin"}
    assert len([sql for sql in seen_first if "ST_AsMVT" in sql]) == 1
    assert not [sql for sql in seen_second if "ST_AsMVT" in sql]  # from Redis


def test_when_redis_is_away_tiles_are_still_made(app_for, baarn_db, caplog):
    app = app_for(baarn_db, redis_url="redis://127.0.0.1:1/0")  # nothing listens there
    response = app.test_client().get(TILE)
    assert response.status_code == 200 and names(response) == {"Buurtmoestuin"}
    assert "Redis unavailable" in caplog.text


@pytest.mark.parametrize("layer, z", [("buurten", 12), ("buurten", 14), ("wijken", 11)])
def test_area_tiles_carry_the_same_figures_from_the_kept_tables_as_computed_on_the_fly(fresh_db_url, engine_for,
                                                                                       layer, z):
    """The one-statement path (figures kept on write, status in SQL) and the computed one agree exactly."""
    from sqlalchemy import text

    from geoservice.analysis.kept import refresh_all
    from geoservice.tiles import render_tile

    engine = engine_for(fresh_db_url)
    with engine.begin() as conn:
        for n, (dx, dy) in enumerate([(0, 0), (0.004, 0.002), (-0.006, 0.001), (0.01, -0.004)]):
            make_initiative(conn, name=f"Initiatief {n}", lon=BAARN[0] + dx, lat=BAARN[1] + dy)
        partner = add_partner(conn, "Steunpunt Baarn")
        add_service_area(conn, partner, "Rond het station",
                         "ST_Buffer(ST_Transform(ST_SetSRID(ST_MakePoint(:lon, :lat), 4326), 28992), 900)",
                         lon=BAARN[0], lat=BAARN[1])
        refresh_all(conn)
    x, y = tile_at(*BAARN, z)
    with engine.connect() as conn:
        stored = decode(render_tile(conn, layer, z, x, y))[layer]
        computed = {}
        for stale in ("gap_counts_stale (location, marked_xid) VALUES (NULL, txid_current())",
                      "gap_need_stale (marked_xid) VALUES (txid_current())"):
            conn.execute(text(f"INSERT INTO {stale}"))
            computed[stale] = decode(render_tile(conn, layer, z, x, y))[layer]  # a mark: the figures computed here
            conn.rollback()
    by_code = lambda features: {f["properties"]["code"]: f["properties"] for f in features}  # noqa: E731
    for other in computed.values():
        assert by_code(stored) == by_code(other)
    statuses = {p["status"] for p in by_code(stored).values()}
    assert len(statuses) >= 2, statuses  # the comparison covers more than one status
    assert any(p["n_nearby"] for p in by_code(stored).values())
    baarn = [p for code, p in by_code(stored).items() if code[2:6] == "0308"]
    assert baarn and all(0 <= p["need"] <= 1 for p in baarn)  # every unit of Baarn has CBS figures
    assert all(("priority" in p) == (p["status"] == "white_spot") for p in by_code(stored).values())


def test_a_buurt_tile_with_its_gap_figures_is_one_statement(app_for, baarn_db, engine_for):
    """With the figures kept on write fresh (as after any write through the service) a buurt tile reads its year,
    freshness, gap figures, need and priority and draws in one statement; no tile ranks the need indicators."""
    from geoservice.analysis.kept import refresh_all

    with engine_for(baarn_db).begin() as conn:
        refresh_all(conn)
    app = app_for(baarn_db, tile_cache_mb=0)
    client, seen = app.test_client(), statements(app)
    x, y = tile_at(*BAARN, 13)
    client.get(f"/tiles/buurten/13/{x}/{y}.mvt")  # the first request also reads the data version (ETags)
    seen.clear()
    response = client.get(f"/tiles/buurten/13/{x + 1}/{y}.mvt")
    assert response.status_code == 200
    features = decode(response.data)["buurten"]
    assert {f["properties"]["status"] for f in features} <= {
        "ok", "no_support", "no_initiative", "white_spot", "low_population", "unknown"}
    assert any("need" in f["properties"] for f in features)
    assert not any("percent_rank" in sql for sql in seen), seen
    assert len(seen) == 1, seen


def test_a_buurt_tile_while_need_is_stale_ranks_once_per_data_version(app_for, baarn_db, engine_for):
    """A change of the CBS areas that no refresh saw (a script, a restore): the tiles rank the indicators
    themselves, once per data version, and still carry need."""
    from sqlalchemy import text

    with engine_for(baarn_db).begin() as conn:
        conn.execute(text("INSERT INTO gap_need_stale (marked_xid) VALUES (txid_current())"))
    app = app_for(baarn_db, tile_cache_mb=0)
    client, seen = app.test_client(), statements(app)
    x, y = tile_at(*BAARN, 13)
    for dx in (0, 1):
        response = client.get(f"/tiles/buurten/13/{x + dx}/{y}.mvt")
        assert response.status_code == 200
        assert any("need" in f["properties"] for f in decode(response.data)["buurten"])
    assert sum("percent_rank" in sql for sql in seen) == 2  # buurt and wijk level, for the first tile only
