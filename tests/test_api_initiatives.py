"""GET /api/v1/initiatives (filters, paging, CSV), /initiatives/nearby and /initiatives/{id} on a real PostGIS."""

from __future__ import annotations

import csv
import io
import itertools
import os
import random
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from pyproj import Geod

from geoservice import create_app
from geoservice.db import make_engine
from geoservice.vocab import INITIATIVE_KINDS, THEMES

from .conftest import settings_for, app_on
from .helpers import make_initiative, shipped

KINDS = list(INITIATIVE_KINDS)
THEME_KEYS = list(THEMES)
UTRECHT = (5.1214, 52.0907)  # Domplein: wijken loaded, no buurten
GEOD = Geod(ellps="WGS84")
ROOT = Path(__file__).resolve().parents[1]


def _buurt_points(filename: str, every: int = 1):
    frame = shipped(filename).iloc[::every]
    points = frame.geometry.representative_point().to_crs(4326)
    return [(code, p.x, p.y) for code, p in zip(frame["buurtcode"], points)]


def _dataset() -> list[dict]:
    """The initiatives of this module: every kind and theme, three gemeenten, some not published."""
    places = _buurt_points("buurten_2024_baarn.gpkg") + _buurt_points("buurten_2024_amsterdam.gpkg", every=60)
    items = []
    for n, (code, lon, lat) in enumerate(places):
        items.append({
            "name": f"Initiatief {n}", "kind": KINDS[n % len(KINDS)],
            "themes": sorted({THEME_KEYS[n % len(THEME_KEYS)], THEME_KEYS[(n * 5 + 3) % len(THEME_KEYS)]}),
            "description": f"Beschrijving {n}", "lon": lon, "lat": lat, "buurtcode": code, "status": "published",
        })
    specials = [
        {"name": "=HYPERLINK(\"http://example.org\",\"klik\")", "description": "+31 formule", "kind": "overig"},
        {"name": "100% groen", "description": "Een moestuin", "themes": ["groen_natuur"]},
        {"name": "Moestuin_Noord", "description": "Samen KOKEN en eten", "themes": ["voedsel", "ontmoeting"]},
        {"name": "Nog niet gepubliceerd", "status": "pending"},
        {"name": "Opgeheven moestuin", "status": "archived"},
    ]
    for extra in specials:
        items.append({"kind": "bewonersinitiatief", "themes": ["ontmoeting"], "description": None,
                      "lon": places[10][1] + 0.0004, "lat": places[10][2] + 0.0003, "buurtcode": places[10][0],
                      "status": "published", **extra})
    items.append({"name": "Domkerk buurtkamer", "kind": "vrijwilligersgroep", "themes": ["ouderen"],
                  "description": "In Utrecht", "lon": UTRECHT[0], "lat": UTRECHT[1], "buurtcode": None,
                  "status": "published", "wijkcode": "WK034406"})  # Binnenstad
    for item in items:
        code = item["buurtcode"]
        item.setdefault("wijkcode", "WK" + code[2:8] if code else None)
        item["gemeentecode"] = "GM" + code[2:6] if code else "GM0344"
    return items


@pytest.fixture(scope="module")
def dataset(pg_server, template_db):
    """(database url, items with their ids) built once for this module."""
    name = f"geoservice_test_api_initiatives_{os.getpid()}"
    url = pg_server.create(name, template=template_db)
    items = _dataset()
    engine = make_engine(url)
    with engine.begin() as conn:
        for item in items:
            fields = {k: item[k] for k in ("name", "kind", "themes", "description", "status")}
            item["id"] = make_initiative(conn, lon=item["lon"], lat=item["lat"], **fields)
    engine.dispose()
    yield url, items
    pg_server.drop(name)


@pytest.fixture(scope="module")
def api(dataset):
    # offline: nothing in these tests may reach the internet
    app = app_on(dataset[0], geocoder="offline")
    return app.test_client()


@pytest.fixture(scope="module")
def published(dataset):
    return [item for item in dataset[1] if item["status"] == "published"]


def ids_of(body) -> list[int]:
    return [f["id"] for f in body["features"]]


def get_json(api, url, status=200):
    response = api.get(url)
    assert response.status_code == status, response.get_data(as_text=True)
    return response.get_json()


# --- the list -------------------------------------------------------------------------------------

def test_list_is_a_geojson_collection_of_published_initiatives(api, published):
    response = api.get("/api/v1/initiatives?limit=1000")
    assert response.status_code == 200 and response.mimetype == "application/geo+json"
    body = response.get_json()
    assert body["type"] == "FeatureCollection"
    assert body["numberMatched"] == body["numberReturned"] == len(published)
    assert ids_of(body) == sorted(item["id"] for item in published)
    by_id = {item["id"]: item for item in published}
    for feature in body["features"]:
        item = by_id[feature["id"]]
        lon, lat = feature["geometry"]["coordinates"]
        assert feature["geometry"]["type"] == "Point"
        assert abs(lon - item["lon"]) < 1e-6 and abs(lat - item["lat"]) < 1e-6
        props = feature["properties"]
        assert (props["name"], props["kind"], props["themes"]) == (item["name"], item["kind"], item["themes"])
        assert (props["gemeentecode"], props["wijkcode"], props["buurtcode"]) == (
            item["gemeentecode"], item["wijkcode"], item["buurtcode"])
        assert "status" not in props and props["voorbeeld"] is False


FILTERS = [
    ("kind=energiecooperatie", lambda i: i["kind"] == "energiecooperatie"),
    ("kind=Wijkco%C3%B6peratie", lambda i: i["kind"] == "wijkcooperatie"),  # a Dutch label
    ("kind=overig;lokaal_fonds", lambda i: i["kind"] in ("overig", "lokaal_fonds")),
    ("kind=overig&kind=Lokaal%20fonds", lambda i: i["kind"] in ("overig", "lokaal_fonds")),
    ("theme=ouderen", lambda i: "ouderen" in i["themes"]),
    ("theme=Zorg%20en%20welzijn", lambda i: "zorg_welzijn" in i["themes"]),
    ("theme=jeugd;cultuur", lambda i: {"jeugd", "cultuur"} & set(i["themes"])),
    ("theme=voedsel&kind=bewonersinitiatief", lambda i: "voedsel" in i["themes"] and i["kind"] == "bewonersinitiatief"),
    ("gemeente=GM0308", lambda i: i["gemeentecode"] == "GM0308"),
    ("gemeente=gm0363", lambda i: i["gemeentecode"] == "GM0363"),
    ("gemeente=GM0344", lambda i: i["gemeentecode"] == "GM0344"),
    ("wijk=WK030801", lambda i: i["wijkcode"] == "WK030801"),
    ("buurt=BU03080102", lambda i: i["buurtcode"] == "BU03080102"),
    ("buurt=BU03080102&kind=overig", lambda i: i["buurtcode"] == "BU03080102" and i["kind"] == "overig"),
    ("q=moestuin", lambda i: "moestuin" in (i["name"] + (i["description"] or "")).lower()),
    ("q=koken", lambda i: "koken" in (i["description"] or "").lower()),
    ("q=100%25", lambda i: "100%" in i["name"]),
    ("q=n_N", lambda i: "n_n" in i["name"].lower()),  # '_' is not a wildcard
    ("q=%25", lambda i: "%" in i["name"] + (i["description"] or "")),
    ("q=bestaat-nergens", lambda i: False),
    ("bbox=5.25,52.19,5.32,52.23", lambda i: 5.25 <= i["lon"] <= 5.32 and 52.19 <= i["lat"] <= 52.23),
    ("bbox=4.7,52.2,5.1,52.5", lambda i: 4.7 <= i["lon"] <= 5.1 and 52.2 <= i["lat"] <= 52.5),
    ("bbox=-180,-90,180,90", lambda i: True),
    ("bbox=100,-40,120,-10", lambda i: False),  # Australia: far outside RD New, still no error
    ("bbox=4.7,52.2,5.1,52.5&theme=ouderen", lambda i: 4.7 <= i["lon"] <= 5.1 and "ouderen" in i["themes"]),
]


@pytest.mark.parametrize("query, wanted", FILTERS, ids=[q for q, _ in FILTERS])
def test_filters_select_exactly_the_matching_published_initiatives(api, published, query, wanted):
    body = get_json(api, f"/api/v1/initiatives?limit=1000&{query}")
    expected = sorted(item["id"] for item in published if wanted(item))
    assert ids_of(body) == expected
    assert body["numberMatched"] == len(expected)


def test_the_filters_are_not_all_trivial(published):
    # guards the table above: each real filter keeps some items and drops others
    for query, wanted in FILTERS:
        hits = sum(1 for item in published if wanted(item))
        if "bestaat-nergens" not in query and "-180" not in query and "100,-40" not in query:
            assert 0 < hits < len(published), query


BAD = [
    ("bbox=5.3,52.2,5.2,52.3", "verkeerde volgorde"),
    ("bbox=5.2,52.3,5.3,52.2", "verkeerde volgorde"),
    ("bbox=5.2,52.2,5.3", "vier getallen"),
    ("bbox=5.2,52.2,5.3,52.3,1", "vier getallen"),
    ("bbox=a,b,c,d", "getal"),
    ("bbox=5.2,,5.3,52.3", "ontbreekt"),
    ("bbox=-200,52.2,5.3,52.3", "buiten de wereld"),
    ("bbox=5.2,-95,5.3,52.3", "buiten de wereld"),
    ("bbox=5.2,52.2,nan,52.3", "eindig"),
    ("limit=0", "tussen 1 en 1000"),
    ("limit=1001", "tussen 1 en 1000"),
    ("limit=-5", "tussen 1 en 1000"),
    ("limit=tien", "geheel getal"),
    ("offset=-1", "offset"),
    ("kind=onbekend", "soort"),
    ("theme=astrologie", "thema"),
    ("gemeente=Baarn", "geen CBS-code"),
    ("gemeente=WK030801", "gemeentecode"),
    ("wijk=BU03080102", "wijkcode"),
    ("buurt=GM0308", "buurtcode"),
    ("format=xml", "format"),
    ("q=" + "x" * 201, "te lang"),
]


@pytest.mark.parametrize("query, fragment", BAD, ids=[q[:30] for q, _ in BAD])
def test_bad_parameters_answer_400_in_the_error_shape(api, query, fragment):
    response = api.get(f"/api/v1/initiatives?{query}")
    assert response.status_code == 400
    body = response.get_json()
    assert set(body) == {"code", "description"}
    assert fragment in body["description"]


@pytest.mark.parametrize("limit", [1, 3, 7])
def test_paging_through_next_links_loses_and_repeats_nothing(api, published, limit):
    url, seen, pages = f"/api/v1/initiatives?limit={limit}", [], 0
    while url:
        body = get_json(api, url)
        pages += 1
        assert body["numberReturned"] == len(body["features"]) <= limit
        assert body["numberMatched"] == len(published)
        links = {link["rel"]: link["href"] for link in body["links"]}
        assert "self" in links and (("prev" in links) == (pages > 1))
        seen.extend(ids_of(body))
        url = links.get("next")
        if url:
            parts = urlsplit(url)
            url = f"{parts.path}?{parts.query}"
    assert seen == sorted(item["id"] for item in published)
    assert pages == -(-len(published) // limit)


def test_paging_keeps_the_filters_and_prev_goes_back(api):
    first = get_json(api, "/api/v1/initiatives?gemeente=GM0308&limit=4")
    next_url = next(link["href"] for link in first["links"] if link["rel"] == "next")
    assert "gemeente=GM0308" in next_url and "offset=4" in next_url
    second = get_json(api, "/api/v1/initiatives?gemeente=GM0308&limit=4&offset=4")
    prev_url = next(link["href"] for link in second["links"] if link["rel"] == "prev")
    assert "offset=0" in prev_url
    beyond = get_json(api, "/api/v1/initiatives?limit=4&offset=100000")
    assert beyond["features"] == [] and beyond["numberMatched"] > 0


# --- CSV ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("query", ["limit=1000", "gemeente=GM0308&theme=ontmoeting", "limit=5&offset=5", "q=moestuin"])
def test_csv_holds_the_same_selection_and_values_as_the_geojson(api, query):
    body = get_json(api, f"/api/v1/initiatives?{query}")
    response = api.get(f"/api/v1/initiatives?{query}&format=csv")
    assert response.status_code == 200 and response.mimetype == "text/csv"
    rows = list(csv.DictReader(io.StringIO(response.get_data(as_text=True))))
    assert [int(row["id"]) for row in rows] == ids_of(body)
    for feature, row in zip(body["features"], rows):
        lon, lat = feature["geometry"]["coordinates"]
        assert float(row["lon"]) == lon and float(row["lat"]) == lat
        for name, value in feature["properties"].items():
            if isinstance(value, list):
                assert row[name].split(";") == value if value else row[name] == ""
            elif isinstance(value, bool):
                assert row[name] == str(value).lower()
            elif value is None:
                assert row[name] == ""
            elif isinstance(value, str) and value[:1] in "=+-@":
                assert row[name] == "'" + value
            else:
                assert row[name] == str(value), name


def test_csv_neutralises_formulas(api, published):
    text = api.get("/api/v1/initiatives?format=csv&q=hyperlink").get_data(as_text=True)
    rows = list(csv.DictReader(io.StringIO(text)))
    assert len(rows) == 1
    assert rows[0]["name"] == "'=HYPERLINK(\"http://example.org\",\"klik\")"
    assert rows[0]["description"] == "'+31 formule"
    for row in csv.reader(io.StringIO(api.get("/api/v1/initiatives?format=csv&limit=1000").get_data(as_text=True))):
        assert not any(cell.startswith(("=", "+", "-", "@")) for cell in row)


def test_csv_pages_carry_a_link_header(api):
    response = api.get("/api/v1/initiatives?format=csv&limit=2&offset=2")
    assert 'rel="next"' in response.headers["Link"] and 'rel="prev"' in response.headers["Link"]
    assert int(response.headers["X-Number-Matched"]) > 4


# --- one initiative ----------------------------------------------------------------------------------

def test_one_initiative_is_a_feature(api, published):
    item = published[3]
    response = api.get(f"/api/v1/initiatives/{item['id']}")
    assert response.status_code == 200 and response.mimetype == "application/geo+json"
    body = response.get_json()
    assert body["type"] == "Feature" and body["id"] == item["id"]
    assert body["properties"]["name"] == item["name"]


@pytest.mark.parametrize("path", ["0", "-1", "999999", "99999999999999999999", "abc", "1.5", "%27%20OR%201=1"])
def test_unknown_or_malformed_ids_are_404_json(api, path):
    response = api.get(f"/api/v1/initiatives/{path}")
    assert response.status_code == 404
    assert set(response.get_json()) == {"code", "description"}


def test_unpublished_initiatives_are_invisible(api, dataset):
    for item in dataset[1]:
        if item["status"] != "published":
            assert api.get(f"/api/v1/initiatives/{item['id']}").status_code == 404
            assert get_json(api, f"/api/v1/initiatives?q={item['name']}")["numberMatched"] == 0


# --- nearby ---------------------------------------------------------------------------------------

def _geodesic(item, lon, lat) -> float:
    return GEOD.inv(lon, lat, item["lon"], item["lat"])[2]


@pytest.mark.parametrize("lon, lat, radius", [(5.2878, 52.2165, 2000), (5.27, 52.20, 5000), (4.9, 52.37, 50000),
                                              (5.2878, 52.2165, 300)])
def test_nearby_orders_by_true_distance_within_the_radius(api, published, lon, lat, radius):
    body = get_json(api, f"/api/v1/initiatives/nearby?lat={lat}&lon={lon}&radius_m={radius}&limit=100")
    within = sorted((_geodesic(item, lon, lat), item["id"]) for item in published
                    if _geodesic(item, lon, lat) <= radius)
    assert ids_of(body) == [i for _, i in within][:100]
    assert body["numberMatched"] == len(within)
    for feature, (expected, _) in zip(body["features"], within):
        assert abs(feature["properties"]["distance_m"] - expected) < 1.0
    distances = [f["properties"]["distance_m"] for f in body["features"]]
    assert distances == sorted(distances)
    assert body["searched"] == {"lat": lat, "lon": lon, "precision": "coordinates",
                                "label": f"{lat}, {lon}", "source": "request"}


def test_nearby_limit_kind_and_theme(api, published):
    lon, lat = 5.2878, 52.2165
    body = get_json(api, f"/api/v1/initiatives/nearby?lat={lat}&lon={lon}&limit=3&radius_m=50000")
    assert body["numberReturned"] == 3 and body["numberMatched"] > 3
    body = get_json(api, f"/api/v1/initiatives/nearby?lat={lat}&lon={lon}&radius_m=50000&kind=overig&theme=ontmoeting")
    expected = sorted((_geodesic(i, lon, lat), i["id"]) for i in published
                      if i["kind"] == "overig" and "ontmoeting" in i["themes"] and _geodesic(i, lon, lat) <= 50000)
    assert ids_of(body) == [i for _, i in expected][:10] and expected


def test_nearby_excludes_unpublished_even_when_closest(api, dataset):
    pending = next(item for item in dataset[1] if item["status"] == "pending")
    body = get_json(api, f"/api/v1/initiatives/nearby?lat={pending['lat']}&lon={pending['lon']}&radius_m=50")
    hidden = {item["id"] for item in dataset[1] if item["status"] != "published"}
    assert body["features"] and not hidden & set(ids_of(body))


@pytest.mark.parametrize("query", ["lat=48.8566&lon=2.3522", "lat=-52.2&lon=-174.6", "lat=90&lon=180", "lat=0&lon=0"])
def test_nearby_far_from_the_netherlands_is_empty_not_an_error(api, query):
    body = get_json(api, f"/api/v1/initiatives/nearby?{query}&radius_m=50000")
    assert body["features"] == [] and body["numberMatched"] == 0


@pytest.mark.parametrize("query, code, fragment", [
    ("", "MissingParameterValue", "postcode"),
    ("lat=52.2", "MissingParameterValue", "'lon' ontbreekt"),
    ("lat=52.2&lon=5.3&radius_m=0", "InvalidParameterValue", "tussen 1 en 50000"),
    ("lat=52.2&lon=5.3&radius_m=50001", "InvalidParameterValue", "tussen 1 en 50000"),
    ("lat=52.2&lon=5.3&limit=101", "InvalidParameterValue", "tussen 1 en 100"),
    ("lat=52.2&lon=5.3&limit=0", "InvalidParameterValue", "tussen 1 en 100"),
    ("lat=52.2&lon=5.3&postcode=3741AB", "InvalidParameterValue", "niet allebei"),
    ("postcode=12345", "InvalidParameterValue", "geen postcode"),
    ("postcode=0123AB", "InvalidParameterValue", "geen postcode"),
    ("lat=52.2&lon=5.3&kind=x", "InvalidParameterValue", "soort"),
])
def test_nearby_bad_input_is_400(api, query, code, fragment):
    response = api.get(f"/api/v1/initiatives/nearby?{query}")
    assert response.status_code == 400
    body = response.get_json()
    assert body["code"] == code and fragment in body["description"]


def _pc4(code: str) -> tuple[float, float]:
    """(lon, lat) of a PC4 centroid, read straight from the shipped file."""
    for line in (ROOT / "data" / "postcodes" / "pc4_nl.tsv").read_text(encoding="utf-8").splitlines()[1:]:
        fields = line.split("\t")
        if fields[0] == code:
            return float(fields[5]), float(fields[4])
    raise KeyError(code)


@pytest.mark.parametrize("postcode", ["3741AB", "3741%20ab", "3741"])
def test_nearby_by_postcode_works_offline_and_says_so(api, published, postcode):
    body = get_json(api, f"/api/v1/initiatives/nearby?postcode={postcode}&radius_m=3000&limit=100")
    searched = body["searched"]
    lon, lat = _pc4("3741")
    assert searched["precision"] == "postcode"
    assert abs(searched["lon"] - lon) < 1e-6 and abs(searched["lat"] - lat) < 1e-6
    assert searched["label"] and searched["source"]
    within = sorted((_geodesic(i, lon, lat), i["id"]) for i in published if _geodesic(i, lon, lat) <= 3000)
    assert ids_of(body) == [i for _, i in within] and within


def test_nearby_by_address_with_postcode_falls_back_to_the_postcode_offline(api):
    body = get_json(api, "/api/v1/initiatives/nearby?address=Laanstraat%201&postcode=3743%20BB")
    assert body["searched"]["precision"] == "postcode"
    lon, lat = _pc4("3743")
    assert abs(body["searched"]["lon"] - lon) < 1e-6 and abs(body["searched"]["lat"] - lat) < 1e-6


def test_one_geocoder_per_app(dataset):
    app = create_app(settings_for(dataset[0], geocoder="offline"))
    client = app.test_client()
    assert "geoservice.geocoder" not in app.extensions  # made on first use, not at start
    client.get("/api/v1/initiatives/nearby?postcode=3741")
    first = app.extensions["geoservice.geocoder"]
    client.get("/api/v1/initiatives/nearby?postcode=3743")
    assert app.extensions["geoservice.geocoder"] is first


@pytest.mark.parametrize("query, status", [("postcode=9999", 404), ("postcode=1000AA", 404),
                                           ("address=Laanstraat%201%20Baarn", (404, 503))])
def test_nearby_when_nothing_can_be_located(api, query, status):
    response = api.get(f"/api/v1/initiatives/nearby?{query}")
    assert response.status_code in (status if isinstance(status, tuple) else (status,))
    assert set(response.get_json()) == {"code", "description"}


# --- hostile input ----------------------------------------------------------------------------------

INJECTIONS = ["' OR 1=1--", "1; DROP TABLE initiative;--", "%' OR '%'='", "\\", "\x00", "🙂", "1e309", "NaN",
              "GM0308' --", "..", "a" * 5000]
PARAMETERS = ["bbox", "kind", "theme", "gemeente", "wijk", "buurt", "q", "limit", "offset", "format"]
NEARBY_PARAMETERS = ["lat", "lon", "postcode", "address", "radius_m", "limit", "kind", "theme"]


@pytest.mark.parametrize("value", INJECTIONS, ids=range(len(INJECTIONS)))
def test_injection_looking_values_never_give_500(api, published, value):
    for name in PARAMETERS:
        response = api.get("/api/v1/initiatives", query_string={name: value})
        assert response.status_code in (200, 400), (name, response.status_code)
        assert response.status_code == 400 or response.get_json() is not None or name == "format"
    for name in NEARBY_PARAMETERS:
        base = {"lat": "52.2165", "lon": "5.2878"} if name not in ("postcode", "address", "lat", "lon") else {}
        response = api.get("/api/v1/initiatives/nearby", query_string={**base, name: value})
        # address/postcode may reach the geocoder: not found (404) or unavailable (503) are honest answers
        assert response.status_code in (200, 400, 404, 503), (name, response.status_code)
        assert set(response.get_json()) >= ({"code", "description"} if response.status_code >= 400 else {"features"})
    assert get_json(api, "/api/v1/initiatives?limit=1000")["numberMatched"] == len(published)


def test_combinations_of_filters_agree_with_python(api, published):
    for kind, theme in itertools.islice(itertools.product(KINDS, THEME_KEYS), 0, None, 11):
        body = get_json(api, f"/api/v1/initiatives?kind={kind}&theme={theme}&gemeente=GM0308")
        expected = [i["id"] for i in published
                    if i["kind"] == kind and theme in i["themes"] and i["gemeentecode"] == "GM0308"]
        assert ids_of(body) == sorted(expected)


def test_nearby_is_exact_in_a_dense_cluster_with_near_ties(fresh_db_url, engine_for, app_for):
    """Hundreds of candidates, equal distances in different directions, points just inside and outside."""
    rng = random.Random(20261127)
    lon0, lat0 = 5.2878, 52.2165
    distances = [rng.uniform(0, 3000) for _ in range(250)] + [150.0, 150.0, 150.02, 999.7, 1000.3, 1000.3]
    with engine_for(fresh_db_url).begin() as conn:
        points = {}
        for d in distances:
            lon, lat, _ = GEOD.fwd(lon0, lat0, rng.uniform(0, 360), d)
            points[make_initiative(conn, lon=lon, lat=lat)] = GEOD.inv(lon0, lat0, lon, lat)[2]
    client = app_for(fresh_db_url).test_client()
    for limit, radius in [(10, 1000), (100, 1000), (100, 3000), (1, 200)]:
        body = get_json(client, f"/api/v1/initiatives/nearby?lat={lat0}&lon={lon0}&radius_m={radius}&limit={limit}")
        inside = sorted((d, i) for i, d in points.items() if d <= radius)
        assert body["numberMatched"] == len(inside)
        got = [points[i] for i in ids_of(body)]
        assert got == sorted(got) or all(b - a > -0.005 for a, b in zip(got, got[1:]))
        assert len(got) == min(limit, len(inside)) and max(got) <= radius
        # the same items as the true nearest, up to ties at the cut (1 mm)
        cut = inside[len(got) - 1][0]
        assert {i for d, i in inside if d < cut - 0.001} <= set(ids_of(body))
        for feature in body["features"]:
            assert abs(feature["properties"]["distance_m"] - points[feature["id"]]) < 0.1


def test_bbox_is_exact_at_its_edges_for_small_and_large_boxes(fresh_db_url, engine_for, app_for):
    """Points a metre or less inside and outside the west and south edges (lon 5.0, lat 52.0)."""
    offsets = (-1e-5, -2e-6, 2e-6, 1e-5)  # about 0.7 m and 0.14 m in lon; 1.1 m and 0.2 m in lat
    points = {}
    with engine_for(fresh_db_url).begin() as conn:
        for along in (52.05, 52.2, 52.45):
            for off in offsets:
                points[make_initiative(conn, lon=5.0 + off, lat=along)] = (5.0 + off, along)
        for along in (5.05, 5.3, 5.45):
            for off in offsets:
                points[make_initiative(conn, lon=along, lat=52.0 + off)] = (along, 52.0 + off)
    client = app_for(fresh_db_url).test_client()
    for box in [(5.0, 52.0, 5.5, 52.5), (5.0, 52.0, 8.0, 54.0), (5.0, 52.0, 30.0, 70.0), (5.0, 52.0, 180.0, 90.0)]:
        body = get_json(client, "/api/v1/initiatives?limit=1000&bbox=" + ",".join(map(str, box)))
        expected = sorted(i for i, (lon, lat) in points.items()
                          if box[0] <= lon <= box[2] and box[1] <= lat <= box[3])
        assert ids_of(body) == expected, box
