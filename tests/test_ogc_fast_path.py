"""The initiatives' OGC items page built by PostgreSQL answers byte for byte what the generic Python path did."""

from __future__ import annotations

import datetime as dt
import json
import re

import pytest

from geoservice.queries import ogc as queries

from .helpers import make_initiative

# Text that JSON must escape, or must not: quotes, backslash, control characters, non-ASCII, U+2028.
AWKWARD = ['Buurt "De Kern"', "C:\\pad\\naar", "regel 1\nregel 2\r\n\ttab", "bel\x07 en \x1f", "Café Ñandú ☕ 🌳",
           "lijn\u2028scheider", "", "<script>alert(1)</script>"]
TIMESTAMP = re.compile(rb'"timeStamp":"[^"]*"')
QUERIES = [
    "limit=100",
    "limit=3&offset=2",
    "limit=1000",
    "offset=500",  # past the end: an empty page
    "bbox=5.2,52.1,5.4,52.3&limit=5",
    "bbox=5.2,52.1,5.4,52.3&limit=5&offset=5",
    "bbox=5.2,52.1,-10,5.4,52.3,10",  # with heights
    "bbox=4.8,52.3,5.0,52.4",  # Amsterdam: none of the test initiatives
    "bbox=5.3,52.2,5.3,52.2",  # a box without area: the generic path's special case either way
    "bbox=100,10,101,11",  # outside RD
]


@pytest.fixture(scope="module")
def awkward_db(pg_server, template_db):
    """Published initiatives in and around Baarn with awkward text, nulls, dates and theme lists."""
    from geoservice.db import make_engine

    name = "geoservice_test_ogc_fast_path"
    url = pg_server.create(name, template=template_db)
    engine = make_engine(url)
    with engine.begin() as conn:
        for n, words in enumerate(AWKWARD * 3):
            make_initiative(
                conn, lon=5.20 + 0.01 * n, lat=52.15 + 0.005 * n, name=f"{words} {n}",
                description=words if n % 2 else None, address=words or None,
                website=None if n % 3 else "https://example.org/?a=1&b=\"2\"",
                themes=[] if n % 4 == 0 else ["ontmoeting", "jeugd"][: 1 + n % 2],
                last_verified=dt.date(2024, 1 + n % 12, 1 + n % 28) if n % 5 else None,
                kind="energiecooperatie" if n % 2 else "bewonersinitiatief")
        make_initiative(conn, status="pending", name="Niet publiek")
    engine.dispose()
    yield url
    pg_server.drop(name)


@pytest.mark.parametrize("query", QUERIES)
def test_the_postgresql_page_is_the_python_page_byte_for_byte(app_for, awkward_db, monkeypatch, query):
    client = app_for(awkward_db).test_client()
    path = f"/ogc/collections/initiatives/items?{query}"
    fast = client.get(path)
    monkeypatch.setattr(queries, "initiative_page_json", lambda *a, **k: None)  # the generic path
    generic = client.get(path)
    assert fast.status_code == generic.status_code == 200
    assert fast.headers["Content-Type"] == generic.headers["Content-Type"]
    assert TIMESTAMP.sub(b"", fast.data) == TIMESTAMP.sub(b"", generic.data)
    body = json.loads(fast.data)
    assert body["numberReturned"] == len(body["features"])


def test_the_page_uses_postgresql_for_initiatives_and_serves_every_published_one(app_for, awkward_db):
    client = app_for(awkward_db).test_client()
    with client.application.app_context():
        from geoservice.db import get_session
        from geoservice.params import BBox

        page = queries.initiative_page_json(get_session(), bbox=BBox(5.2, 52.1, 5.4, 52.3), limit=1000, offset=0)
        everything = queries.items(get_session(), "initiatives", bbox=None, limit=1000, offset=0)
    in_box = [f for f in everything.features if 5.2 <= f.geometry["coordinates"][0] <= 5.4
              and 52.1 <= f.geometry["coordinates"][1] <= 52.3]
    assert page is not None and page.number_matched == page.number_returned == len(in_box)
    assert [f["id"] for f in json.loads(f"[{page.features}]")] == [f.id for f in in_box]
    assert everything.number_matched == len(AWKWARD) * 3  # the pending one stays out


def test_the_postgresql_item_is_the_python_item_byte_for_byte(app_for, awkward_db, monkeypatch):
    from geoservice.ogc import api as ogc_api

    client = app_for(awkward_db).test_client()
    ids = [f["id"] for f in client.get("/ogc/collections/initiatives/items?limit=1000").get_json()["features"]]
    assert len(ids) == len(AWKWARD) * 3
    fast = [client.get(f"/ogc/collections/initiatives/items/{i}") for i in ids]
    hidden = client.get("/ogc/collections/initiatives/items/999999")
    monkeypatch.setattr(ogc_api, "ITEMS_MADE_BY_POSTGRESQL", ())  # the generic path
    generic = [client.get(f"/ogc/collections/initiatives/items/{i}") for i in ids]
    for made, python in zip(fast, generic):
        assert made.status_code == python.status_code == 200
        assert made.headers["Content-Type"] == python.headers["Content-Type"]
        assert made.data == python.data
    assert hidden.status_code == client.get("/ogc/collections/initiatives/items/999999").status_code == 404
    assert hidden.get_json() == client.get("/ogc/collections/initiatives/items/999999").get_json()
