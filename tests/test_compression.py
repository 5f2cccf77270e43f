"""Light on a phone (issue 13): gzip for HTML, JSON and GeoJSON, and static files at fingerprinted URLs with
long-lived cache headers. The byte counts in a real browser: bench/page_weight.py."""

from __future__ import annotations

import gzip
import re

import pytest

GZIP = {"Accept-Encoding": "gzip, deflate, br"}


def same(body: bytes) -> bytes:
    """A page without what differs per request: the CSP nonce and Folium's random element names."""
    return re.sub(rb"[0-9a-f]{32}|nonce-?[\w+/=\"-]{10,40}", b"#", body)


@pytest.mark.parametrize("path", ["/gemeenten", "/api/v1/gaps/summary", "/api/v1/gaps?gemeente=GM0308&format=geojson",
                                  "/api/v1/openapi.json"])
def test_text_answers_are_gzipped_when_the_client_accepts_it(client, path):
    plain = client.get(path)
    packed = client.get(path, headers=GZIP)
    assert plain.status_code == packed.status_code == 200
    assert "Content-Encoding" not in plain.headers and packed.headers["Content-Encoding"] == "gzip"
    assert "Accept-Encoding" in packed.headers["Vary"] and "Accept-Encoding" in plain.headers["Vary"]
    assert same(gzip.decompress(packed.get_data())) == same(plain.get_data())
    assert int(packed.headers["Content-Length"]) == len(packed.get_data()) < len(plain.get_data()) / 3


def test_small_answers_head_and_refusals_stay_plain(client):
    small = client.get("/healthz", headers=GZIP)
    assert len(small.get_data()) < 1024 and "Content-Encoding" not in small.headers
    head = client.head("/gemeenten", headers=GZIP)
    assert "Content-Encoding" not in head.headers
    refused = client.get("/gemeenten", headers={"Accept-Encoding": "gzip;q=0, identity"})
    assert "Content-Encoding" not in refused.headers


def test_a_gzipped_api_answer_has_a_weak_etag_that_still_gives_304(client):
    path = "/api/v1/gaps?gemeente=GM0308&format=geojson"
    plain = client.get(path)
    first = client.get(path, headers=GZIP)
    strong = plain.headers["ETag"]
    assert first.headers["Content-Encoding"] == "gzip" and first.headers["ETag"] == f"W/{strong}"
    again = client.get(path, headers={**GZIP, "If-None-Match": first.headers["ETag"]})
    assert again.status_code == 304 and not again.get_data()


def static_urls(html: str) -> list[str]:
    return re.findall(r'(?:src|href)="(/static/web/[^"]+)"', html)


def test_static_files_have_fingerprinted_urls_that_may_be_kept_for_a_year(client):
    urls = static_urls(client.get("/gemeente/GM0308").get_data(as_text=True))
    assert any("leaflet.js" in u for u in urls) and any("style.css" in u for u in urls)
    assert all(re.search(r"\?v=[0-9a-f]{12}$", u) for u in urls), urls
    leaflet = next(u for u in urls if u.split("?")[0].endswith("leaflet.js"))
    answer = client.get(leaflet, headers=GZIP)
    assert answer.status_code == 200 and "immutable" in answer.headers["Cache-Control"]
    assert "max-age=31536000" in answer.headers["Cache-Control"]
    assert answer.headers["Content-Encoding"] == "gzip"
    body = gzip.decompress(answer.get_data())
    assert body == client.get(leaflet.split("?")[0]).get_data()
    assert len(answer.get_data()) < len(body) / 2
    # without the fingerprint, or with an old one, it is revalidated as before
    for url in (leaflet.split("?")[0], leaflet.split("?")[0] + "?v=000000000000"):
        assert "immutable" not in (client.get(url).headers.get("Cache-Control") or "")
    # and a returning browser's conditional request gets a 304
    etag = answer.headers["ETag"]
    assert client.get(leaflet, headers={**GZIP, "If-None-Match": etag}).status_code == 304


def test_the_fingerprint_follows_the_content(tmp_path, monkeypatch):
    from web import assets, pages

    monkeypatch.setattr(pages, "static_folder", str(tmp_path))
    (tmp_path / "a.js").write_text("one")
    first = assets.fingerprint("a.js")
    (tmp_path / "a.js").write_text("two!")
    assert assets.fingerprint("a.js") != first
    assert assets.fingerprint("../etc/passwd") is None and assets.fingerprint("missing.js") is None
