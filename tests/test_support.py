"""GET /api/v1/support and the /hulp page: who helps a plan here, in which order, and the demand counts.

Partners come in through the partner import (service areas built by PostGIS from codes and radii); the
order is checked against shapely on the same stored geometries and a pyproj transform of the point.
"""

from __future__ import annotations

import re
from html import unescape

import pytest
from pyproj import Geod, Transformer
from shapely import wkb
from shapely.geometry import Point
from sqlalchemy import text

from geoservice import db
from geoservice.imports.partners import apply_partners

from .conftest import app_on
from .helpers import make_initiative, seeded_database

PC4_BAARN = (5.2856, 52.2175)  # data/postcodes/pc4_nl.tsv: the centroid of 3741
DAM = (4.8926, 52.3731)  # Amsterdam, in buurten of GM0363
FUND = "Energiefonds Baarn (test)"
ADVISOR = "Adviesbureau Amsterdam (test)"


def _radius(lon: float, lat: float, radius_m: int, name: str = "Rond het kantoor") -> list[dict]:
    return [{"name": name, "point": {"lat": lat, "lon": lon}, "radius_m": radius_m}]


# The order of this list is the order of insertion (ids); ties of the tied funds are resolved by name.
PARTNERS = [
    {"name": FUND, "kind": "fonds", "services": ["Financiering"], "themes": ["energie_klimaat"],
     "website": "https://energiefonds.example", "email": "info@energiefonds.example", "phone": "035 123 45 67",
     "service_areas": [{"name": "Heel Baarn", "codes": ["GM0308"]}]},
    {"name": ADVISOR, "kind": "regionale_ondersteuner", "services": ["advies"], "themes": [],
     "email": "hallo@advies.example", "service_areas": [{"name": "Amsterdam", "codes": ["GM0363"]}]},
    {"name": "Woonfonds Baarn (test)", "kind": "fonds", "services": ["financiering"], "themes": ["Wonen"],
     "service_areas": [{"name": "Baarn", "codes": ["GM0308"]}]},
    {"name": "Buurtloket Baarn-Oost (test)", "kind": "lokale_ondersteuner", "services": ["advies", "vrijwilligers"],
     "service_areas": _radius(5.2930, 52.2175, 1500)},
    {"name": "Groenfonds Soest (test)", "kind": "fonds", "services": ["financiering"], "themes": ["groen_natuur"],
     "service_areas": _radius(5.3000, 52.1750, 2000)},
    {"name": "Klimaatloket Hilversum (test)", "kind": "regionale_ondersteuner",
     "services": ["advies", "financiering"], "themes": ["energie_klimaat", "wonen"],
     "service_areas": _radius(5.1760, 52.2230, 3000)},
    {"name": "Zeta Zuidfonds (test)", "kind": "fonds", "services": ["financiering", "training"],
     "service_areas": _radius(5.2800, 52.1500, 1000, "Zuid")},
    {"name": "Alfa Zuidfonds (test)", "kind": "fonds", "services": ["financiering", "training"],
     "service_areas": _radius(5.2800, 52.1500, 1000, "Zuid")},
    {"name": "Juristen Utrecht (test)", "kind": "regionale_ondersteuner", "services": ["juridisch"],
     "service_areas": _radius(5.1200, 52.0900, 2000)},
    {"name": "Zonder diensten (test)", "kind": "overig", "services": [],
     "service_areas": _radius(5.2856, 52.2175, 5000)},
    {"name": "Zonder werkgebied (test)", "kind": "fonds", "services": ["financiering"]},
]
# (name, lon, lat, themes): published initiatives around the 3741 centroid
INITIATIVES = [
    ("Zonnedak De Kern", 5.2866, 52.2180, ["energie_klimaat"]),
    ("Warmtenet Noord", 5.2800, 52.2230, ["energie_klimaat", "wonen"]),
    ("Energiecafé", 5.2950, 52.2100, ["energie_klimaat"]),
    ("Isolatieploeg", 5.3050, 52.2250, ["energie_klimaat"]),
    ("Buurtbatterij", 5.2600, 52.2050, ["energie_klimaat"]),
    ("Windmolen Eemnes", 5.2500, 52.2500, ["energie_klimaat"]),
    ("Moestuin naast de deur", 5.2858, 52.2176, ["groen_natuur"]),
]


def _seed(session) -> dict:
    report = apply_partners(session.connection(), PARTNERS)
    assert not report.problems, [p.line() for p in report.problems]
    ids = dict(session.execute(text("SELECT name, id FROM partner")).all())
    for name, lon, lat, themes in INITIATIVES:
        ids[name] = make_initiative(session, lon=lon, lat=lat, name=name, themes=themes)
    make_initiative(session, lon=5.2857, lat=52.2175, name="Nog niet gepubliceerd", themes=["energie_klimaat"],
                    status="pending")
    return ids


@pytest.fixture(scope="module")
def site(pg_server, template_db):
    """(app, url, ids) on a module database with the partners and initiatives above; the offline geocoder."""
    with seeded_database(pg_server, template_db, "support", _seed) as (url, ids):
        app = app_on(url, geocoder="offline")
        yield app, url, ids


@pytest.fixture
def client(site):
    return site[0].test_client()


@pytest.fixture(scope="module")
def stored(site):
    """Every partner with its service areas as shapely geometries (RD New), read back from the database."""
    engine = db.make_engine(site[1])
    try:
        with engine.connect() as conn:
            partners = {row.id: {"id": row.id, "name": row.name, "services": row.services, "themes": row.themes,
                                 "areas": []}
                        for row in conn.execute(text("SELECT id, name, services, themes FROM partner"))}
            for partner_id, geom in conn.execute(text("SELECT partner_id, ST_AsBinary(geom) FROM service_area")):
                partners[partner_id]["areas"].append(wkb.loads(bytes(geom)))
    finally:
        engine.dispose()
    return partners


TO_RD = Transformer.from_crs(4326, 28992, always_xy=True)


def expected_order(stored: dict, lon: float, lat: float, *, services=(), theme=None, reach_m=10_000):
    """The rule of the issue, computed with shapely: [(id, covers, distance_m)] in the order it must come."""
    here = Point(*TO_RD.transform(lon, lat))
    found = []
    for partner in stored.values():
        if not partner["areas"] or not partner["services"]:
            continue
        if services and not set(services) & set(partner["services"]):
            continue
        if theme and partner["themes"] and theme not in partner["themes"]:
            continue
        covers = any(area.intersects(here) for area in partner["areas"])
        distance = 0.0 if covers else min(area.distance(here) for area in partner["areas"])
        if covers or distance <= reach_m:
            found.append((partner["id"], covers, distance, partner["name"]))
    found.sort(key=lambda p: (not p[1], p[2], p[3]))
    return [(i, covers, distance) for i, covers, distance, _name in found]


def support(client, status: int = 200, **params):
    response = client.get("/api/v1/support", query_string=params)
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.mimetype == "application/json"
    return response.get_json()


# --- the must-show cases ----------------------------------------------------------------------------------

def test_the_fund_comes_first_covering_with_financiering_for_an_energy_plan_in_3741(client, site):
    body = support(client, postcode="3741", service="financiering", theme="energie_klimaat")
    assert set(body) == {"searched", "buurt", "partners", "initiatives"}
    first = body["partners"][0]
    assert first["name"] == FUND and first["covers"] is True and first["distance_m"] == 0
    assert first["matched_services"] == ["financiering"]
    assert (first["website"], first["email"], first["phone"]) == (
        "https://energiefonds.example", "info@energiefonds.example", "035 123 45 67")
    assert list(first) == ["id", "name", "kind", "services", "themes", "matched_services", "covers", "distance_m",
                           "website", "email", "phone"]
    assert first["id"] == site[2][FUND] and first["themes"] == ["energie_klimaat"] and first["kind"] == "fonds"
    assert body["searched"]["precision"] == "postcode" and body["searched"]["source"] == "pc4"
    assert body["buurt"]["code"].startswith("BU0308") and body["buurt"]["gemeente"] == {"code": "GM0308",
                                                                                        "naam": "Baarn"}
    names = [p["name"] for p in body["partners"]]
    # the housing fund covers 3741 too, but only for housing plans; the Amsterdam advisor is far away
    assert "Woonfonds Baarn (test)" not in names and ADVISOR not in names


def test_juridische_hulp_in_3741_lists_neither_the_fund_nor_the_advisor(client):
    body = support(client, postcode="3741", service="juridisch")
    names = [p["name"] for p in body["partners"]]
    assert FUND not in names and ADVISOR not in names
    assert all("juridisch" in p["services"] and p["matched_services"] == ["juridisch"] for p in body["partners"])


def test_a_point_in_amsterdam_lists_the_advisor_as_covering(client):
    body = support(client, lat=DAM[1], lon=DAM[0])
    advisor = next(p for p in body["partners"] if p["name"] == ADVISOR)
    assert advisor["covers"] is True and advisor["distance_m"] == 0 and advisor["matched_services"] == []
    assert body["buurt"]["gemeente"]["code"] == "GM0363"
    assert FUND not in [p["name"] for p in body["partners"]]


# --- the order, against shapely ------------------------------------------------------------------------------

@pytest.mark.parametrize("where, question", [
    (PC4_BAARN, {}),
    (PC4_BAARN, {"services": ("financiering",)}),
    (PC4_BAARN, {"services": ("financiering",), "theme": "energie_klimaat"}),
    (PC4_BAARN, {"services": ("financiering", "training"), "reach_m": 20_000}),
    (PC4_BAARN, {"services": ("financiering",), "theme": "groen_natuur", "reach_m": 50_000}),
    (PC4_BAARN, {"services": ("advies",), "reach_m": 0}),
    ((5.2500, 52.1800), {"services": ("financiering", "advies")}),  # south-west of Baarn, partly uncovered
    (DAM, {"theme": "wonen", "reach_m": 50_000}),
])
def test_partners_come_covering_first_then_by_distance_then_by_name(client, stored, where, question):
    params = {"lon": where[0], "lat": where[1], "service": list(question.get("services", ())),
              "reach_m": question.get("reach_m", 10_000)}
    if question.get("theme"):
        params["theme"] = question["theme"]
    body = support(client, **params)
    expected = expected_order(stored, *where, **question)
    assert expected, "a question without any expected partner proves nothing"
    assert [p["id"] for p in body["partners"]] == [i for i, _covers, _distance in expected]
    for partner, (_id, covers, distance) in zip(body["partners"], expected):
        assert partner["covers"] is covers
        assert partner["distance_m"] == pytest.approx(distance, abs=2.0)  # PostGIS and pyproj transforms
        wanted = set(question.get("services", ()))
        assert partner["matched_services"] == sorted(wanted & set(partner["services"]),
                                                     key=["advies", "financiering", "juridisch",
                                                          "netwerk_kennisdeling", "training", "ruimte_locatie",
                                                          "vrijwilligers"].index)


def test_tied_partners_come_by_name_not_by_id(client, site):
    body = support(client, lon=PC4_BAARN[0], lat=PC4_BAARN[1], service="training", reach_m=20_000)
    tied = [p for p in body["partners"] if "Zuidfonds" in p["name"]]
    assert [p["name"] for p in tied] == ["Alfa Zuidfonds (test)", "Zeta Zuidfonds (test)"]
    assert site[2]["Alfa Zuidfonds (test)"] > site[2]["Zeta Zuidfonds (test)"]  # inserted later
    assert tied[0]["distance_m"] == tied[1]["distance_m"] > 0


def test_labels_work_as_service_and_theme(client):
    by_key = support(client, postcode="3741", service="financiering", theme="energie_klimaat")
    by_label = support(client, postcode="3741", service="Financiering", theme="Energie en klimaat")
    assert by_label["partners"] == by_key["partners"]


def test_a_partner_without_services_or_service_areas_is_never_listed(client):
    names = [p["name"] for p in support(client, postcode="3741", reach_m=50_000)["partners"]]
    assert "Zonder diensten (test)" not in names and "Zonder werkgebied (test)" not in names


# --- nearby initiatives -------------------------------------------------------------------------------------

def test_up_to_five_published_initiatives_with_the_theme_nearest_first(client):
    body = support(client, lon=PC4_BAARN[0], lat=PC4_BAARN[1], theme="energie_klimaat")
    geod = Geod(ellps="WGS84")
    with_theme = sorted(((geod.inv(PC4_BAARN[0], PC4_BAARN[1], lon, lat)[2], name)
                         for name, lon, lat, themes in INITIATIVES if "energie_klimaat" in themes))
    assert [i["name"] for i in body["initiatives"]] == [name for _d, name in with_theme[:5]]
    for item, (distance, _name) in zip(body["initiatives"], with_theme):
        assert item["distance_m"] == pytest.approx(distance, abs=0.2)
        assert "energie_klimaat" in item["themes"]
    assert set(body["initiatives"][0]) == {"id", "name", "kind", "themes", "website", "distance_m"}


# --- bad input ------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("query, code", [
    ("service=advies", "MissingParameterValue"),
    ("postcode=3741&service=gebak", "InvalidParameterValue"),
    ("postcode=3741&theme=ruimtevaart", "InvalidParameterValue"),
    ("postcode=3741&theme=wonen&theme=jeugd", "InvalidParameterValue"),
    ("postcode=3741&reach_m=50001", "InvalidParameterValue"),
    ("postcode=3741&reach_m=-1", "InvalidParameterValue"),
    ("postcode=3741&reach_m=ver", "InvalidParameterValue"),
    ("postcode=abcd", "InvalidParameterValue"),
    ("lat=52.2", "MissingParameterValue"),
    ("lat=52.2&lon=5.28&postcode=3741", "InvalidParameterValue"),
    ("lat=95&lon=5.28", "InvalidParameterValue"),
])
def test_bad_parameters_get_400_json(client, query, code):
    response = client.get(f"/api/v1/support?{query}")
    assert response.status_code == 400
    body = response.get_json()
    assert set(body) == {"code", "description"} and body["code"] == code and body["description"]


def test_an_unknown_postcode_is_404_json(client):
    response = client.get("/api/v1/support?postcode=9999")
    assert response.status_code == 404 and set(response.get_json()) == {"code", "description"}


# --- the /hulp page ---------------------------------------------------------------------------------------------

def page_text(response) -> str:
    return unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", response.get_data(as_text=True))))


def test_hulp_shows_the_fund_with_its_contact_for_3741_and_financiering(client):
    response = client.get("/hulp?q=3741&service=financiering")
    assert response.status_code == 200
    html, shown = response.get_data(as_text=True), page_text(response)
    assert FUND in shown and "werkt in heel Baarn" in shown
    assert 'href="mailto:info@energiefonds.example"' in html and 'href="https://energiefonds.example"' in html
    assert 'href="tel:0351234567"' in html
    # the fund comes before the partners that are only near
    assert shown.index(FUND) < shown.index("Klimaatloket Hilversum (test)")
    assert re.search(r"Klimaatloket Hilversum \(test\) Regionale ondersteuner · op \d+,\d km", shown)
    assert 'value="financiering" checked' in html


def test_hulp_without_a_match_says_so_and_offers_the_nearest_partners_and_aanmelden(client):
    response = client.get("/hulp?q=3741&service=juridisch&theme=cultuur&reach_m=5000")
    assert response.status_code == 200
    html, shown = response.get_data(as_text=True), page_text(response)
    assert "Geen organisatie gevonden" in shown
    assert "Buurtloket Baarn-Oost (test)" in shown  # nearest partners offering anything
    assert 'href="/aanmelden"' in html


def test_hulp_from_an_initiative_link_searches_from_its_point_with_its_theme(client, site):
    page = client.get(f"/initiatief/{site[2]['Zonnedak De Kern']}").get_data(as_text=True)
    link = unescape(re.search(r'href="(/hulp\?[^"]+)"', page).group(1))
    assert "Hulp nodig voor dit initiatief?" in page and "theme=energie_klimaat" in link
    response = client.get(link)
    assert response.status_code == 200 and FUND in page_text(response)
    assert '<option value="energie_klimaat" selected>' in response.get_data(as_text=True)


def test_hulp_is_in_the_menu_and_linked_from_the_search_results(client):
    assert 'href="/hulp"' in client.get("/over").get_data(as_text=True)
    search = client.get("/?q=3741").get_data(as_text=True)
    assert 'href="/hulp?q=3741"' in search


@pytest.mark.parametrize("query", ["q=3741&service=gebak", "q=abcd+efgh+999&service=advies", "q=9999"])
def test_hulp_bad_input_comes_back_in_the_page(client, query):
    response = client.get(f"/hulp?{query}")
    assert response.status_code in (400, 404, 503)
    assert 'class="error-message" role="alert"' in response.get_data(as_text=True)
    assert 'id="hulp-form"' in response.get_data(as_text=True)


# --- demand ---------------------------------------------------------------------------------------------------

def demand_shown(client, partner_id: int) -> dict[str, int]:
    html = client.get(f"/partner/{partner_id}").get_data(as_text=True)
    table = re.search(r'<table class="data" id="demand">(.*?)</table>', html, re.S).group(1)
    return {label: int(n.replace(".", "")) for label, n in re.findall(
        r'<th scope="row">([^<]+)</th><td class="num">([\d.]+)</td>', table)}


def test_hulp_searches_are_counted_per_service_for_the_partners_whose_areas_they_fall_in(client, site):
    fund, advisor = site[2][FUND], site[2][ADVISOR]
    before, before_advisor = demand_shown(client, fund), demand_shown(client, advisor)
    client.get("/hulp?q=3741&service=financiering&service=advies")
    client.get("/hulp?q=3741+AA&service=financiering&theme=wonen")
    client.get("/hulp?q=3741")  # no service asked: nothing to count
    client.get("/api/v1/support?postcode=3741&service=financiering")  # programs are not counted
    after = demand_shown(client, fund)
    assert after["Financiering"] - before["Financiering"] == 2
    assert after["Advies"] - before["Advies"] == 1
    assert after["Juridisch"] == before["Juridisch"]
    assert demand_shown(client, advisor) == before_advisor  # Amsterdam: not its area
    # what is kept: a day, a CBS year, a buurt code, a service and a number; nothing else
    with db.make_engine(site[1]).connect() as conn:
        columns = [c for (c,) in conn.execute(text(
            "SELECT column_name FROM information_schema.columns WHERE table_name = 'support_demand' "
            "ORDER BY ordinal_position"))]
        codes = {c for (c,) in conn.execute(text("SELECT DISTINCT code FROM support_demand"))}
    assert columns == ["day", "jaar", "code", "service", "n"]
    assert codes and all(code.startswith("BU0308") for code in codes)


def test_a_typed_postcode_wins_over_the_point_of_an_initiative_link(client):
    response = client.get(f"/hulp?lat={DAM[1]}&lon={DAM[0]}&q=3741&service=financiering")
    shown = page_text(response)
    assert "Gezocht vanaf postcode 3741" in shown and FUND in shown
    from_point = page_text(client.get(f"/hulp?lat={DAM[1]}&lon={DAM[0]}"))
    assert "Gezocht vanaf de plek die je koos" in from_point and ADVISOR in from_point
