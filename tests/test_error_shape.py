"""One JSON error shape for programs, a Dutch HTML page for people, never a stack trace."""

import pytest


@pytest.mark.parametrize("path, status", [
    ("/api/v1/areas/lookup", 400),
    ("/api/v1/bestaat-niet", 404),
    ("/healthz/extra", 404),
])
def test_api_errors_have_exactly_code_and_description(client, path, status):
    response = client.get(path)
    assert response.status_code == status
    assert response.mimetype == "application/json"
    body = response.get_json()
    assert sorted(body) == ["code", "description"]
    assert isinstance(body["code"], str) and isinstance(body["description"], str)


def test_wrong_method_is_405_json(client):
    response = client.post("/api/v1/areas/lookup?lat=52&lon=5")
    assert response.status_code == 405
    assert response.get_json()["code"] == "MethodNotAllowed"


def test_unknown_page_is_a_dutch_html_page(client):
    response = client.get("/bestaat/niet")
    assert response.status_code == 404
    assert response.mimetype == "text/html"
    html = response.get_data(as_text=True)
    assert '<html lang="nl">' in html and "Niet gevonden" in html
    assert "Traceback" not in html
