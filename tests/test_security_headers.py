"""Security headers on every response, a CSP that leaves room for the Folium/Leaflet map, and the settings."""

from __future__ import annotations

import re

import pytest

from geoservice.config import DEV_SECRET_KEY, Settings
from geoservice.serving.security import content_security_policy, tile_source

NONCE = re.compile(r"script-src 'self' 'nonce-([A-Za-z0-9_-]{16,})'")


def directives(header: str) -> dict[str, str]:
    return {part.split(" ", 1)[0]: part.split(" ", 1)[1] for part in header.split("; ")}


@pytest.mark.parametrize("path, status", [
    ("/", 200), ("/over", 200), ("/inloggen", 200), ("/gemeenten", 200),
    ("/api/v1/partners", 200), ("/ogc", 200), ("/healthz", 200), ("/static/web/style.css", 200),
    ("/bestaat-niet", 404), ("/api/v1/initiatives/0", 404),
])
def test_every_response_gets_the_security_headers(client, path, status):
    response = client.get(path)
    assert response.status_code == status
    csp = directives(response.headers["Content-Security-Policy"])
    assert NONCE.search(response.headers["Content-Security-Policy"])
    assert csp["default-src"] == "'self'" and csp["connect-src"] == "'self'"
    assert csp["style-src"] == "'self' 'unsafe-inline'"  # Leaflet and the legend use style attributes
    assert "'unsafe-inline'" not in csp["script-src"] and "'unsafe-eval'" not in csp["script-src"]
    assert csp["frame-ancestors"] == "'self'" and csp["base-uri"] == "'self'" and csp["form-action"] == "'self'"
    assert csp["object-src"] == "'none'"
    assert csp["img-src"] == "'self' data:"  # the tests draw no base map
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Referrer-Policy"] == "strict-origin-when-cross-origin"


def test_the_nonce_is_new_for_every_request(client):
    nonces = {NONCE.search(client.get("/over").headers["Content-Security-Policy"]).group(1) for _ in range(3)}
    assert len(nonces) == 3


def test_templates_get_the_nonce_of_their_response(app):
    from flask import render_template_string

    with app.test_request_context("/"):
        html = render_template_string('<script nonce="{{ csp_nonce() }}"></script>')
        response = app.process_response(app.make_response(html))
    nonce = NONCE.search(response.headers["Content-Security-Policy"]).group(1)
    assert f'nonce="{nonce}"' in html


def test_images_may_come_from_the_configured_tile_server():
    csp = directives(content_security_policy("abc", Settings(tiles="https://tile.openstreetmap.org/{z}/{x}/{y}.png")))
    assert csp["img-src"] == "'self' data: https://tile.openstreetmap.org"
    assert csp["script-src"] == "'self' 'nonce-abc'"


@pytest.mark.parametrize("tiles, source", [
    ("https://tile.openstreetmap.org/{z}/{x}/{y}.png", "https://tile.openstreetmap.org"),
    ("https://{s}.tile.example.nl/{z}/{x}/{y}.png", "https://*.tile.example.nl"),
    ("https://service.pdok.nl/brt/achtergrondkaart/wmts/v2_0/standaard/EPSG:3857/{z}/{x}/{y}.png",
     "https://service.pdok.nl"),
    ("http://localhost:8080/tiles/{z}/{x}/{y}.png", "http://localhost:8080"),
    ("https://tiles.{s}.example.nl/{z}/{x}/{y}.png", "https:"),
    ("none", None),
])
def test_tile_source(tiles, source):
    assert tile_source(tiles) == source


def test_secure_cookies_need_a_real_secret_key():
    with pytest.raises(ValueError, match="GEOSERVICE_SECRET_KEY"):
        Settings(secure_cookies=True)
    with pytest.raises(ValueError, match="GEOSERVICE_SECRET_KEY"):
        Settings.from_env({"GEOSERVICE_SECURE_COOKIES": "true"})
    assert Settings().secret_key == DEV_SECRET_KEY and not Settings().secure_cookies


def test_security_settings_from_the_environment():
    settings = Settings.from_env({"GEOSERVICE_SECURE_COOKIES": "ja", "GEOSERVICE_SECRET_KEY": "s" * 40,
                                  "GEOSERVICE_MAX_UPLOAD_MB": "2.5", "GEOSERVICE_TRUSTED_PROXIES": "1"})
    assert settings.secure_cookies and settings.max_upload_mb == 2.5 and settings.trusted_proxies == 1
    assert Settings.from_env({}).max_upload_mb == 5 and Settings.from_env({}).trusted_proxies == 0
    for env, message in [({"GEOSERVICE_SECURE_COOKIES": "misschien"}, "true or false"),
                         ({"GEOSERVICE_MAX_UPLOAD_MB": "0"}, "MAX_UPLOAD_MB"),
                         ({"GEOSERVICE_TRUSTED_PROXIES": "-1"}, "TRUSTED_PROXIES")]:
        with pytest.raises(ValueError, match=message):
            Settings.from_env(env)


def test_cookie_and_upload_settings_reach_flask(app):
    assert app.config["SESSION_COOKIE_HTTPONLY"] is True and app.config["SESSION_COOKIE_SAMESITE"] == "Lax"
    assert app.config["SESSION_COOKIE_SECURE"] is False
    assert app.config["MAX_CONTENT_LENGTH"] == 5 * 1024 * 1024
