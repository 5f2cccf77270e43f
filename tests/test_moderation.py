"""Moderation (geoservice.registry.moderation and `/beheer`): actions and their audit, duplicates, stale list, roles."""

from __future__ import annotations

import datetime as dt
import os
import re
import uuid
from html import unescape
from urllib.parse import urlsplit

import pytest
from sqlalchemy import text
from sqlalchemy.orm import Session

from geoservice import accounts, db
from geoservice.config import Settings
from geoservice.errors import InvalidParameter, NotFound
from geoservice.geocode import Geocoder
from geoservice.registry import moderation, submissions
from geoservice.registry.moderation import InvalidTransition, months_before

from .helpers import add_partner, csrf_of, csrf_token, make_initiative

PASSWORD = "een lang genoeg wachtwoord"
BAARN = (5.2878, 52.2165)
CONTACT = {"name": "Privé Persoon", "email": "prive.persoon@aanmelder.example", "phone": "0612345678"}


@pytest.fixture(scope="module")
def db_url(pg_server, template_db):
    """A database with a moderator and a partner editor."""
    name = f"geoservice_test_moderation_{os.getpid()}"
    url = pg_server.create(name, template=template_db)
    engine = db.make_engine(url)
    with Session(engine) as session, session.begin():
        partner_id = add_partner(session, "Partner van de redacteur")
        accounts.create_user(session, "mod@example.nl", role="moderator", password=PASSWORD)
        accounts.create_user(session, "redactie@example.nl", role="partner_editor", password=PASSWORD,
                             partner_id=partner_id)
    engine.dispose()
    yield url
    pg_server.drop(name)


@pytest.fixture
def session(db_url):
    engine = db.make_engine(db_url)
    with Session(engine) as s:
        yield s
        s.rollback()
    engine.dispose()


@pytest.fixture
def moderator(session):
    return accounts.get_user(session, "mod@example.nl")


def at_offset(session, dx: float, dy: float, base=BAARN) -> tuple[float, float]:
    """(lon, lat) of the point dx, dy metres (RD New) from `base`."""
    row = session.execute(text("""
        SELECT ST_X(p), ST_Y(p) FROM (SELECT ST_Transform(ST_Translate(
            ST_Transform(ST_SetSRID(ST_MakePoint(:lon, :lat), 4326), 28992), :dx, :dy), 4326) AS p) s
    """), {"lon": base[0], "lat": base[1], "dx": dx, "dy": dy}).one()
    return row[0], row[1]


def submit(session, name: str, lon: float = BAARN[0], lat: float = BAARN[1], **fields) -> int:
    data = {"name": name, "kind": "bewonersinitiatief", "lat": str(lat), "lon": str(lon), **fields}
    return submissions.submit(session, data, CONTACT, "client")


def unique(name: str) -> str:
    return f"{name} {uuid.uuid4().hex[:6]}"


def audit(session, initiative_id: int) -> list[dict]:
    return accounts.history(session, "initiative", initiative_id)


# --- actions -------------------------------------------------------------------------------------------------

def test_publish_makes_it_public_and_verified_today_with_an_audit_entry(session, moderator):
    new_id = submit(session, unique("Voedseltuin"))
    item, changes = moderation.publish(session, new_id, moderator)
    today = dt.date.today()
    assert item["status"] == "published" and item["last_verified"] == today
    assert changes == {"status": ["pending", "published"], "last_verified": [None, today.isoformat()]}
    entries = audit(session, new_id)
    assert [e["action"] for e in entries] == ["submit", "publish"]
    assert entries[-1]["actor"] == "mod@example.nl" and entries[-1]["user_id"] == moderator.id
    assert entries[-1]["changes"] == changes


def test_reject_needs_a_reason_and_keeps_it(session, moderator):
    new_id = submit(session, unique("Twijfelgeval"))
    for reason in (None, "", "   "):
        with pytest.raises(InvalidParameter, match="Geef een reden"):
            moderation.reject(session, new_id, moderator, reason)
    assert moderation.get(session, new_id)["status"] == "pending" and len(audit(session, new_id)) == 1
    item, changes = moderation.reject(session, new_id, moderator, "  Bestaat al als 'Moestuin Noord'. ")
    assert item["status"] == "rejected" and changes == {"status": ["pending", "rejected"]}
    entry = audit(session, new_id)[-1]
    assert entry["action"] == "reject" and entry["reason"] == "Bestaat al als 'Moestuin Noord'."


@pytest.mark.parametrize("status, action, allowed", [
    ("pending", "publish", True), ("pending", "reject", True), ("pending", "archive", False),
    ("pending", "verify", False),
    ("published", "publish", False), ("published", "reject", False), ("published", "archive", True),
    ("published", "verify", True),
    ("archived", "publish", True), ("archived", "reject", False), ("archived", "archive", False),
    ("archived", "verify", False),
    ("rejected", "publish", False), ("rejected", "reject", False), ("rejected", "archive", False),
    ("rejected", "verify", False),
])
def test_which_actions_fit_which_status(session, moderator, status, action, allowed):
    new_id = make_initiative(session, name=unique("Statustest"), status=status)
    before = len(audit(session, new_id))
    if allowed:
        _item, _changes = moderation.apply(session, action, new_id, moderator, reason="reden")
        assert len(audit(session, new_id)) == before + 1
    else:
        with pytest.raises(InvalidTransition) as caught:
            moderation.apply(session, action, new_id, moderator, reason="reden")
        assert caught.value.status == 409 and f"Initiatief {new_id} is" in caught.value.description
        assert moderation.get(session, new_id)["status"] == status and len(audit(session, new_id)) == before


def test_unknown_initiatives_are_not_found(session, moderator):
    for action in moderation.ACTIONS:
        with pytest.raises(NotFound):
            moderation.apply(session, action, 2**31 + 5, moderator, reason="x")
    with pytest.raises(NotFound):
        moderation.edit(session, 987654, moderator, {"name": "x"})
    with pytest.raises(NotFound):
        moderation.history(session, 987654)


def test_edit_changes_fields_moves_the_point_and_derives_its_areas_again(session, moderator):
    data = {"name": unique("Buurtkamer"), "kind": "bewonersinitiatief", "themes": ["ontmoeting"], "postcode": "3741"}
    new_id = submissions.submit(session, data, CONTACT, None, geocoder=Geocoder(Settings(geocoder="offline")))
    before = moderation.get(session, new_id)
    assert before["location_precision"] == "postcode"
    amsterdam = (4.9003, 52.3728)  # Dam, Amsterdam
    item, changes = moderation.edit(session, new_id, moderator, {
        "name": "Buurtkamer De Dam", "themes": ["Ouderen", "ontmoeting"], "website": "",
        "lat": f"{amsterdam[1]}", "lon": f"{amsterdam[0]}"})
    expected = session.execute(text("""
        SELECT b.code, b.wijkcode, b.gemeentecode FROM buurt b JOIN cbs_jaar j ON j.jaar = b.jaar AND j.is_active
        WHERE ST_Intersects(b.geom, ST_Transform(ST_SetSRID(ST_MakePoint(:lon, :lat), 4326), 28992))
        ORDER BY b.code LIMIT 1"""), {"lon": amsterdam[0], "lat": amsterdam[1]}).one()
    assert (item["buurtcode"], item["wijkcode"], item["gemeentecode"]) == tuple(expected)
    assert item["gemeentecode"] != before["gemeentecode"]
    assert item["name"] == "Buurtkamer De Dam" and item["themes"] == ["ontmoeting", "ouderen"]
    assert (item["lon"], item["lat"]) == pytest.approx(amsterdam, abs=1e-6)
    assert changes["name"] == [before["name"], "Buurtkamer De Dam"]
    assert changes["themes"] == [["ontmoeting"], ["ontmoeting", "ouderen"]]
    assert changes["location"] == [{"lat": round(before["lat"], 6), "lon": round(before["lon"], 6)},
                                   {"lat": amsterdam[1], "lon": amsterdam[0]}]
    assert changes["gemeentecode"] == [before["gemeentecode"], expected[2]]
    assert changes["location_precision"] == ["postcode", "manual"] and item["location_precision"] == "manual"
    assert "website" not in changes  # was empty, stays empty
    entry = audit(session, new_id)[-1]
    assert entry["action"] == "edit" and entry["actor"] == "mod@example.nl" and entry["changes"] == changes


def test_an_edit_that_changes_nothing_writes_nothing(session, moderator):
    new_id = submit(session, unique("Repaircafé"))
    item = moderation.get(session, new_id)
    same = {"name": item["name"], "kind": item["kind"], "lat": f"{item['lat']:.6f}", "lon": f"{item['lon']:.6f}"}
    assert moderation.edit(session, new_id, moderator, same)[1] == {}
    assert [e["action"] for e in audit(session, new_id)] == ["submit"]


@pytest.mark.parametrize("raw, field", [
    ({"name": ""}, "name"),
    ({"status": "published"}, "status"),
    ({"last_verified": "2020-01-01"}, "last_verified"),
    ({"lat": "52.1"}, "lat"),
    ({"lat": "", "lon": ""}, "lat"),
    ({"email": "niet-goed"}, "email"),
    ({"kind": "onbekend"}, "kind"),
])
def test_a_wrong_edit_changes_nothing(session, moderator, raw, field):
    new_id = submit(session, unique("Speeltuin"))
    before = moderation.get(session, new_id)
    with pytest.raises(submissions.SubmissionInvalid) as caught:
        moderation.edit(session, new_id, moderator, raw)
    assert field in caught.value.problems
    assert moderation.get(session, new_id) == before and len(audit(session, new_id)) == 1


# --- duplicates ----------------------------------------------------------------------------------------------

def test_duplicates_same_name_nearby_or_similar_name_very_close(session, moderator):
    base = at_offset(session, 20_000, 0)  # away from the other tests' initiatives
    same_far = make_initiative(session, lon=at_offset(session, 300, 0, base)[0],
                               lat=at_offset(session, 300, 0, base)[1], name="Repair Cafe Eemland")
    similar_close = make_initiative(session, lon=at_offset(session, 0, 30, base)[0],
                                    lat=at_offset(session, 0, 30, base)[1], name="Buurthuis De Brug")
    make_initiative(session, lon=at_offset(session, -30, 0, base)[0], lat=at_offset(session, -30, 0, base)[1],
                    name="Voedselbank Eemland")  # a different name, 30 m away
    make_initiative(session, lon=at_offset(session, 1_200, 0, base)[0], lat=at_offset(session, 1_200, 0, base)[1],
                    name="Repair Café Eemland")  # the same name, but 1.2 km away
    make_initiative(session, lon=at_offset(session, 0, -40, base)[0], lat=at_offset(session, 0, -40, base)[1],
                    name="Buurthuis De Brink", status="archived")  # archived ones do not count
    pending_same = submit(session, "Repair Café Eemland", *base)
    pending_similar = submit(session, "Buurthuis De Brink", *at_offset(session, 0, 5, base))

    _, items = moderation.pending(session, limit=1000)
    flags = {item["id"]: item["duplicates"] for item in items}
    same = {d["id"]: d for d in flags[pending_same]}
    assert same[same_far]["reason"] == "same_name" and same[same_far]["distance_m"] == pytest.approx(300, abs=0.5)
    assert set(same) == {same_far}
    similar = {d["id"]: d for d in flags[pending_similar]}
    assert similar[similar_close]["reason"] == "similar_name"
    assert similar[similar_close]["distance_m"] == pytest.approx(25, abs=0.5)
    assert set(similar) == {similar_close}
    # the two pending ones are 5 m apart with different names: no flag between them
    assert pending_similar not in same and pending_same not in similar


@pytest.mark.parametrize("name, other, distance, reason", [
    ("Repair Café Baarn", "repaircafe baarn", 999, "same_name"),
    ("Repair Café Baarn", "Repair Cafe Baarn", 1001, None),
    ("Buurthuis De Brink", "Buurthuis De Brug", 50, "similar_name"),
    ("Buurthuis De Brink", "Buurthuis De Brug", 51, None),
    ("Taalcafé Baarn", "Tafeltennis Baarn", 10, None),
    ("Voedselbank Baarn", "Buurtmoestuin De Wilg", 1, None),
])
def test_duplicate_rule(name, other, distance, reason):
    assert moderation.duplicate_reason(name, other, distance) == reason


# --- stale ---------------------------------------------------------------------------------------------------

def test_stale_list_and_verify(session, moderator):
    today = dt.date.today()
    cutoff = months_before(today, 12)
    ids = {
        "never": make_initiative(session, name=unique("Nooit gecontroleerd")),
        "old": make_initiative(session, name=unique("Lang geleden"), last_verified=cutoff - dt.timedelta(days=1)),
        "edge": make_initiative(session, name=unique("Precies een jaar"), last_verified=cutoff),
        "recent": make_initiative(session, name=unique("Vorige maand"), last_verified=today - dt.timedelta(days=30)),
        "pending": make_initiative(session, name=unique("Nog niet gepubliceerd"), status="pending"),
        "archived": make_initiative(session, name=unique("Gestopt"), status="archived"),
    }
    matched, items = moderation.stale(session, limit=1000)
    listed = [item["id"] for item in items]
    assert ids["never"] in listed and ids["old"] in listed
    assert not {ids["edge"], ids["recent"], ids["pending"], ids["archived"]} & set(listed)
    assert listed.index(ids["never"]) < listed.index(ids["old"])  # never verified first
    assert matched == len(listed)
    item, changes = moderation.verify(session, ids["old"], moderator)
    assert item["last_verified"] == today
    assert changes == {"last_verified": [(cutoff - dt.timedelta(days=1)).isoformat(), today.isoformat()]}
    assert ids["old"] not in [i["id"] for i in moderation.stale(session, limit=1000)[1]]
    assert audit(session, ids["old"])[-1]["action"] == "verify"


@pytest.mark.parametrize("day, months, expected", [
    (dt.date(2026, 3, 10), 12, dt.date(2025, 3, 10)),
    (dt.date(2024, 2, 29), 12, dt.date(2023, 2, 28)),
    (dt.date(2026, 5, 31), 3, dt.date(2026, 2, 28)),
    (dt.date(2026, 1, 15), 1, dt.date(2025, 12, 15)),
])
def test_months_before(day, months, expected):
    assert months_before(day, months) == expected


# --- the pages -----------------------------------------------------------------------------------------------

@pytest.fixture
def web(db_url, app_for):
    return app_for(db_url, geocoder="offline").test_client()


def login(client, email="mod@example.nl"):
    response = client.post("/inloggen", data={"email": email, "password": PASSWORD, "csrf_token": csrf_token(client)})
    assert response.status_code == 303


def committed_pending(db_url, name: str, **fields) -> int:
    engine = db.make_engine(db_url)
    try:
        with Session(engine) as s:
            new_id = submit(s, name, **fields)
            s.commit()
            return new_id
    finally:
        engine.dispose()


def digest(db_url) -> str:
    engine = db.make_engine(db_url)
    try:
        with engine.connect() as conn:
            return conn.execute(text(
                "SELECT md5(string_agg(t::text, '|' ORDER BY t::text)) FROM (SELECT * FROM initiative) t")).scalar() \
                + conn.execute(text("SELECT count(*)::text FROM audit_log")).scalar()
    finally:
        engine.dispose()


def test_beheer_needs_a_moderator(web):
    response = web.get("/beheer")
    assert response.status_code == 302 and urlsplit(response.headers["Location"]).path == "/inloggen"
    login(web, "redactie@example.nl")  # a partner editor: sent on to their own partner, never the moderation
    assert urlsplit(web.get("/beheer").headers["Location"]).path == "/beheer/partner"
    assert web.get("/beheer/initiatief/1").status_code == 403


def test_beheer_lists_pending_with_flags_and_stale_with_a_button(web, db_url):
    name = unique("Buurtmoestuin Beheer")
    first = committed_pending(db_url, name)
    second = committed_pending(db_url, name)  # the same name, same place: a duplicate
    engine = db.make_engine(db_url)
    with engine.begin() as conn:
        stale_id = make_initiative(conn, name=unique("Oud initiatief"), last_verified=dt.date(2020, 1, 1))
    engine.dispose()
    login(web)
    response = web.get("/beheer")
    html = response.get_data(as_text=True)
    assert response.status_code == 200 and "no-store" in response.headers["Cache-Control"]
    assert f'href="/beheer/initiatief/{first}"' in html and f'href="/beheer/initiatief/{second}"' in html
    assert "Let op: zelfde naam" in html
    assert f'action="/beheer/initiatief/{stale_id}/gecontroleerd"' in html

    token = csrf_token(web, "/beheer")
    checked = web.post(f"/beheer/initiatief/{stale_id}/gecontroleerd", data={"csrf_token": token, "next": "/beheer"})
    assert checked.status_code == 303 and checked.headers["Location"] == "/beheer"
    after = web.get("/beheer").get_data(as_text=True)
    assert f'action="/beheer/initiatief/{stale_id}/gecontroleerd"' not in after
    assert "Gemarkeerd als gecontroleerd" in after


def test_the_initiative_page_shows_the_private_contact_the_actions_and_the_log(web, db_url):
    new_id = committed_pending(db_url, unique("Klussendienst"))
    login(web)
    html = web.get(f"/beheer/initiatief/{new_id}").get_data(as_text=True)
    assert CONTACT["email"] in html and CONTACT["phone"] in html and "Privé" in html
    for word in ("publiceren", "afwijzen"):
        assert f'action="/beheer/initiatief/{new_id}/{word}"' in html
    assert f'action="/beheer/initiatief/{new_id}/archiveren"' not in html  # not for a pending one
    assert "<td>aanmelder</td><td>Aangemeld</td>" in html

    token = csrf_token(web, f"/beheer/initiatief/{new_id}")
    before = digest(db_url)
    refused = web.post(f"/beheer/initiatief/{new_id}/afwijzen", data={"csrf_token": token, "reason": ""})
    assert refused.status_code == 400 and "Geef een reden" in refused.get_data(as_text=True)
    wrong = web.post(f"/beheer/initiatief/{new_id}/archiveren", data={"csrf_token": token})
    assert wrong.status_code == 409 and "kan daarom niet worden gearchiveerd" in wrong.get_data(as_text=True)
    assert web.post(f"/beheer/initiatief/{new_id}/publiceren").status_code == 400  # no CSRF token
    assert web.post(f"/beheer/initiatief/{new_id}/verwijderen", data={"csrf_token": token}).status_code == 404
    assert digest(db_url) == before

    published = web.post(f"/beheer/initiatief/{new_id}/publiceren", data={"csrf_token": token})
    assert published.status_code == 303 and published.headers["Location"] == f"/beheer/initiatief/{new_id}"
    page = web.get(f"/beheer/initiatief/{new_id}").get_data(as_text=True)
    assert "Gepubliceerd: het initiatief staat nu op de kaart." in page
    assert "<td>mod@example.nl</td><td>Gepubliceerd</td>" in page and "Status: In behandeling → Gepubliceerd" in page
    assert web.get(f"/api/v1/initiatives/{new_id}").status_code == 200
    public = web.get(f"/initiatief/{new_id}").get_data(as_text=True)
    assert not any(value in public for value in CONTACT.values())


def test_editing_on_the_page(web, db_url):
    new_id = committed_pending(db_url, unique("Wijkbus"))
    login(web)
    html = web.get(f"/beheer/initiatief/{new_id}").get_data(as_text=True)
    token = csrf_of(html)
    fields = {name: unescape_value(html, name) for name in ("name", "website", "email", "phone", "address",
                                                             "postcode", "lat", "lon")}
    fields.update(kind="overig", themes=["mobiliteit"], description="Rijdt op dinsdag.\r\nGratis.")
    before = digest(db_url)
    bad = web.post(f"/beheer/initiatief/{new_id}/bewerken", data={**fields, "email": "fout", "csrf_token": token})
    assert bad.status_code == 400 and "Niet opgeslagen" in bad.get_data(as_text=True)
    assert 'value="fout"' in bad.get_data(as_text=True) and digest(db_url) == before
    saved = web.post(f"/beheer/initiatief/{new_id}/bewerken", data={**fields, "csrf_token": token})
    assert saved.status_code == 303
    page = web.get(f"/beheer/initiatief/{new_id}").get_data(as_text=True)
    assert "Wijzigingen opgeslagen." in page and "Soort: Bewonersinitiatief → Overig" in page
    engine = db.make_engine(db_url)
    with Session(engine) as s:
        last = audit(s, new_id)[-1]
    engine.dispose()
    assert last["action"] == "edit" and last["actor"] == "mod@example.nl"
    assert set(last["changes"]) == {"kind", "themes", "description"}  # the point came back unchanged: no move
    again = web.post(f"/beheer/initiatief/{new_id}/bewerken", data={**fields, "csrf_token": token})
    assert again.status_code == 303 and "Er was niets veranderd." in web.get(f"/beheer/initiatief/{new_id}").get_data(
        as_text=True)


def unescape_value(html: str, name: str) -> str:
    match = re.search(rf'<input id="veld-{name}" name="{name}"[^>]*value="([^"]*)"', html)
    return unescape(match.group(1)) if match else ""


def test_a_partner_editor_cannot_moderate_on_the_pages(web, db_url):
    new_id = committed_pending(db_url, unique("Niet voor redacteuren"))
    login(web, "redactie@example.nl")
    token = csrf_token(web, "/inloggen")
    before = digest(db_url)
    for word in ("publiceren", "afwijzen", "archiveren", "gecontroleerd", "bewerken"):
        response = web.post(f"/beheer/initiatief/{new_id}/{word}", data={"csrf_token": token, "reason": "x",
                                                                         "name": "Overgenomen"})
        assert response.status_code == 403, word
    assert digest(db_url) == before


def test_publishing_archiving_and_moving_keep_the_gap_counts_fresh(session, moderator):
    from geoservice.analysis.gaps import GapParams, gap_units
    from geoservice.queries import gaps as gap_queries

    def counted() -> int:
        conn = session.connection()
        assert gap_queries.stored_counts_are_fresh(conn)  # the analysis reads the kept counts, not on the fly
        return sum(u["n_initiatives"] for u in gap_units(conn, GapParams(), gemeente="GM0308"))

    gap_queries.refresh_counts(session.connection())  # whatever earlier tests in this module left marked
    before = counted()
    new_id = submit(session, unique("Buurtmoestuin"))
    assert counted() == before  # pending: not counted
    moderation.publish(session, new_id, moderator)
    assert counted() == before + 1
    moderation.edit(session, new_id, moderator, {"lat": "52.3731", "lon": "4.8930"})  # moved to Amsterdam
    assert counted() == before
    moderation.edit(session, new_id, moderator, {"lat": str(BAARN[1]), "lon": str(BAARN[0])})  # and back
    assert counted() == before + 1
    moderation.archive(session, new_id, moderator)
    assert counted() == before
