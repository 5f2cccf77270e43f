"""A partner's themes round-trip: the partner import (YAML and JSON), the API, API editing and the web editor."""

from __future__ import annotations

import json

import pytest
import yaml
from sqlalchemy import text
from sqlalchemy.orm import Session

from geoservice import create_app, db
from geoservice.imports.partners import import_partners
from geoservice.serving import ratelimit

from .conftest import settings_for, app_on
from .helpers import csrf_of, scalar, seed_partner_editing, seeded_database

PASSWORD = "een lang genoeg wachtwoord"


def write(path, partners, *, as_json=False):
    doc = {"partners": partners}
    path.write_text(json.dumps(doc) if as_json else yaml.safe_dump(doc, allow_unicode=True), encoding="utf-8")
    return path


@pytest.mark.parametrize("as_json", [False, True], ids=["yaml", "json"])
def test_themes_come_in_through_the_import_and_out_through_the_api(fresh_db_url, engine_for, tmp_path, as_json):
    engine = engine_for(fresh_db_url)
    partners = [
        {"name": "Energiefonds (test)", "kind": "fonds", "services": ["financiering"],
         "themes": ["Energie en klimaat", "wonen"], "service_areas": [{"name": "Baarn", "codes": ["GM0308"]}]},
        {"name": "Steunpunt (test)", "kind": "lokale_ondersteuner", "services": "advies",
         "themes": "Jeugd; ouderen"},
        {"name": "Alleskunner (test)", "kind": "overig", "services": ["advies"]},
    ]
    path = write(tmp_path / ("p.json" if as_json else "p.yaml"), partners, as_json=as_json)
    report = import_partners(engine, path)
    assert report.applied and report.inserted == 3, report.lines()
    client = create_app(settings_for(fresh_db_url)).test_client()
    listed = {p["name"]: p for p in client.get("/api/v1/partners").get_json()["partners"]}
    assert listed["Energiefonds (test)"]["themes"] == ["energie_klimaat", "wonen"]
    assert listed["Steunpunt (test)"]["themes"] == ["jeugd", "ouderen"]
    assert listed["Alleskunner (test)"]["themes"] == []  # no themes: every theme
    one = client.get(f"/api/v1/partners/{listed['Energiefonds (test)']['id']}").get_json()
    assert one["themes"] == ["energie_klimaat", "wonen"]
    ogc = client.get("/ogc/collections/service_areas/items").get_json()["features"][0]["properties"]
    assert ogc["partner_themes"] == ["energie_klimaat", "wonen"] and ogc["partner_services"] == ["financiering"]

    again = import_partners(engine, path)
    assert again.unchanged == 3 and again.updated == 0
    partners[2]["themes"] = ["cultuur"]
    changed = import_partners(engine, write(path, partners, as_json=as_json))
    assert changed.updated == 1
    assert scalar(fresh_db_url, "SELECT themes FROM partner WHERE name = 'Alleskunner (test)'") == ["cultuur"]


def test_an_unknown_theme_refuses_the_file_and_names_the_options(fresh_db_url, engine_for, tmp_path):
    path = write(tmp_path / "p.yaml", [{"name": "Fonds (test)", "kind": "fonds", "themes": ["ruimtevaart"]}])
    report = import_partners(engine_for(fresh_db_url), path)
    assert not report.applied and scalar(fresh_db_url, "SELECT count(*) FROM partner") == 0
    (problem,) = report.problems
    assert problem.field == "themes" and "ruimtevaart" in problem.reason and "energie_klimaat" in problem.reason


@pytest.fixture(scope="module")
def editing(pg_server, template_db):
    """(app, url, ids, tokens): partners Baarn (editor@) and Utrecht, a user per role."""
    def seed(session: Session):
        return seed_partner_editing(session, password=PASSWORD)

    with seeded_database(pg_server, template_db, "partner_themes", seed) as (url, (ids, tokens)):
        app = app_on(url)
        yield app, url, ids, tokens


def test_an_editor_sets_themes_through_the_api_with_labels(editing):
    app, url, ids, tokens = editing
    app.extensions[ratelimit.EXTENSION].reset()
    client = app.test_client()
    path = f"/api/v1/partners/{ids['baarn']}"
    headers = {"Authorization": f"Bearer {tokens['editor']}"}
    response = client.patch(path, json={"themes": ["Groen en natuur", "voedsel"]}, headers=headers)
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.get_json()["themes"] == ["groen_natuur", "voedsel"]
    assert client.get(path).get_json()["themes"] == ["groen_natuur", "voedsel"]
    audit = scalar(url, "SELECT changes::text FROM audit_log WHERE entity_type = 'partner' ORDER BY id DESC LIMIT 1")
    assert "groen_natuur" in audit
    refused = client.patch(path, json={"themes": ["ruimtevaart"]}, headers=headers)
    assert refused.status_code == 400 and "Thema's" in refused.get_json()["description"]
    assert client.get(path).get_json()["themes"] == ["groen_natuur", "voedsel"]
    assert client.patch(path, json={"themes": []}, headers=headers).get_json()["themes"] == []


def test_an_editor_sets_themes_in_the_web_editor_and_the_partner_page_shows_them(editing):
    app, url, ids, _tokens = editing
    app.extensions[ratelimit.EXTENSION].reset()
    client = app.test_client()
    login = client.post("/inloggen", data={"email": "editor@example.nl", "password": PASSWORD,
                                           "csrf_token": csrf_of(client.get("/inloggen").get_data(as_text=True))})
    assert login.status_code == 303
    page = f"/beheer/partner/{ids['baarn']}"
    form = client.get(page).get_data(as_text=True)
    assert 'name="themes" value="energie_klimaat"' in form
    saved = client.post(page, data={
        "name": "Steunpunt Baarn", "kind": "regionale_ondersteuner", "services": ["advies"],
        "themes": ["energie_klimaat", "wonen"], "website": "https://steunpunt.example",
        "csrf_token": csrf_of(form)})
    assert saved.status_code == 303
    assert scalar(url, "SELECT themes FROM partner WHERE id = :id", id=ids["baarn"]) == ["energie_klimaat", "wonen"]
    again = client.get(page).get_data(as_text=True)
    assert 'value="energie_klimaat" checked' in again and 'value="jeugd" checked' not in again
    public = client.get(f"/partner/{ids['baarn']}").get_data(as_text=True)
    assert "<dd>Energie en klimaat, Wonen</dd>" in public
    public_utrecht = client.get(f"/partner/{ids['utrecht']}").get_data(as_text=True)
    assert "<dd>alle thema&#39;s</dd>" in public_utrecht or "<dd>alle thema's</dd>" in public_utrecht


def test_exported_partners_import_again_unchanged_with_their_themes(fresh_db_url, engine_for, runner_env, tmp_path):
    from click.testing import CliRunner

    from geoservice.cli import main

    engine = engine_for(fresh_db_url)
    partners = [
        {"name": "Energiefonds (test)", "id": "fonds-1", "kind": "fonds", "services": ["financiering"],
         "themes": ["energie_klimaat"], "website": "https://fonds.example", "phone": "035 123 45 67",
         "service_areas": [{"name": "Baarn", "codes": ["GM0308"]},
                           {"name": "Rond het kantoor", "point": {"lat": 52.21, "lon": 5.29}, "radius_m": 3000},
                           {"name": "Getekend", "geojson": {"type": "Polygon", "coordinates": [
                               [[5.27, 52.20], [5.30, 52.20], [5.30, 52.22], [5.27, 52.22], [5.27, 52.20]]]}}]},
        {"name": "Alleskunner (test)", "kind": "overig", "services": ["advies"]},
    ]
    assert import_partners(engine, write(tmp_path / "in.yaml", partners)).inserted == 2
    before = scalar(fresh_db_url, "SELECT md5(string_agg(t::text, '|' ORDER BY t.id)) FROM partner t")
    run = CliRunner().invoke
    for fmt in ("yaml", "json"):
        out = tmp_path / f"out.{fmt}"
        result = run(main, ["export", "partners", "--format", fmt, "--output", str(out)],
                     env=runner_env(fresh_db_url))
        assert result.exit_code == 0, result.output
        exported = yaml.safe_load(out.read_text(encoding="utf-8"))["partners"]
        assert exported[0]["name"] == "Alleskunner (test)" and exported[0]["themes"] == []
        assert exported[1]["themes"] == ["energie_klimaat"] and exported[1]["id"] == "fonds-1"
        report = import_partners(engine, out)
        assert report.unchanged == 2 and report.areas.unchanged == 3, report.lines()
    assert scalar(fresh_db_url, "SELECT md5(string_agg(t::text, '|' ORDER BY t.id)) FROM partner t") == before


def test_the_migration_adds_themes_and_the_demand_table_and_takes_them_away_again(empty_db_url, engine_for):
    """0009_partner_themes: a partner's themes default to none (every theme); down and up again."""
    from alembic import command
    from sqlalchemy import inspect

    config = db.alembic_config(empty_db_url)
    engine = engine_for(empty_db_url)
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO partner (name, kind, services, source) VALUES ('P', 'fonds', '{advies}', 't')"))
        assert conn.execute(text("SELECT themes FROM partner")).scalar() == []
    command.downgrade(config, "0009_partner_themes-1")
    engine.dispose()
    inspector = inspect(engine)
    assert "support_demand" not in inspector.get_table_names()
    assert "themes" not in {c["name"] for c in inspector.get_columns("partner")}
    db.upgrade(empty_db_url)
    with engine.connect() as conn:
        assert conn.execute(text("SELECT name, themes FROM partner")).one() == ("P", [])
