"""The partner editors' API: PATCH /api/v1/partners/<id>, POST and DELETE /api/v1/partners/<id>/service-areas.

Bearer tokens of the partner's editor, another partner's editor, a moderator and an admin, on a module
database. Responses are checked against the schemas of geoservice.api.openapi_partner_editing.
"""

from __future__ import annotations

import math

import pytest
from openapi_schema_validator import OAS30Validator
from openapi_spec_validator import validate
from sqlalchemy.orm import Session

from geoservice import accounts, db
from geoservice.api import openapi
from geoservice.api.partner_editing import WRITES
from geoservice.serving import ratelimit

from .conftest import app_on
from .helpers import seed_partner_editing, seeded_database
from .test_partner_editing import BAARN_POINT, BOWTIE, ZANDVOORT, cbs_union_area, digest

PASSWORD = "een lang genoeg wachtwoord"


@pytest.fixture(scope="module")
def api_site(pg_server, template_db):
    """(app, url, ids, tokens): partners Baarn and Utrecht (with one area), a token per role."""
    with seeded_database(pg_server, template_db, "partner_editing_api",
                         lambda session: seed_partner_editing(session, password=PASSWORD)) as (url, (ids, tokens)):
        app = app_on(url)
        yield app, url, ids, tokens


@pytest.fixture
def site(api_site):
    app = api_site[0]
    app.extensions[ratelimit.EXTENSION].reset()  # each test starts with a fresh write budget
    return api_site


@pytest.fixture
def client(site):
    return site[0].test_client()


@pytest.fixture
def ids(site):
    return site[2]


@pytest.fixture
def engine(site):
    engine = db.make_engine(site[1])
    yield engine
    engine.dispose()


def auth(site, who: str) -> dict:
    return {"Authorization": f"Bearer {site[3][who]}"}


def state(engine) -> dict:
    with engine.connect() as conn:
        return digest(conn)


@pytest.fixture(scope="module")
def document(api_site):
    """The service's OpenAPI document (it includes this module's paths, schemas and security scheme)."""
    app = api_site[0]
    with app.test_request_context("/api/v1/openapi.json"):
        return openapi.document()


def check(document, path: str, method: str, response) -> None:
    """The response's status is documented for this operation, and its body matches the documented schema."""
    operation = document["paths"][path][method]
    documented_response = operation["responses"].get(str(response.status_code))
    assert documented_response is not None, (path, method, response.status_code)
    if "$ref" in documented_response:
        documented_response = document["components"]["responses"][documented_response["$ref"].rsplit("/", 1)[1]]
    content = documented_response.get("content")
    if content is None:
        assert response.get_data() == b""
        return
    assert response.mimetype in content, (response.mimetype, list(content))
    schema = content[response.mimetype]["schema"]
    OAS30Validator({**schema, "components": document["components"]}).validate(response.get_json())


PARTNER = "/api/v1/partners/{partner_id}"
AREAS = "/api/v1/partners/{partner_id}/service-areas"
AREA = "/api/v1/partners/{partner_id}/service-areas/{area_id}"


def test_the_merged_document_is_valid_openapi(document):
    validate(document)
    assert document["paths"][PARTNER].keys() >= {"get", "patch"}
    assert document["paths"][AREAS].keys() >= {"get", "post"}
    for path, method in ((PARTNER, "patch"), (AREAS, "post"), (AREA, "delete")):
        operation = document["paths"][path][method]
        assert operation["security"] == [{"bearerAuth": []}]
        assert {"401", "403", "404", "429"} <= operation["responses"].keys()


# --- profile ----------------------------------------------------------------------------------------

def test_the_editor_patches_their_partner(site, client, ids, engine, document):
    response = client.patch(f"/api/v1/partners/{ids['baarn']}", headers=auth(site, "editor"),
                            json={"website": "www.steunpunt-baarn.nl", "services": ["advies", "Training"]})
    assert response.status_code == 200
    check(document, PARTNER, "patch", response)
    body = response.get_json()
    assert body["website"] == "https://www.steunpunt-baarn.nl" and body["services"] == ["advies", "training"]
    assert body["name"] == "Steunpunt Baarn"  # untouched
    assert client.get(f"/api/v1/partners/{ids['baarn']}").get_json()["website"] == body["website"]
    with Session(engine) as session:
        entry = accounts.history(session, "partner", ids["baarn"])[-1]
    assert entry["actor"] == "editor@example.nl" and entry["user_id"] == ids["editor"]
    assert entry["changes"]["services"][1] == ["advies", "training"]


@pytest.mark.parametrize("body, reason", [
    ({"name": ""}, "naam nodig"),
    ({"name": "wijkfonds utrecht"}, "andere partner"),
    ({"website": "ftp://steunpunt.example"}, "geen website"),
    ({"kind": "club"}, "soort partner"),
    ({"source": "api"}, "onbekend veld"),
    (["name"], "JSON-object"),
    ("geen json", "JSON-object"),
])
def test_bad_profiles_answer_400_and_change_nothing(site, client, ids, engine, document, body, reason):
    before = state(engine)
    if isinstance(body, str):
        response = client.patch(f"/api/v1/partners/{ids['baarn']}", headers=auth(site, "editor"), data=body,
                                content_type="application/json")
    else:
        response = client.patch(f"/api/v1/partners/{ids['baarn']}", headers=auth(site, "editor"), json=body)
    assert response.status_code == 400
    check(document, PARTNER, "patch", response)
    assert response.get_json()["code"] == "InvalidParameterValue" and reason in response.get_json()["description"]
    assert state(engine) == before


# --- service areas ----------------------------------------------------------------------------------

def _gap_coverage(client, code: str) -> float:
    body = client.get("/api/v1/gaps?gemeente=GM0308").get_json()
    return next(f["properties"]["coverage"] for f in body["features"] if f["id"] == code)


def test_an_area_by_codes_counts_in_the_gap_analysis_until_it_is_removed(site, client, ids, engine, document):
    assert _gap_coverage(client, ZANDVOORT) == 0
    response = client.post(f"/api/v1/partners/{ids['baarn']}/service-areas", headers=auth(site, "editor"),
                           json={"name": "Zandvoort", "codes": [ZANDVOORT.lower()]})
    assert response.status_code == 201 and response.mimetype == "application/geo+json"
    check(document, AREAS, "post", response)
    area = response.get_json()
    with engine.connect() as conn:
        expected = cbs_union_area(conn, [ZANDVOORT])
    assert area["properties"]["area_m2"] == pytest.approx(expected, abs=0.5)
    assert area["properties"]["definition"] == {"codes": [ZANDVOORT]} and area["properties"]["cbs_jaar"] == 2024
    assert area["properties"]["partner_id"] == ids["baarn"] and area["properties"]["repaired"] is None
    listed = client.get(f"/api/v1/partners/{ids['baarn']}/service-areas").get_json()["features"]
    assert area["id"] in [f["id"] for f in listed]

    assert _gap_coverage(client, ZANDVOORT) == 1.0

    deleted = client.delete(f"/api/v1/partners/{ids['baarn']}/service-areas/{area['id']}",
                            headers=auth(site, "editor"))
    assert deleted.status_code == 204
    check(document, AREA, "delete", deleted)
    assert _gap_coverage(client, ZANDVOORT) == 0
    again = client.delete(f"/api/v1/partners/{ids['baarn']}/service-areas/{area['id']}",
                          headers=auth(site, "editor"))
    assert again.status_code == 404
    check(document, AREA, "delete", again)
    with Session(engine) as session:
        actions = [e["action"] for e in accounts.history(session, "service_area", area["id"])]
    assert actions == ["created", "removed"]


def test_an_area_by_point_and_radius(site, client, ids, document):
    response = client.post(f"/api/v1/partners/{ids['baarn']}/service-areas", headers=auth(site, "editor"),
                           json={"name": "Rond het kantoor", "point": BAARN_POINT, "radius_m": 1200})
    assert response.status_code == 201
    check(document, AREAS, "post", response)
    assert response.get_json()["properties"]["area_m2"] == pytest.approx(math.pi * 1200 ** 2, rel=0.01)


def test_a_bowtie_polygon_is_repaired_and_says_so(site, client, ids, document):
    response = client.post(f"/api/v1/partners/{ids['baarn']}/service-areas", headers=auth(site, "editor"),
                           json={"name": "Vlinder", "geojson": {"type": "Feature", "geometry": BOWTIE}})
    assert response.status_code == 201
    check(document, AREAS, "post", response)
    area = response.get_json()
    assert area["properties"]["repaired"] == "de rand snijdt zichzelf"
    assert area["geometry"]["type"] == "MultiPolygon" and len(area["geometry"]["coordinates"]) == 2


@pytest.mark.parametrize("body, reason", [
    ({"name": "X", "codes": ["GM9999"]}, "onbekende code(s) in CBS-jaar 2024"),
    ({"name": "X", "point": BAARN_POINT, "radius_m": 250_000}, "tussen 1 en 100.000 meter"),
    ({"name": "X", "geojson": {"type": "LineString", "coordinates": [[5.2, 52.2], [5.3, 52.3]]}},
     "kan geen werkgebied zijn"),
    ({"codes": ["GM0308"]}, "naam nodig"),
    ({"name": "X"}, "precies één"),
    ([], "JSON-object"),
])
def test_bad_areas_answer_400_and_change_nothing(site, client, ids, engine, document, body, reason):
    before = state(engine)
    response = client.post(f"/api/v1/partners/{ids['baarn']}/service-areas", headers=auth(site, "editor"),
                           json=body)
    assert response.status_code == 400
    check(document, AREAS, "post", response)
    assert reason in response.get_json()["description"]
    assert state(engine) == before


# --- who may write ----------------------------------------------------------------------------------

def _writes(ids):
    return [
        ("patch", f"/api/v1/partners/{ids['utrecht']}", {"name": "Overgenomen"}, PARTNER),
        ("post", f"/api/v1/partners/{ids['utrecht']}/service-areas", {"name": "Erbij", "codes": ["GM0308"]}, AREAS),
        ("delete", f"/api/v1/partners/{ids['utrecht']}/service-areas/{ids['utrecht_area']}", None, AREA),
    ]


@pytest.mark.parametrize("write", range(3))
@pytest.mark.parametrize("who, status", [("editor", 403), ("moderator", 403), (None, 401), ("bogus", 401)])
def test_other_partners_editors_and_strangers_change_nothing(site, client, ids, engine, document, write, who,
                                                             status):
    method, path, body, documented_path = _writes(ids)[write]
    headers = ({} if who is None else {"Authorization": "Bearer gs_nietgeldig"} if who == "bogus"
               else auth(site, who))
    before = state(engine)
    response = getattr(client, method)(path, headers=headers, json=body)
    assert response.status_code == status
    check(document, documented_path, method, response)
    assert response.get_json()["description"]  # Dutch reason in the one error shape
    if status == 401:
        assert response.headers["WWW-Authenticate"].startswith("Bearer")
    assert state(engine) == before


def test_an_area_of_another_partner_cannot_be_removed_through_ones_own(site, client, ids, engine):
    before = state(engine)
    response = client.delete(f"/api/v1/partners/{ids['baarn']}/service-areas/{ids['utrecht_area']}",
                             headers=auth(site, "editor"))
    assert response.status_code == 404
    assert state(engine) == before


def test_an_admin_may_write_for_every_partner(site, client, ids):
    response = client.patch(f"/api/v1/partners/{ids['utrecht']}", headers=auth(site, "admin"),
                            json={"description": "Door de beheerder aangevuld."})
    assert response.status_code == 200 and response.get_json()["description"] == "Door de beheerder aangevuld."
    added = client.post(f"/api/v1/partners/{ids['utrecht']}/service-areas", headers=auth(site, "admin"),
                        json={"name": "Beheerdersgebied", "codes": ["WK030801"]})
    assert added.status_code == 201
    assert client.delete(f"/api/v1/partners/{ids['utrecht']}/service-areas/{added.get_json()['id']}",
                         headers=auth(site, "admin")).status_code == 204


@pytest.mark.parametrize("path", ["/api/v1/partners/999999", f"/api/v1/partners/{2**31 + 1}",
                                  "/api/v1/partners/99999999999999999999"])
def test_unknown_partners_are_404_for_an_admin(site, client, path):
    response = client.patch(path, headers=auth(site, "admin"), json={"name": "Niemand"})
    assert response.status_code == 404 and response.get_json()["code"] == "NotFound"
    response = client.delete(f"{path}/service-areas/1", headers=auth(site, "admin"))
    assert response.status_code == 404


def test_writes_are_limited_per_user(site, client, ids, engine, document):
    limiter = site[0].extensions[ratelimit.EXTENSION]
    for _ in range(WRITES.limit):
        limiter.hit(f"{WRITES.name}:user:{ids['editor']}", WRITES.limit, WRITES.window_s)
    before = state(engine)
    response = client.patch(f"/api/v1/partners/{ids['baarn']}", headers=auth(site, "editor"),
                            json={"phone": "035 765 43 21"})
    assert response.status_code == 429 and int(response.headers["Retry-After"]) >= 1
    check(document, PARTNER, "patch", response)
    assert state(engine) == before
    # another user has their own budget
    assert client.patch(f"/api/v1/partners/{ids['utrecht']}", headers=auth(site, "other_editor"),
                        json={"phone": "030 765 43 21"}).status_code == 200


@pytest.mark.parametrize("raw", [
    '{"name": "Groot", "point": {"lat": 1' + "0" * 400 + ', "lon": 5.3}, "radius_m": 500}',
    '{"name": "Groot", "geojson": {"type": "Polygon", "coordinates": [[[1' + "0" * 400
    + ', 52.2], [5.3, 52.2], [5.3, 52.3], [5.2, 52.2]]]}}',
    "[" * 100_000 + "]" * 100_000,
    '{"name": "Half',
])
def test_odd_bodies_are_400_not_500(site, client, ids, engine, raw):
    before = state(engine)
    response = client.post(f"/api/v1/partners/{ids['baarn']}/service-areas", headers=auth(site, "editor"),
                           data=raw, content_type="application/json")
    assert response.status_code == 400 and response.get_json()["code"] == "InvalidParameterValue"
    assert state(engine) == before
