"""geoservice.partners.editing: profile and service areas of one's own partner, validated as the import does.

Each test runs in a session that is rolled back at the end, on a module database with two partners
(Baarn, Utrecht), their editors, a moderator and an admin. "Nothing changed" is checked with a digest
of the partner, service_area and audit_log tables before and after.
"""

from __future__ import annotations

import json
import math
import re

import pytest
from sqlalchemy import text
from sqlalchemy.orm import Session

from geoservice import accounts, db
from geoservice.analysis.gaps import gap_units, make_params
from geoservice.errors import Forbidden, NotFound
from geoservice.models import User
from geoservice.partners.editing import (EditRefused, add_service_area, remove_service_area, single_geojson,
                                        update_profile)
from geoservice.partners.validation import validate_area, validate_partner
from geoservice.queries.gaps import stored_coverage_is_fresh

from .helpers import seed_partner_editing, seeded_database

PASSWORD = "een lang genoeg wachtwoord"
DIGEST_TABLES = ("partner", "service_area", "audit_log")
BAARN_POINT = {"lat": 52.2165, "lon": 5.2878}
ZANDVOORT = "BU03080003"  # a buurt of Baarn that no test area covers beforehand
# Self-intersecting: the edges (5.28,52.21)-(5.30,52.22) and (5.30,52.21)-(5.28,52.22) cross in the middle.
BOWTIE = {"type": "Polygon", "coordinates": [[[5.28, 52.21], [5.30, 52.22], [5.30, 52.21], [5.28, 52.22],
                                               [5.28, 52.21]]]}
SQUARE = {"type": "Polygon", "coordinates": [[[5.27, 52.20], [5.29, 52.20], [5.29, 52.215], [5.27, 52.215],
                                               [5.27, 52.20]]]}
PARIS = {"type": "Polygon", "coordinates": [[[2.33, 48.85], [2.36, 48.85], [2.36, 48.87], [2.33, 48.85]]]}


def digest(conn) -> dict[str, str]:
    """Row count and md5 of every row of the partner, service_area and audit_log tables."""
    return {table: conn.execute(text(
        f"SELECT count(*) || ':' || coalesce(md5(string_agg(t::text, '|' ORDER BY t::text)), '') FROM {table} t"
    )).scalar() for table in DIGEST_TABLES}


def cbs_union_area(conn, codes: list[str]) -> float:
    """m² of the union of these CBS areas (any level) of 2024, computed here independently of the service."""
    return conn.execute(text("""
        SELECT ST_Area(ST_Union(geom)) FROM (
            SELECT geom FROM gemeente WHERE jaar = 2024 AND code = ANY(:codes)
            UNION ALL SELECT geom FROM wijk WHERE jaar = 2024 AND code = ANY(:codes)
            UNION ALL SELECT geom FROM buurt WHERE jaar = 2024 AND code = ANY(:codes)) AS parts"""),
        {"codes": codes}).scalar()


def symmetric_difference_with_codes(conn, area_id: int, codes: list[str]) -> float:
    return conn.execute(text("""
        SELECT ST_Area(ST_SymDifference(sa.geom, u.geom)) FROM service_area AS sa, (
            SELECT ST_Union(geom) AS geom FROM (
                SELECT geom FROM gemeente WHERE jaar = 2024 AND code = ANY(:codes)
                UNION ALL SELECT geom FROM wijk WHERE jaar = 2024 AND code = ANY(:codes)
                UNION ALL SELECT geom FROM buurt WHERE jaar = 2024 AND code = ANY(:codes)) AS parts) AS u
        WHERE sa.id = :id"""), {"codes": codes, "id": area_id}).scalar()


def stored(conn, area_id: int) -> dict | None:
    row = conn.execute(text(
        "SELECT partner_id, name, definition_type, definition, cbs_jaar, ST_Area(geom) AS area_m2, "
        "ST_IsValid(geom) AS valid, GeometryType(geom) AS kind FROM service_area WHERE id = :id"),
        {"id": area_id}).first()
    return None if row is None else dict(row._mapping)


def coverage_of(conn, code: str, gemeente: str = "GM0308") -> float:
    units = gap_units(conn, make_params(), gemeente=gemeente)
    return next(u["coverage"] for u in units if u["code"] == code)


@pytest.fixture(scope="module")
def domain_db(pg_server, template_db):
    """(url, ids): partners baarn and utrecht (with one area), and users per role."""
    with seeded_database(pg_server, template_db, "partner_editing",
                         lambda session: seed_partner_editing(session, password=PASSWORD)[0]) as site:
        yield site


@pytest.fixture
def session(domain_db):
    engine = db.make_engine(domain_db[0])
    with Session(engine) as session:
        yield session
        session.rollback()
    engine.dispose()


@pytest.fixture
def ids(domain_db):
    return domain_db[1]


def user(session, ids, key) -> User:
    return session.get(User, ids[key])


# --- service areas: the three definitions ----------------------------------------------------------

@pytest.mark.parametrize("codes", [
    ["GM0308", "WK030801", "BU03080003"],  # levels mixed, the example of the issue
    ["WK030801", "BU03080003"],  # a wijk and a buurt of another wijk: two pieces
    ["bu03080003"],  # any case
    ["GM0344", "BU03080003"],  # two gemeenten
])
def test_codes_make_the_union_of_exactly_those_areas(session, ids, codes):
    added = add_service_area(session, ids["baarn"], {"name": "Gekozen gebieden", "codes": codes},
                             user(session, ids, "editor"))
    conn = session.connection()
    area = stored(conn, added.id)
    wanted = sorted(c.upper() for c in codes)
    expected = cbs_union_area(conn, wanted)
    assert area["definition_type"] == "codes" and area["definition"] == {"codes": wanted}
    assert area["cbs_jaar"] == 2024 and area["partner_id"] == ids["baarn"] and area["kind"] == "MULTIPOLYGON"
    assert area["area_m2"] == pytest.approx(expected, rel=1e-9)
    assert symmetric_difference_with_codes(conn, added.id, wanted) < 1e-3 * expected
    assert added.repaired is None


@pytest.mark.parametrize("radius_m", [250, 1500, "2000", 100_000])
def test_point_and_radius_make_a_circle(session, ids, radius_m):
    added = add_service_area(session, ids["baarn"], {"name": "Rond het kantoor", "point": BAARN_POINT,
                                                     "radius_m": radius_m}, user(session, ids, "editor"))
    conn = session.connection()
    area = stored(conn, added.id)
    r = float(radius_m)
    assert area["definition_type"] == "radius" and area["cbs_jaar"] is None
    assert area["area_m2"] == pytest.approx(math.pi * r * r, rel=0.01)
    distance = conn.execute(text(
        "SELECT ST_Distance(ST_Centroid(geom), ST_Transform(ST_SetSRID(ST_MakePoint(:lon, :lat), 4326), 28992)) "
        "FROM service_area WHERE id = :id"), {**BAARN_POINT, "id": added.id}).scalar()
    assert distance < r * 0.01  # centred on the point


def test_a_geojson_polygon_is_stored_as_given(session, ids):
    added = add_service_area(session, ids["baarn"], {"name": "Getekend", "geojson": SQUARE},
                             user(session, ids, "editor"))
    conn = session.connection()
    difference, size = conn.execute(text("""
        SELECT ST_Area(ST_SymDifference(sa.geom, g.geom)), ST_Area(g.geom)
        FROM service_area AS sa,
             (SELECT ST_Transform(ST_SetSRID(ST_GeomFromGeoJSON(:given), 4326), 28992) AS geom) AS g
        WHERE sa.id = :id"""), {"given": json.dumps(SQUARE), "id": added.id}).one()
    assert difference < 1e-6 * size and added.repaired is None
    assert stored(conn, added.id)["definition"] == {"geojson": SQUARE}


def test_a_self_intersecting_bowtie_is_repaired_into_its_two_triangles(session, ids):
    editor = user(session, ids, "editor")
    added = add_service_area(session, ids["baarn"], {"name": "Vlinder", "geojson": BOWTIE}, editor)
    conn = session.connection()
    area = stored(conn, added.id)
    # The two triangles, computed from the corners and the crossing point, not by PostGIS' repair.
    triangles = conn.execute(text("""
        SELECT ST_Area(ST_Transform(ST_SetSRID(ST_GeomFromText(
            'MULTIPOLYGON(((5.28 52.21, 5.29 52.215, 5.28 52.22, 5.28 52.21)),
                          ((5.30 52.21, 5.30 52.22, 5.29 52.215, 5.30 52.21)))'), 4326), 28992))""")).scalar()
    assert area["valid"] and area["kind"] == "MULTIPOLYGON"
    assert area["area_m2"] == pytest.approx(triangles, rel=1e-3)
    assert added.repaired == "de rand snijdt zichzelf"
    entry = accounts.history(session, "service_area", added.id)[-1]
    assert "hersteld" in entry["reason"] and "snijdt zichzelf" in entry["reason"]


def test_a_feature_collection_of_one_feature_is_that_polygon(session, ids):
    collection = {"type": "FeatureCollection", "features": [{"type": "Feature", "properties": {}, "geometry": SQUARE}]}
    added = add_service_area(session, ids["baarn"], {"name": "Uit geojson.io", "geojson": collection},
                             user(session, ids, "editor"))
    assert stored(session.connection(), added.id)["definition"] == {"geojson": SQUARE}


# --- invalid input: the import's reasons, nothing stored -------------------------------------------

INVALID_AREAS = [
    ({"name": "", "codes": ["GM0308"]}, "naam nodig"),
    ({"name": "X", "codes": ["Baarn"]}, "geen CBS-code"),
    ({"name": "X", "codes": []}, "minstens één CBS-code"),
    ({"name": "X", "point": {"lat": 52.2, "lon": 5.3}, "radius_m": 0}, "tussen 1 en 100.000 meter"),
    ({"name": "X", "point": {"lat": 52.2, "lon": 5.3}, "radius_m": 100_001}, "tussen 1 en 100.000 meter"),
    ({"name": "X", "point": {"lat": 52.2, "lon": 5.3}}, "straal in meters nodig"),
    ({"name": "X", "point": {"lat": 5.3, "lon": 52.2}, "radius_m": 500}, "omgewisseld"),
    ({"name": "X", "point": {"lat": "noord", "lon": 5.3}, "radius_m": 500}, "geen getal"),
    ({"name": "X", "geojson": {"type": "Point", "coordinates": [5.3, 52.2]}}, "kan geen werkgebied zijn"),
    ({"name": "X", "geojson": {"type": "Polygon", "coordinates": [[[5.28, 52.21], [5.3, 52.22], [5.3, 52.21],
                                                                   [5.29, 52.2]]]}}, "niet gesloten"),
    ({"name": "X", "geojson": {"type": "Polygon", "coordinates": [[[155000, 463000], [156000, 463000],
                                                                   [156000, 464000], [155000, 463000]]]}},
     "geen lon/lat"),
    ({"name": "X", "codes": ["GM0308"], "point": BAARN_POINT, "radius_m": 100}, "precies één"),
    ({"name": "X"}, "precies één"),
    ({"name": "X", "codes": ["GM0308"], "kleur": "rood"}, "onbekend veld"),
]


@pytest.mark.parametrize("raw, reason", INVALID_AREAS)
def test_invalid_definitions_are_refused_with_the_import_reason(session, ids, raw, reason):
    conn = session.connection()
    before = digest(conn)
    with pytest.raises(EditRefused) as refused:
        add_service_area(session, ids["baarn"], raw, user(session, ids, "editor"))
    _area, problems = validate_area(raw)  # the import's own validation gives the same reasons
    assert refused.value.problems == problems
    assert reason in refused.value.description and refused.value.status == 400
    assert refused.value.description.startswith("Niet opgeslagen.")
    assert digest(conn) == before


@pytest.mark.parametrize("raw, reason", [
    ({"name": "X", "codes": ["GM9999", "BU03080003"]}, "onbekende code(s) in CBS-jaar 2024: GM9999"),
    ({"name": "X", "geojson": PARIS}, "ligt buiten Nederland"),
    ({"name": "X", "geojson": {"type": "Polygon", "coordinates": [[[5.28, 52.21], [5.29, 52.22], [5.28, 52.21],
                                                                   [5.28, 52.21]]]}}, "leeg"),  # there and back
    ({"name": "X", "geojson": {"type": "FeatureCollection", "features": [
        {"type": "Feature", "geometry": SQUARE}, {"type": "Feature", "geometry": BOWTIE}]}}, "2 vormen"),
    ({"name": "staatsliedenwijk ", "codes": ["GM0308"]}, "al een werkgebied met deze naam"),
])
def test_areas_the_database_refuses_change_nothing(session, ids, raw, reason):
    """Checks that need PostGIS or the stored areas; the same reasons as the import where it has them."""
    conn = session.connection()
    before = digest(conn)
    with pytest.raises(EditRefused, match=r"Niet opgeslagen\..*" + re.escape(reason)):
        add_service_area(session, ids["utrecht"], raw, user(session, ids, "other_editor"))
    assert digest(conn) == before


def test_single_geojson_keeps_anything_else_as_it_is():
    assert single_geojson(SQUARE) is SQUARE
    assert single_geojson("geen object") == "geen object"


# --- profile -------------------------------------------------------------------------------------

def test_profile_changes_are_cleaned_stored_and_audited(session, ids):
    editor = user(session, ids, "editor")
    changes = update_profile(session, ids["baarn"], {
        "website": "www.steunpunt-baarn.nl", "services": "Advies; training", "kind": "Lokale ondersteuner",
        "description": "  Wij helpen bewoners.  ", "email": "mailto:hallo@steunpunt.example", "phone": "035 123 45 67",
    }, editor)
    row = session.execute(text("SELECT * FROM partner WHERE id = :id"), {"id": ids["baarn"]}).mappings().one()
    # the import's cleaning: a bare host gets https://, labels become keys, text is trimmed
    clean, _ = validate_partner(1, {"name": "x", "kind": "Lokale ondersteuner", "website": "www.steunpunt-baarn.nl",
                                    "services": "Advies; training", "email": "mailto:hallo@steunpunt.example"})
    assert row["website"] == clean.values["website"] == "https://www.steunpunt-baarn.nl"
    assert row["services"] == clean.values["services"] == ["advies", "training"]
    assert row["kind"] == "lokale_ondersteuner" and row["description"] == "Wij helpen bewoners."
    assert row["email"] == "hallo@steunpunt.example" and row["name"] == "Steunpunt Baarn"
    entry = accounts.history(session, "partner", ids["baarn"])[-1]
    assert entry["action"] == "updated" and entry["actor"] == "editor@example.nl" and entry["user_id"] == editor.id
    assert entry["changes"] == changes
    assert entry["changes"]["website"] == ["https://steunpunt.example", "https://www.steunpunt-baarn.nl"]
    assert entry["changes"]["services"] == [["advies"], ["advies", "training"]]
    assert "name" not in entry["changes"]  # only what changed

    before = digest(session.connection())
    assert update_profile(session, ids["baarn"], {"website": "https://www.steunpunt-baarn.nl"}, editor) == {}
    assert digest(session.connection()) == before  # nothing changed, nothing audited


def test_empty_optional_fields_are_cleared(session, ids):
    update_profile(session, ids["baarn"], {"website": "", "email": None}, user(session, ids, "editor"))
    row = session.execute(text("SELECT website, email FROM partner WHERE id = :id"), {"id": ids["baarn"]}).one()
    assert row == (None, None)


@pytest.mark.parametrize("fields, field, reason", [
    ({"name": ""}, "name", "naam nodig"),
    ({"name": "  "}, "name", "naam nodig"),
    ({"name": "WIJKFONDS  utrecht"}, "name", "lijkt te veel op de naam van een andere partner"),
    ({"name": "Wijkfonds Utrecht"}, "name", "al in gebruik"),
    ({"kind": "vereniging"}, "kind", "onbekend(e) soort partner"),
    ({"kind": None}, "kind", "soort ontbreekt"),
    ({"services": ["koffie"]}, "services", "onbekend(e) dienst"),
    ({"website": "javascript:alert(1)"}, "website", "is geen website"),
    ({"email": "geen adres"}, "email", "geen geldig e-mailadres"),
    ({"phone": "bel maar"}, "phone", "geen telefoonnummer"),
    ({"description": "x" * 5001}, "description", "te lang"),
    ({"name": "Naam\x00"}, "name", "ongeldig (onzichtbaar) teken"),
    ({"source": "handmatig"}, "source", "onbekend veld"),
    ({"id": 7}, "id", "onbekend veld"),
])
def test_invalid_profiles_are_refused_in_dutch_and_change_nothing(session, ids, fields, field, reason):
    conn = session.connection()
    before = digest(conn)
    with pytest.raises(EditRefused) as refused:
        update_profile(session, ids["baarn"], fields, user(session, ids, "editor"))
    assert reason in refused.value.description and field in refused.value.by_field()
    assert digest(conn) == before


def test_a_profile_must_be_an_object(session, ids):
    with pytest.raises(EditRefused, match="object met velden"):
        update_profile(session, ids["baarn"], ["name", "x"], user(session, ids, "editor"))


# --- who may edit --------------------------------------------------------------------------------

def _attempts(ids):
    return [
        lambda s, u: update_profile(s, ids["utrecht"], {"name": "Overgenomen"}, u),
        lambda s, u: add_service_area(s, ids["utrecht"], {"name": "Erbij", "codes": ["GM0308"]}, u),
        lambda s, u: remove_service_area(s, ids["utrecht"], ids["utrecht_area"], u),
    ]


@pytest.mark.parametrize("who", ["editor", "moderator", None])
@pytest.mark.parametrize("attempt", range(3))
def test_only_the_partners_own_editor_or_an_admin_may_edit(session, ids, who, attempt):
    conn = session.connection()
    before = digest(conn)
    with pytest.raises(Forbidden, match="eigen partner"):
        _attempts(ids)[attempt](session, user(session, ids, who) if who else None)
    assert digest(conn) == before


def test_an_inactive_editor_may_not_edit(session, ids):
    editor = user(session, ids, "editor")
    editor.active = False
    with pytest.raises(Forbidden):
        update_profile(session, ids["baarn"], {"phone": "035 123 45 67"}, editor)


@pytest.mark.parametrize("attempt", range(3))
def test_an_admin_may_edit_every_partner(session, ids, attempt):
    admin = user(session, ids, "admin")
    _attempts(ids)[attempt](session, admin)
    entry = session.execute(text("SELECT actor, user_id FROM audit_log ORDER BY id DESC LIMIT 1")).one()
    assert entry == ("admin@example.nl", admin.id)


def test_unknown_partners_and_areas_are_not_found(session, ids):
    admin = user(session, ids, "admin")
    for call in (lambda: update_profile(session, 2**31 + 5, {"name": "x"}, admin),
                 lambda: update_profile(session, 999_999, {"name": "x"}, admin),
                 lambda: add_service_area(session, 999_999, {"name": "x", "codes": ["GM0308"]}, admin),
                 lambda: remove_service_area(session, ids["baarn"], ids["utrecht_area"], admin),  # not Baarn's
                 lambda: remove_service_area(session, ids["baarn"], 2**40, admin)):
        with pytest.raises(NotFound):
            call()


# --- audit and the gap analysis ------------------------------------------------------------------

def test_adding_and_removing_are_audited_with_actor_and_changes(session, ids):
    editor = user(session, ids, "editor")
    definition = {"name": "Zandvoort", "codes": [ZANDVOORT]}
    added = add_service_area(session, ids["baarn"], definition, editor)
    area_m2 = round(stored(session.connection(), added.id)["area_m2"])
    created = accounts.history(session, "service_area", added.id)
    assert [e["action"] for e in created] == ["created"]
    assert created[0]["actor"] == "editor@example.nl" and created[0]["user_id"] == editor.id
    assert created[0]["changes"] == {
        "partner_id": [None, ids["baarn"]], "name": [None, "Zandvoort"], "definition_type": [None, "codes"],
        "definition": [None, {"codes": [ZANDVOORT]}], "cbs_jaar": [None, 2024], "area_m2": [None, area_m2]}

    removed = remove_service_area(session, ids["baarn"], added.id, editor)
    assert removed["name"] == "Zandvoort" and stored(session.connection(), added.id) is None
    entries = accounts.history(session, "service_area", added.id)
    assert [e["action"] for e in entries] == ["created", "removed"]
    assert entries[1]["changes"]["name"] == ["Zandvoort", None]
    assert entries[1]["changes"]["partner_id"] == [ids["baarn"], None]


def test_a_large_geojson_is_summarised_in_the_audit_log(session, ids):
    # a circle of 2000 points: the area keeps it, the audit entry notes its size and fingerprint
    ring = [[5.29 + 0.01 * math.cos(2 * math.pi * i / 2000), 52.21 + 0.006 * math.sin(2 * math.pi * i / 2000)]
            for i in range(2000)]
    polygon = {"type": "Polygon", "coordinates": [ring + [ring[0]]]}
    added = add_service_area(session, ids["baarn"], {"name": "Rond", "geojson": polygon},
                             user(session, ids, "editor"))
    audited = accounts.history(session, "service_area", added.id)[0]["changes"]["definition"][1]["geojson"]
    assert audited["type"] == "Polygon" and audited["points"] == 2001 and len(audited["sha256"]) == 64
    assert stored(session.connection(), added.id)["definition"] == {"geojson": polygon}


def test_the_gap_analysis_sees_a_new_area_and_loses_it_after_removal(session, ids):
    conn = session.connection()
    editor = user(session, ids, "editor")
    assert coverage_of(conn, ZANDVOORT) == 0
    added = add_service_area(session, ids["baarn"], {"name": "Zandvoort", "codes": [ZANDVOORT]}, editor)
    assert stored_coverage_is_fresh(conn)  # the stored coverage was brought up to date by the write
    assert coverage_of(conn, ZANDVOORT) == 1.0
    units = {u["code"]: u for u in gap_units(conn, make_params(), gemeente="GM0308")}
    assert units[ZANDVOORT]["n_partners"] == 1
    remove_service_area(session, ids["baarn"], added.id, editor)
    assert stored_coverage_is_fresh(conn)
    assert coverage_of(conn, ZANDVOORT) == 0


@pytest.mark.parametrize("raw, field", [
    ({"name": "Reus", "point": {"lat": 10**400, "lon": 5.29}, "radius_m": 500}, "point.lat"),
    ({"name": "Reus", "geojson": {"type": "Polygon",
                                  "coordinates": [[[10**400, 52.2], [5.3, 52.2], [5.3, 52.3], [10**400, 52.2]]]}},
     "geojson"),
])
def test_numbers_too_large_for_a_float_are_refused_not_a_crash(raw, field):
    area, problems = validate_area(raw)
    assert area is None and [f for f, _ in problems] == [field]
