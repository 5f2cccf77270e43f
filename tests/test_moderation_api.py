"""Submissions and moderation in the API: 201/400/429 for submissions, token roles (401/403, nothing changed),
actions and their audit log, and every answer checked against geoservice.api.openapi_moderation."""

from __future__ import annotations

import copy
import datetime as dt
import re
import uuid

import pytest
from openapi_schema_validator import OAS30Validator
from openapi_spec_validator import validate
from sqlalchemy import text

from geoservice import create_app, db
from geoservice.api import openapi_moderation
from geoservice.serving import ratelimit

from .conftest import settings_for
from .helpers import add_partner, add_users, csrf_of, make_initiative, seeded_database

PASSWORD = "een lang genoeg wachtwoord"
BAARN = {"lat": 52.2165, "lon": 5.2878}
CONTACT = {"name": "Geheime Aanmelder", "email": "geheim@aanmelder.example", "phone": "0687654321"}


@pytest.fixture(scope="module")
def api_db(pg_server, template_db):
    """(URL, tokens by role) of a database with a moderator, an admin and a partner editor."""

    def seed(session):
        editors_partner = add_partner(session, "Partner van de redacteur")
        return add_users(session, {"moderator": ("mod@example.nl", "moderator", None),
                                   "admin": ("admin@example.nl", "admin", None),
                                   "editor": ("redactie@example.nl", "partner_editor", editors_partner)},
                         password=PASSWORD)[1]

    with seeded_database(pg_server, template_db, "moderation_api", seed) as site:
        yield site


@pytest.fixture
def api(api_db, app_for):
    return app_for(api_db[0], geocoder="offline").test_client()


@pytest.fixture(scope="module")
def document(api_db):
    """The service's OpenAPI document with this module's paths and schemas merged in (per path and method)."""
    app = create_app(settings_for(api_db[0]))
    doc = copy.deepcopy(app.test_client().get("/api/v1/openapi.json").get_json())
    for path, operations in openapi_moderation.paths().items():
        doc["paths"].setdefault(path, {}).update(operations)
    doc["components"]["schemas"].update(openapi_moderation.schemas())
    doc["components"].setdefault("securitySchemes", {})["bearerAuth"] = {"type": "http", "scheme": "bearer"}
    return doc


def auth(tokens, role: str) -> dict:
    return {"Authorization": f"Bearer {tokens[role]}"}


def conforms(document, path: str, method: str, response) -> None:
    """The answer matches what the document promises for this path, method and status."""
    promised = document["paths"][path][method]["responses"][str(response.status_code)]
    schema = promised["content"]["application/json"]["schema"]
    errors = sorted(OAS30Validator({**schema, "components": document["components"]}).iter_errors(
        response.get_json()), key=str)
    assert not errors, (path, method, response.status_code, [e.message for e in errors[:3]])


def submission(name: str | None = None, **overrides) -> dict:
    body = {"name": f"Taalcafé {uuid.uuid4().hex[:8]}" if name is None else name, "kind": "Vrijwilligersgroep",
            "themes": ["werk_economie"], "description": "Nederlands oefenen.", "website": "https://taal.example",
            **BAARN, "contact": dict(CONTACT)}
    body.update(overrides)
    return body


def digest(url: str) -> str:
    """Every row of the tables moderation writes, to prove that nothing changed."""
    engine = db.make_engine(url)
    try:
        with engine.connect() as conn:
            return "|".join(conn.execute(text(
                f"SELECT count(*) || ':' || coalesce(md5(string_agg(t::text, '|' ORDER BY t::text)), '') "
                f"FROM {table} t")).scalar() for table in ("initiative", "submission_contact", "audit_log"))
    finally:
        engine.dispose()


def submitted(api, document, **overrides) -> int:
    response = api.post("/api/v1/submissions", json=submission(**overrides))
    assert response.status_code == 201, response.get_json()
    conforms(document, "/api/v1/submissions", "post", response)
    return response.get_json()["id"]


def test_the_merged_document_is_valid_and_covers_every_route(app_for, api_db, document):
    validate(document)
    app = app_for(api_db[0])
    rules = [r for r in app.url_map.iter_rules()
             if app.view_functions[r.endpoint].__module__ == "geoservice.api.moderation"]
    assert len(rules) == 9
    for rule in rules:
        path = re.sub(r"<(?:[a-z]+:)?([a-z_]+)>", r"{\1}", rule.rule)
        for method in rule.methods - {"HEAD", "OPTIONS"}:
            operation = document["paths"][path][method.lower()]
            declared = {p["name"] for p in operation.get("parameters", []) if p["in"] == "path"}
            assert declared == set(rule.arguments), path
            if rule.endpoint != "api.create_submission":
                assert operation["security"] == [{"bearerAuth": []}] and "401" in operation["responses"]
                assert "403" in operation["responses"]


def test_a_submission_is_received_pending_and_stays_private(api, api_db, document):
    _url, tokens = api_db
    response = api.post("/api/v1/submissions", json=submission(name="Taalcafé De Brug"))
    assert response.status_code == 201 and response.mimetype == "application/json"
    body = response.get_json()
    assert body["status"] == "pending" and isinstance(body["id"], int) and "moderator" in body["message"]
    conforms(document, "/api/v1/submissions", "post", response)
    assert api.get(f"/api/v1/initiatives/{body['id']}").status_code == 404
    assert api.get("/api/v1/initiatives?q=De Brug").get_json()["numberMatched"] == 0
    pending = api.get("/api/v1/moderation/pending?limit=1000", headers=auth(tokens, "moderator"))
    conforms(document, "/api/v1/moderation/pending", "get", pending)
    mine = next(i for i in pending.get_json()["initiatives"] if i["id"] == body["id"])
    assert mine["contact"]["email"] == CONTACT["email"] and mine["contact"]["phone"] == CONTACT["phone"]
    assert mine["status"] == "pending" and mine["kind"] == "vrijwilligersgroep" and mine["source"] == "aanmelding"


@pytest.mark.parametrize("kwargs, reason", [
    ({"data": {"name": "Formulier"}}, "Content-Type: application/json"),
    ({"json": ["geen", "object"]}, "geen geldig JSON-object"),
    ({"json": submission(status="published")}, "Onbekende velden: status"),
    ({"json": submission(contact={"email": "a@b.nl", "adres": "x"})}, "contact.adres"),
    ({"json": submission(lat="52.2165")}, "'lat' is een getal"),
    ({"json": submission(name="", kind="kerk")}, "Naam: is leeg"),
    ({"json": submission(contact={"name": "Alleen een naam"})}, "je e-mailadres of telefoonnummer"),
    ({"json": submission(lat=None, lon=None)}, "geef een adres of postcode"),
    ({"json": submission(lat=50.8466, lon=4.3528)}, "ligt niet in Nederland"),
])
def test_a_wrong_submission_is_400_with_its_reasons_and_stores_nothing(api, api_db, document, kwargs, reason):
    before = digest(api_db[0])
    response = api.post("/api/v1/submissions", **kwargs)
    assert response.status_code == 400 and sorted(response.get_json()) == ["code", "description"]
    assert reason in response.get_json()["description"]
    conforms(document, "/api/v1/submissions", "post", response)
    assert digest(api_db[0]) == before


def test_submissions_share_one_rate_limit_per_client_with_the_form(api, api_db, document):
    for _ in range(ratelimit.SUBMIT.limit - 1):
        assert api.post("/api/v1/submissions", json=submission()).status_code == 201
    page = api.get("/aanmelden").get_data(as_text=True)
    token = csrf_of(page)
    form = {"csrf_token": token, "name": "Via het formulier", "kind": "overig", "lat": "52.2165", "lon": "5.2878",
            "contact_email": "form@aanmelder.example"}
    assert api.post("/aanmelden", data=form).status_code == 303
    before = digest(api_db[0])
    blocked = api.post("/api/v1/submissions", json=submission())
    assert blocked.status_code == 429 and blocked.get_json()["code"] == "TooManyRequests"
    assert 0 < int(blocked.headers["Retry-After"]) <= ratelimit.SUBMIT.window_s
    conforms(document, "/api/v1/submissions", "post", blocked)
    assert digest(api_db[0]) == before


def test_publish_makes_it_public_without_the_private_contact(api, api_db, document):
    _url, tokens = api_db
    new_id = submitted(api, document, name=f"Samen Koken {uuid.uuid4().hex[:6]}")
    response = api.post(f"/api/v1/initiatives/{new_id}/publish", headers=auth(tokens, "moderator"))
    assert response.status_code == 200
    conforms(document, "/api/v1/initiatives/{initiative_id}/publish", "post", response)
    result = response.get_json()
    assert result["initiative"]["status"] == "published"
    assert result["changes"] == {"status": ["pending", "published"],
                                 "last_verified": [None, dt.date.today().isoformat()]}
    public = api.get(f"/api/v1/initiatives/{new_id}")
    assert public.status_code == 200 and "contact" not in public.get_json()["properties"]
    listed = api.get(f"/api/v1/initiatives?q={result['initiative']['name']}").get_json()
    assert [f["id"] for f in listed["features"]] == [new_id]
    for answer in (public, api.get(f"/api/v1/initiatives?q={result['initiative']['name']}&format=csv"),
                   api.get(f"/ogc/collections/initiatives/items/{new_id}")):
        assert not any(value in answer.get_data(as_text=True) for value in CONTACT.values())
    again = api.post(f"/api/v1/initiatives/{new_id}/publish", headers=auth(tokens, "moderator"))
    assert again.status_code == 409 and again.get_json()["code"] == "Conflict"
    conforms(document, "/api/v1/initiatives/{initiative_id}/publish", "post", again)


def test_reject_needs_a_reason(api, api_db, document):
    url, tokens = api_db
    new_id = submitted(api, document)
    path = f"/api/v1/initiatives/{new_id}/reject"
    before = digest(url)
    for kwargs in ({}, {"json": {}}, {"json": {"reason": "  "}}, {"json": {"reason": 42}}):
        response = api.post(path, headers=auth(tokens, "moderator"), **kwargs)
        assert response.status_code == 400, kwargs
        conforms(document, "/api/v1/initiatives/{initiative_id}/reject", "post", response)
    assert digest(url) == before
    rejected = api.post(path, headers=auth(tokens, "moderator"), json={"reason": "Geen initiatief maar een bedrijf."})
    assert rejected.status_code == 200 and rejected.get_json()["initiative"]["status"] == "rejected"
    conforms(document, "/api/v1/initiatives/{initiative_id}/reject", "post", rejected)
    audit = api.get(f"/api/v1/initiatives/{new_id}/audit", headers=auth(tokens, "moderator"))
    conforms(document, "/api/v1/initiatives/{initiative_id}/audit", "get", audit)
    last = audit.get_json()["entries"][-1]
    assert (last["action"], last["actor"], last["reason"]) == (
        "reject", "mod@example.nl", "Geen initiatief maar een bedrijf.")
    assert api.post(f"/api/v1/initiatives/{new_id}/publish", headers=auth(tokens, "admin")).status_code == 409


def test_archive_verify_edit_and_the_audit_log(api, api_db, document):
    _url, tokens = api_db
    headers = auth(tokens, "moderator")
    new_id = submitted(api, document)
    assert api.post(f"/api/v1/initiatives/{new_id}/verify", headers=headers).status_code == 409  # pending
    assert api.post(f"/api/v1/initiatives/{new_id}/archive", headers=headers).status_code == 409  # pending
    assert api.post(f"/api/v1/initiatives/{new_id}/publish", headers=headers).status_code == 200

    edited = api.patch(f"/api/v1/initiatives/{new_id}", headers=headers,
                       json={"name": "Taalcafé Centrum", "themes": "Werk en economie; Cultuur", "phone": None,
                             "lat": 52.2110, "lon": 5.2790})
    assert edited.status_code == 200
    conforms(document, "/api/v1/initiatives/{initiative_id}", "patch", edited)
    changes = edited.get_json()["changes"]
    assert changes["name"][1] == "Taalcafé Centrum" and changes["themes"] == [["werk_economie"],
                                                                             ["cultuur", "werk_economie"]]
    assert changes["location"][1] == {"lat": 52.211, "lon": 5.279} and "phone" not in changes
    lookup = api.get("/api/v1/areas/lookup?lat=52.2110&lon=5.2790").get_json()
    assert edited.get_json()["initiative"]["buurtcode"] == lookup["buurt"]["code"]
    for body, reason in (({}, "minstens één veld"), ({"status": "archived"}, "status"), ({"lat": 52.1}, "lat én lon"),
                         ({"lat": "52.1", "lon": "5.1"}, "is een getal")):
        wrong = api.patch(f"/api/v1/initiatives/{new_id}", headers=headers, json=body)
        assert wrong.status_code == 400 and reason in wrong.get_json()["description"], body
        conforms(document, "/api/v1/initiatives/{initiative_id}", "patch", wrong)

    archived = api.post(f"/api/v1/initiatives/{new_id}/archive", headers=headers)
    assert archived.status_code == 200 and api.get(f"/api/v1/initiatives/{new_id}").status_code == 404
    republished = api.post(f"/api/v1/initiatives/{new_id}/publish", headers=headers)
    assert republished.status_code == 200
    verified = api.post(f"/api/v1/initiatives/{new_id}/verify", headers=headers)
    assert verified.status_code == 200 and verified.get_json()["changes"] == {}  # already verified today

    audit = api.get(f"/api/v1/initiatives/{new_id}/audit", headers=headers).get_json()
    assert [e["action"] for e in audit["entries"]] == ["submit", "publish", "edit", "archive", "publish", "verify"]
    assert [e["actor"] for e in audit["entries"]] == ["aanmelder"] + ["mod@example.nl"] * 5
    assert audit["entries"][2]["changes"] == changes
    assert not any(value in str(audit) for value in CONTACT.values())


def test_unknown_initiatives_are_404(api, api_db, document):
    headers = auth(api_db[1], "moderator")
    for action in ("publish", "archive", "verify"):
        response = api.post(f"/api/v1/initiatives/999999/{action}", headers=headers)
        assert response.status_code == 404
        conforms(document, f"/api/v1/initiatives/{{initiative_id}}/{action}", "post", response)
    assert api.post("/api/v1/initiatives/999999/reject", headers=headers, json={"reason": "x"}).status_code == 404
    assert api.patch("/api/v1/initiatives/999999", headers=headers, json={"name": "x"}).status_code == 404
    assert api.get("/api/v1/initiatives/999999/audit", headers=headers).status_code == 404


def test_stale_list(api, api_db, document):
    url, tokens = api_db
    engine = db.make_engine(url)
    with engine.begin() as conn:
        old = make_initiative(conn, name=f"Oud {uuid.uuid4().hex[:6]}", last_verified=dt.date(2019, 5, 1))
    engine.dispose()
    response = api.get("/api/v1/moderation/stale?limit=1000", headers=auth(tokens, "moderator"))
    conforms(document, "/api/v1/moderation/stale", "get", response)
    body = response.get_json()
    assert old in [i["id"] for i in body["initiatives"]] and body["numberMatched"] >= 1
    assert all("contact" not in i for i in body["initiatives"])
    assert api.post(f"/api/v1/initiatives/{old}/verify", headers=auth(tokens, "moderator")).status_code == 200
    after = api.get("/api/v1/moderation/stale?limit=1000", headers=auth(tokens, "moderator")).get_json()
    assert old not in [i["id"] for i in after["initiatives"]]
    bad = api.get("/api/v1/moderation/stale?limit=0", headers=auth(tokens, "moderator"))
    assert bad.status_code == 400
    conforms(document, "/api/v1/moderation/stale", "get", bad)


def _calls(initiative_id: int):
    """Every moderator endpoint: (documented path, method, URL, JSON body)."""
    base = f"/api/v1/initiatives/{initiative_id}"
    return [
        ("/api/v1/moderation/pending", "get", "/api/v1/moderation/pending", None),
        ("/api/v1/moderation/stale", "get", "/api/v1/moderation/stale", None),
        ("/api/v1/initiatives/{initiative_id}/publish", "post", f"{base}/publish", None),
        ("/api/v1/initiatives/{initiative_id}/reject", "post", f"{base}/reject", {"reason": "weg ermee"}),
        ("/api/v1/initiatives/{initiative_id}/archive", "post", f"{base}/archive", None),
        ("/api/v1/initiatives/{initiative_id}/verify", "post", f"{base}/verify", None),
        ("/api/v1/initiatives/{initiative_id}", "patch", base, {"name": "Overgenomen"}),
        ("/api/v1/initiatives/{initiative_id}/audit", "get", f"{base}/audit", None),
    ]


@pytest.mark.parametrize("who", ["nobody", "wrong-token", "login-only", "editor"])
def test_anonymous_and_partner_editors_change_nothing(api, api_db, document, who):
    url, tokens = api_db
    pending_id = submitted(api, document)
    engine = db.make_engine(url)
    with engine.begin() as conn:
        published_id = make_initiative(conn, name="Gepubliceerd doelwit")
    engine.dispose()
    headers = {"nobody": {}, "wrong-token": {"Authorization": "Bearer gs_geen-echt-token"},
               "login-only": {"Cookie": "session=vervalst"}, "editor": auth(tokens, "editor")}[who]
    expected = 403 if who == "editor" else 401
    before = digest(url)
    for target in (pending_id, published_id):
        for path, method, call, body in _calls(target):
            response = api.open(call, method=method.upper(), headers=headers, json=body)
            assert response.status_code == expected, (who, call, method)
            assert sorted(response.get_json()) == ["code", "description"]
            if expected == 401:
                assert response.headers["WWW-Authenticate"].startswith("Bearer")
            conforms(document, path, method, response)
            body_text = response.get_data(as_text=True)
            assert not any(value in body_text for value in CONTACT.values())
    assert digest(url) == before
