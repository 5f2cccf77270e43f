"""Figures people can trust: counts that agree between levels and /gemeenten, example data said out loud, and the
share of inhabitants with no initiative nearby whatever the partners do."""

from __future__ import annotations

import csv
import io

import pytest
from sqlalchemy import text

from geoservice.analysis.gaps import GapParams, gap_units, gemeente_summaries
from geoservice.demo import load_demo
from geoservice.queries.trust import initiatives_astray

from .helpers import add_partner, add_service_area, make_initiative

BAARN, AMSTERDAM = "GM0308", "GM0363"

# A point of Baarn inside one of its (full-resolution) buurten but outside every generalised wijk outline.
_OUTSIDE_EVERY_WIJK = """
SELECT ST_X(p), ST_Y(p) FROM (SELECT ST_Transform(ST_PointOnSurface(ST_Difference(b.geom, (
    SELECT ST_Union(w.geom) FROM wijk AS w WHERE w.jaar = 2024 AND ST_Intersects(w.geom, b.geom)))), 4326) AS p
    FROM buurt AS b WHERE b.jaar = 2024 AND b.gemeentecode = :g
    ORDER BY ST_Area(ST_Difference(b.geom, (SELECT ST_Union(w.geom) FROM wijk AS w
                                             WHERE w.jaar = 2024 AND ST_Intersects(w.geom, b.geom)))) DESC
    LIMIT 1) AS s"""
# A point of Amsterdam where two generalised wijk outlines overlap, inside one of its buurten.
_IN_TWO_WIJKEN = """
SELECT ST_X(p), ST_Y(p) FROM (SELECT ST_Transform(ST_PointOnSurface(ST_Intersection(
        ST_Intersection(a.geom, b.geom), (SELECT ST_Union(geom) FROM buurt WHERE jaar = 2024 AND gemeentecode = :g))),
        4326) AS p
    FROM wijk AS a JOIN wijk AS b ON a.code < b.code AND ST_Overlaps(a.geom, b.geom)
    WHERE a.jaar = 2024 AND b.jaar = 2024 AND a.gemeentecode = :g AND b.gemeentecode = :g
    ORDER BY ST_Area(ST_Intersection(a.geom, b.geom)) DESC LIMIT 1) AS s"""


def _wijken_holding(conn, lon: float, lat: float) -> list[str]:
    return list(conn.execute(text(
        "SELECT code FROM wijk WHERE jaar = 2024 AND ST_Intersects(geom, ST_Transform(ST_SetSRID("
        "ST_MakePoint(:lon, :lat), 4326), 28992)) ORDER BY code"), {"lon": lon, "lat": lat}).scalars())


def test_a_gemeente_counts_each_initiative_once_at_every_level(fresh_db_url, engine_for, app_for):
    engine = engine_for(fresh_db_url)
    with engine.begin() as conn:
        outside = conn.execute(text(_OUTSIDE_EVERY_WIJK), {"g": BAARN}).one()
        overlap = conn.execute(text(_IN_TWO_WIJKEN), {"g": AMSTERDAM}).one()
        assert _wijken_holding(conn, *outside) == []  # the cases of the issue: outside every wijk ...
        assert len(_wijken_holding(conn, *overlap)) == 2  # ... and inside two of them
        gap = make_initiative(conn, lon=outside[0], lat=outside[1], name="Tussen de wijken")
        double = make_initiative(conn, lon=overlap[0], lat=overlap[1], name="In twee wijken")
        make_initiative(conn, name="Gewoon in Baarn")
    with engine.connect() as conn:
        for gemeente, expected in ((BAARN, 2), (AMSTERDAM, 1)):
            per_level = {}
            for level in ("buurt", "wijk"):
                (summary,) = gemeente_summaries(conn, GapParams(level=level), gemeente=gemeente)
                units = gap_units(conn, GapParams(level=level), gemeente=gemeente)
                assert sum(u["n_initiatives"] for u in units) == summary["n_initiatives"] == expected, (gemeente, level)
                assert summary["n_initiatives_outside"] == 0
                per_level[level] = summary["n_initiatives"]
            national = {r["gemeentecode"]: r for r in gemeente_summaries(conn, GapParams())}
            assert national[gemeente]["n_initiatives"] == per_level["buurt"] == per_level["wijk"]
        # and the page can say where: counted in the wijk of its buurt, though no wijk outline holds it
        (astray_gap,) = [a for a in initiatives_astray(conn, 2024, BAARN, "wijk") if a["id"] == gap]
        buurt_wijk = conn.execute(text("SELECT wijkcode FROM initiative WHERE id = :id"), {"id": gap}).scalar()
        assert astray_gap["drawn_in"] == [] and astray_gap["counted_in"] == buurt_wijk
        (astray_double,) = [a for a in initiatives_astray(conn, 2024, AMSTERDAM, "wijk") if a["id"] == double]
        assert len(astray_double["drawn_in"]) == 2 and astray_double["counted_in"] in astray_double["drawn_in"]
        assert initiatives_astray(conn, 2024, BAARN, "buurt") == []  # Baarn's buurten hold each point once
    page = app_for(fresh_db_url).test_client().get("/gemeente/GM0308?level=wijk").get_data(as_text=True)
    assert "Tussen de wijken" in page and "ligt buiten alle wijkgrenzen" in page
    assert "telt mee bij Wijk" in page


def test_a_gemeente_covered_by_a_partner_without_initiatives_reads_as_such(fresh_db_url, engine_for, app_for):
    engine = engine_for(fresh_db_url)
    with engine.begin() as conn:
        partner = add_partner(conn, "Overal in Baarn")
        add_service_area(conn, partner, "Heel Baarn", "(SELECT geom FROM gemeente WHERE jaar = 2024 AND code = :g)",
                         g=BAARN)
    with engine.connect() as conn:
        (row,) = gemeente_summaries(conn, GapParams(), gemeente=BAARN)
    assert row["white_spot_share"] == 0 and row["no_initiative_nearby_share"] == 1.0
    assert row["units_no_initiative"] == 21
    client = app_for(fresh_db_url).test_client()
    page = client.get("/gemeenten?sort=naam").get_data(as_text=True)
    assert "Inwoners zonder initiatief in de buurt" in page
    baarn = page[page.index(">Baarn</a>"):].split("</tr>")[0]
    assert "0,0 %" in baarn and "100,0 %" in baarn


@pytest.fixture(scope="module")
def demo_db(pg_server, template_db):
    import os

    from geoservice import db

    name = f"geoservice_test_trust_demo_{os.getpid()}"
    url = pg_server.create(name, template=template_db)
    engine = db.make_engine(url)
    load_demo(engine)
    with engine.connect() as conn:
        counts = conn.execute(text(
            "SELECT count(*) FILTER (WHERE status = 'published'), "
            "(SELECT count(*) FROM partner WHERE source = 'demo') FROM initiative")).one()
    engine.dispose()
    yield url, counts
    pg_server.drop(name)


def test_example_data_is_flagged_on_every_page_and_download(demo_db, app_for):
    url, (published, partners) = demo_db
    client = app_for(url).test_client()
    sentence = (f"Deze cijfers zijn berekend met voorbeelddata: {published} van de {published} initiatieven zijn "
                f"voorbeelden en {partners} van de {partners} partners zijn voorbeelden.")
    for path in ("/gemeenten", "/gemeente/GM0308", "/partner/1"):
        assert sentence in client.get(path).get_data(as_text=True), path
    assert "in deze gemeente" in client.get("/gemeente/GM0308").get_data(as_text=True)
    for path in ("/api/v1/gaps?gemeente=GM0308&format=csv", "/api/v1/gaps/summary?format=csv",
                 "/api/v1/outreach?gemeente=GM0983&format=csv"):
        rows = list(csv.DictReader(io.StringIO(client.get(path).get_data(as_text=True))))
        assert rows and {r["demo_data"] for r in rows} == {"true"}, path
    body = client.get("/api/v1/gaps?gemeente=GM0308").get_json()
    assert body["demo"]["note"] == sentence + " Ze laten zien wat de kaart kan; het zijn geen echte cijfers."
    assert {f["properties"]["demo_data"] for f in body["features"]} == {True}
    summary = client.get("/api/v1/gaps/summary").get_json()
    assert sum(r["n_initiatives_example"] for r in summary["gemeenten"]) == published
    assert sum(r["n_initiatives"] for r in summary["gemeenten"]) == published
    assert client.get("/api/v1/outreach?gemeente=GM0983").get_json()["demo"]["demo_data"] is True


def test_real_data_carries_no_flag(client):
    assert "voorbeelddata" not in client.get("/gemeenten").get_data(as_text=True)
    rows = list(csv.DictReader(io.StringIO(client.get("/api/v1/gaps?gemeente=GM0308&format=csv")
                                           .get_data(as_text=True))))
    assert {r["demo_data"] for r in rows} == {"false"}
