"""load-cbs --from-pdok against a local server that answers like the PDOK OGC API."""

from __future__ import annotations

import json
from urllib.parse import parse_qs, urlencode, urlparse

import pytest
from click.testing import CliRunner

from geoservice.cli import main

from .helpers import QuietHandler, fingerprint, scalar, serving, shipped

PAGE = 4  # small pages so that rel=next links must be followed


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.capitalize() for part in rest)


def _collections() -> dict[str, list[dict]]:
    sources = {
        "gemeenten": shipped("gemeenten_2024.gpkg"),
        "wijken": shipped("wijken_2024.gpkg"),
        "buurten": shipped("buurten_2024_baarn.gpkg"),
    }
    out = {}
    for name, frame in sources.items():
        frame = frame.drop(columns=[c for c in frame.columns if c == "jaar"])
        frame = frame.rename(columns={c: _camel(c) for c in frame.columns if c != "geometry"})
        out[name] = json.loads(frame.to_crs(4326).to_json(drop_id=True))["features"]
    return out


class FakePdok(QuietHandler):
    collections: dict = {}
    requests: list = []

    def do_GET(self):  # noqa: N802 (http.server's name)
        url = urlparse(self.path)
        query = {k: v[0] for k, v in parse_qs(url.query).items()}
        FakePdok.requests.append(self.path)
        parts = url.path.strip("/").split("/")
        if parts[:4] != ["cbs", "wijken-en-buurten-2024", "ogc", "v1"] or parts[-1] != "items":
            self.send_error(404)
            return
        features = [f for f in self.collections.get(parts[5], [])
                    if f["properties"].get("gemeentecode") == query.get("gemeentecode")]
        offset = int(query.get("offset", 0))
        page = features[offset:offset + PAGE]
        links = []
        if offset + PAGE < len(features):
            nxt = {**query, "offset": offset + PAGE}
            links.append({"rel": "next", "type": "application/geo+json",
                          "href": f"http://{self.headers['Host']}{url.path}?{urlencode(nxt)}"})
        body = json.dumps({"type": "FeatureCollection", "features": page, "links": links,
                           "numberReturned": len(page)}).encode()
        self.answer(body, "application/geo+json")


@pytest.fixture(scope="module")
def fake_pdok():
    FakePdok.collections = _collections()
    with serving(FakePdok) as port:
        yield f"http://127.0.0.1:{port}/cbs/wijken-en-buurten-{{year}}/ogc/v1"


def test_from_pdok_loads_one_gemeente_following_pages(empty_db_url, runner_env, fake_pdok):
    FakePdok.requests.clear()
    result = CliRunner().invoke(
        main, ["load-cbs", "--from-pdok", "--year", "2024", "--gemeente", "GM0308"],
        env=runner_env(empty_db_url, pdok_cbs_url=fake_pdok))
    assert result.exit_code == 0, result.output
    assert scalar(empty_db_url, "SELECT count(*) FROM gemeente") == 1
    assert scalar(empty_db_url, "SELECT count(*) FROM wijk WHERE gemeentecode = 'GM0308'") == 5
    assert scalar(empty_db_url, "SELECT count(*) FROM buurt") == 21
    assert scalar(empty_db_url, "SELECT sum(aantal_inwoners) FROM buurt") == 25065  # aantalInwoners
    assert scalar(empty_db_url, "SELECT jaar FROM cbs_jaar WHERE is_active") == 2024
    buurt_pages = [r for r in FakePdok.requests if "/buurten/" in r]
    assert len(buurt_pages) == 6 and any("offset=20" in r for r in buurt_pages)
    assert "buurten: 21 gebieden opgehaald" in result.output


def test_from_pdok_unknown_gemeente_is_an_error(empty_db_url, runner_env, fake_pdok):
    result = CliRunner().invoke(
        main, ["load-cbs", "--from-pdok", "--year", "2024", "--gemeente", "GM9999"],
        env=runner_env(empty_db_url, pdok_cbs_url=fake_pdok))
    assert result.exit_code == 1 and "GM9999" in result.output
    assert scalar(empty_db_url, "SELECT count(*) FROM gemeente") == 0


def test_from_pdok_unreachable_changes_nothing(fresh_db_url, runner_env):
    before = fingerprint(fresh_db_url)
    result = CliRunner().invoke(
        main, ["load-cbs", "--from-pdok", "--year", "2024"],
        env=runner_env(fresh_db_url, pdok_cbs_url="http://127.0.0.1:9/{year}", http_timeout_s=2))
    assert result.exit_code == 1 and "niet bereikbaar" in result.output
    assert fingerprint(fresh_db_url) == before


@pytest.mark.parametrize("args, message", [
    (["--from-pdok"], "--year"),
    (["--from-pdok", "--year", "2024", "somefile.gpkg"], "niet allebei"),
    (["--gemeente", "GM0308"], "alleen met --from-pdok"),
    (["--from-pdok", "--year", "2024", "--gemeente", "Baarn"], "geen CBS-code"),
    (["bestaat-niet.gpkg"], "bestaat niet"),
])
def test_load_cbs_usage_errors(empty_db_url, runner_env, args, message):
    result = CliRunner().invoke(main, ["load-cbs", *args], env=runner_env(empty_db_url))
    assert result.exit_code != 0
    assert message in result.output
