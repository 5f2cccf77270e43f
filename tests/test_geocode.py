"""Geocoding against a local server that answers like the PDOK Locatieserver, and the PC4 table."""

from __future__ import annotations

import csv
import importlib.machinery
import importlib.util
import json
import re
import socket
import threading
import time
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import pytest

from geoservice import geocode
from geoservice.config import Settings
from geoservice.errors import GeocodeNotFound, GeocoderUnavailable, InvalidParameter
from geoservice.geocode import Geocoder, Located, normalise_postcode, pc4_table

from .helpers import QuietHandler, serving

ROOT = Path(__file__).resolve().parents[1]
PC4_FILE = ROOT / "data" / "postcodes" / "pc4_nl.tsv"
SHARED = ROOT.parent / "shared" / "data"

LAANSTRAAT = {"type": "adres", "weergavenaam": "Laanstraat 1, 3743BA Baarn",
              "centroide_ll": "POINT(5.28731 52.21468)", "postcode": "3743BA", "gemeentecode": "0308"}
# What the free search offers as its best guess for a street that is not there: somewhere else.
ELSEWHERE = {"type": "adres", "weergavenaam": "Onbekendelaan 3, 9401AA Assen",
             "centroide_ll": "POINT(6.56 52.99)", "postcode": "9401AA", "gemeentecode": "0106"}
PC6 = {"type": "postcode", "weergavenaam": "Laanstraat, 3743BA Baarn",
       "centroide_ll": "POINT(5.2871 52.2147)", "postcode": "3743BA", "gemeentecode": "0308"}
# lower-case text in q -> doc
KNOWN = {"laanstraat 1": LAANSTRAAT, "onbekendestraat": ELSEWHERE, "3743ba": PC6}
BAARN_PC4 = (5.2822, 52.211)


class FakeLocatieserver(QuietHandler):
    """/free in the PDOK v3.1 shape; `mode` makes it fail on purpose."""

    mode = "ok"  # ok | error | slow | garbage | badpoint
    requests: list[dict] = []
    release = threading.Event()

    def do_GET(self):  # noqa: N802 (http.server's name)
        url = urlparse(self.path)
        query = {k: v[0] for k, v in parse_qs(url.query).items()}
        FakeLocatieserver.requests.append({"path": url.path, **query})
        if self.mode == "slow":
            self.release.wait(5)
            return  # the client gave up long ago; writing would only raise BrokenPipeError
        if self.mode == "error":
            self.send_error(500)
            return
        if url.path != "/bzk/locatieserver/search/v3_1/free":
            self.send_error(404)
            return
        kind = query.get("fq", "").removeprefix("type:")
        docs = [{k: v for k, v in doc.items() if k != "type"}
                for text, doc in KNOWN.items() if text in query.get("q", "").lower() and doc["type"] == kind]
        if self.mode == "badpoint":
            docs = [{**doc, "centroide_ll": "POINT(5.28)"} for doc in docs]
        answer = {"response": {"numFound": len(docs), "start": 0, "maxScore": 9.5, "docs": docs[:1]}}
        body = b"<html>Onderhoud</html>" if self.mode == "garbage" else json.dumps(answer).encode()
        self.answer(body)


@pytest.fixture(autouse=True)
def isolated(monkeypatch):
    """Fresh caches each test, and no proxy between us and 127.0.0.1."""
    for name in ("http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY", "all_proxy", "ALL_PROXY"):
        monkeypatch.delenv(name, raising=False)
    geocode.clear_caches()
    yield
    geocode.clear_caches()


@pytest.fixture(scope="module")
def fake_server():
    with serving(FakeLocatieserver) as port:
        yield f"http://127.0.0.1:{port}/bzk/locatieserver/search/v3_1"
        FakeLocatieserver.release.set()  # a slow answer still waiting ends, so the server can stop


@pytest.fixture
def fake(fake_server):
    """Base URL of the fake Locatieserver, reset; its class attributes steer and record it."""
    FakeLocatieserver.mode = "ok"
    FakeLocatieserver.requests = []
    FakeLocatieserver.release = threading.Event()
    yield fake_server
    FakeLocatieserver.release.set()


@pytest.fixture
def closed_url():
    """A Locatieserver URL on a port where nothing listens."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}/bzk/locatieserver/search/v3_1"


def online(url: str, **overrides) -> Geocoder:
    options = {"geocoder_timeout_s": 0.5, **overrides}
    return Geocoder(Settings(geocoder="pdok", locatieserver_url=url, **options))


def offline(**overrides) -> Geocoder:
    return Geocoder(Settings(geocoder="offline", locatieserver_url="http://127.0.0.1:9/unused", **overrides))


def is_baarn_pc4(found: Located) -> bool:
    return (found.lon, found.lat, found.precision, found.source) == (*BAARN_PC4, "postcode", "pc4")


# --- online ----------------------------------------------------------------------------------

def test_address_found(fake):
    found = online(fake).locate(address="Laanstraat 1", postcode="3743 ba")
    assert found == Located(lon=5.28731, lat=52.21468, precision="address",
                            label="Laanstraat 1, 3743BA Baarn", source="pdok")
    [request] = FakeLocatieserver.requests
    assert request["q"] == "Laanstraat 1 3743BA"
    assert (request["fq"], request["rows"]) == ("type:adres", "1")
    assert set(request["fl"].split(",")) >= {"weergavenaam", "centroide_ll", "postcode", "gemeentecode"}


def test_address_with_postcode_in_text_is_not_repeated(fake):
    found = online(fake).locate(address="Laanstraat 1, 3743 BA Baarn", postcode="3743BA")
    assert found.precision == "address"
    assert FakeLocatieserver.requests[0]["q"] == "Laanstraat 1, 3743 BA Baarn"


def test_address_not_found_with_postcode_falls_back_to_pc4(fake):
    found = online(fake).locate(address="Nergensstraat 5", postcode="3743BA")
    assert is_baarn_pc4(found)
    assert found.label == "postcode 3743 (Baarn)"
    assert len(FakeLocatieserver.requests) == 1


def test_best_guess_in_another_pc4_is_no_match(fake):
    assert online(fake).locate(address="Onbekendestraat 3", postcode="3743").lon == BAARN_PC4[0]
    # without a postcode to compare with, the guess is what the Locatieserver found
    assert online(fake).locate(address="Onbekendestraat 3").label == ELSEWHERE["weergavenaam"]


def test_address_not_found_without_postcode(fake):
    with pytest.raises(GeocodeNotFound, match="niet gevonden"):
        online(fake).locate(address="Nergensstraat 5, Nergenshuizen")


def test_pc4_never_asks_the_locatieserver(fake):
    assert is_baarn_pc4(online(fake).locate(postcode="3743"))
    assert FakeLocatieserver.requests == []


def test_pc6_online(fake):
    found = online(fake).locate(postcode="3743ba")
    assert (found.lon, found.lat, found.precision, found.source) == (5.2871, 52.2147, "postcode", "pdok")
    assert FakeLocatieserver.requests[0]["fq"] == "type:postcode"


def test_unknown_pc6_falls_back_to_pc4(fake):
    assert is_baarn_pc4(online(fake).locate(postcode="3743ZZ"))
    assert len(FakeLocatieserver.requests) == 1


@pytest.mark.parametrize("mode", ["down", "error", "slow", "garbage", "badpoint"])
def test_failure_falls_back_to_pc4_and_is_not_cached(fake, closed_url, mode):
    url = closed_url if mode == "down" else fake
    FakeLocatieserver.mode = mode
    geocoder = online(url, geocoder_timeout_s=0.2)
    assert is_baarn_pc4(geocoder.locate(address="Laanstraat 1", postcode="3743BA"))
    assert is_baarn_pc4(geocoder.locate(postcode="3743BA"))
    if mode != "down":
        FakeLocatieserver.release.set()
        FakeLocatieserver.mode = "ok"
        asked = len(FakeLocatieserver.requests)
        assert geocoder.locate(address="Laanstraat 1", postcode="3743BA").precision == "address"
        assert len(FakeLocatieserver.requests) == asked + 1


def test_timeout_is_short(fake):
    FakeLocatieserver.mode = "slow"
    timer = threading.Timer(3, FakeLocatieserver.release.set)  # safety net; the geocoder must not wait for it
    timer.start()
    try:
        started = time.monotonic()
        online(fake, geocoder_timeout_s=0.2).locate(address="Laanstraat 1", postcode="3743BA")
        assert time.monotonic() - started < 2
    finally:
        timer.cancel()


def test_breaker_skips_a_failing_service_for_a_while(fake):
    FakeLocatieserver.mode = "error"
    geocoder = online(fake)
    for number in range(geocode.BREAKER_FAILURES + 2):
        assert is_baarn_pc4(geocoder.locate(address=f"Laanstraat {number}", postcode="3743"))
    assert len(FakeLocatieserver.requests) == geocode.BREAKER_FAILURES
    with pytest.raises(GeocoderUnavailable):
        geocoder.locate(address="Laanstraat 1, Baarn")
    assert len(FakeLocatieserver.requests) == geocode.BREAKER_FAILURES


def test_breaker_tries_again_after_the_cool_down(fake, monkeypatch):
    monkeypatch.setattr(geocode, "BREAKER_COOLDOWN_S", 0.0)
    FakeLocatieserver.mode = "error"
    for number in range(geocode.BREAKER_FAILURES):
        online(fake).locate(address=f"Laanstraat {number}", postcode="3743")
    FakeLocatieserver.mode = "ok"
    assert online(fake).locate(address="Laanstraat 1", postcode="3743").precision == "address"


def test_address_only_and_service_down(closed_url):
    with pytest.raises(GeocoderUnavailable, match="postcode werkt wel"):
        online(closed_url).locate(address="Laanstraat 1, Baarn")


def test_address_only_but_pc6_in_text_and_service_down(closed_url):
    assert is_baarn_pc4(online(closed_url).locate(address="Laanstraat 1, 3743 BA Baarn"))


def test_cache_is_shared_by_geocoders_on_one_url(fake):
    first = online(fake).locate(address="Laanstraat 1", postcode="3743BA")
    assert online(fake).locate(address="Laanstraat 1", postcode="3743BA") == first
    with pytest.raises(GeocodeNotFound):
        online(fake).locate(address="Nergensstraat 5")
    with pytest.raises(GeocodeNotFound):
        online(fake).locate(address="Nergensstraat 5")
    assert len(FakeLocatieserver.requests) == 2


def test_cache_is_bounded():
    cache = geocode._LRU(2)
    for key in "abc":
        cache.put(key, key.upper())
    cache.get("b")
    cache.put("d", "D")
    assert len(cache) == 2
    assert (cache.get("a"), cache.get("c"), cache.get("b")) == ((False, None), (False, None), (True, "B"))


def test_concurrent_lookups_agree(fake):
    geocoder = online(fake)
    results = []
    threads = [threading.Thread(target=lambda: results.append(geocoder.locate(address="Laanstraat 1")))
               for _ in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(results) == 16 and len(set(results)) == 1


# --- offline ---------------------------------------------------------------------------------

def test_offline_never_calls_the_server(fake):
    geocoder = Geocoder(Settings(geocoder="offline", locatieserver_url=fake))
    assert is_baarn_pc4(geocoder.locate(postcode="3743BA"))
    assert is_baarn_pc4(geocoder.locate(address="Laanstraat 1", postcode="3743"))
    with pytest.raises(GeocoderUnavailable, match="postcode werkt wel"):
        geocoder.locate(address="Laanstraat 1, Baarn")
    assert FakeLocatieserver.requests == []


# --- input -----------------------------------------------------------------------------------

@pytest.mark.parametrize("raw, expected", [
    ("1234 ab", "1234AB"), ("1234AB", "1234AB"), (" 3743ba ", "3743BA"), ("1234  Ab", "1234AB"),
    ("1234", "1234"), ("9999", "9999"),
])
def test_normalise_postcode(raw, expected):
    assert normalise_postcode(raw) == expected


@pytest.mark.parametrize("raw", [
    "", "   ", "0123", "0123AB", "123", "12345", "1234A", "1234ABC", "1234-AB", "AB1234", "12 34AB", "1234 1",
    "postcode", "1234AB\x00",
])
def test_invalid_postcodes(raw):
    with pytest.raises(InvalidParameter, match="is geen postcode"):
        normalise_postcode(raw)
    if raw.strip():  # a blank postcode next to an address just means "no postcode"
        with pytest.raises(InvalidParameter, match="is geen postcode"):
            offline().locate(address="Laanstraat 1", postcode=raw)


@pytest.mark.parametrize("kwargs", [{}, {"address": "", "postcode": ""}, {"address": "  ", "postcode": None}])
def test_empty_input(kwargs):
    with pytest.raises(InvalidParameter, match="adres of een postcode"):
        offline().locate(**kwargs)


def test_overlong_address():
    with pytest.raises(InvalidParameter, match="te lang"):
        offline().locate(address="x" * 1000, postcode="3743")


def test_unknown_pc4():
    assert "9999" not in pc4_table(PC4_FILE)
    with pytest.raises(GeocodeNotFound, match="9999"):
        offline().locate(postcode="9999AA")


def test_missing_postcode_file(tmp_path):
    with pytest.raises(GeocoderUnavailable, match="postcodebestand"):
        offline(postcode_file=tmp_path / "missing.tsv").locate(postcode="3743")


# --- the PC4 table ---------------------------------------------------------------------------

def test_pc4_file_shape():
    with PC4_FILE.open(encoding="utf-8", newline="") as handle:
        rows = list(csv.reader(handle, delimiter="\t", quoting=csv.QUOTE_NONE))
    assert rows[0] == list(geocode.PC4_COLUMNS)
    postcodes = [row[0] for row in rows[1:]]
    assert postcodes == sorted(set(postcodes)) and len(postcodes) == 4085
    for postcode, place, gemeente, province, lat, lon in rows[1:]:
        assert re.fullmatch(r"[1-9]\d{3}", postcode) and place and province
        assert gemeente == "" or re.fullmatch(r"GM\d{4}", gemeente)
        assert 50.7 < float(lat) < 53.6 and 3.3 < float(lon) < 7.3


@pytest.mark.skipif(not (SHARED / "postcodes").is_dir(), reason="../shared/data is not present")
def test_pc4_file_rebuilds_byte_identical():
    loader = importlib.machinery.SourceFileLoader("build_postcode_data", str(ROOT / "scripts" / "build-postcode-data"))
    spec = importlib.util.spec_from_loader(loader.name, loader)
    module = importlib.util.module_from_spec(spec)
    loader.exec_module(module)
    content, _summary = module.build(SHARED)
    assert content == PC4_FILE.read_bytes()


def test_pc4_centroid_of_3743_lies_in_baarn(client):
    found = offline().locate(postcode="3743")
    response = client.get(f"/api/v1/areas/lookup?lat={found.lat}&lon={found.lon}")
    assert response.status_code == 200
    assert response.get_json()["gemeente"]["code"] == "GM0308"
