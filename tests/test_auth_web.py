"""Logging in and out, sessions, CSRF, role checks for pages and API tokens, and the login rate limit."""

from __future__ import annotations

import os
from urllib.parse import parse_qs, urlsplit

import pytest
from flask import jsonify
from sqlalchemy.orm import Session

from geoservice import accounts, db
from geoservice.auth import login_required, token_required
from geoservice.serving import ratelimit
from geoservice.serving.ratelimit import Limit, MemoryRateLimiter, client_address

from .helpers import add_partner, csrf_token

PASSWORD = "een lang genoeg wachtwoord"
WRONG = "Dit e-mailadres en wachtwoord horen niet bij elkaar"


@pytest.fixture(scope="module")
def auth_db(pg_server, template_db):
    """A database with a moderator, a partner editor and an inactive moderator, and their tokens."""
    name = f"geoservice_test_auth_web_{os.getpid()}"
    url = pg_server.create(name, template=template_db)
    engine = db.make_engine(url)
    tokens = {}
    with Session(engine) as session, session.begin():
        partner_id = add_partner(session, "Partner van de redacteur")
        moderator = accounts.create_user(session, "mod@example.nl", role="moderator", password=PASSWORD)
        editor = accounts.create_user(session, "redactie@example.nl", role="partner_editor", password=PASSWORD,
                                      partner_id=partner_id)
        sleeper = accounts.create_user(session, "slaper@example.nl", role="moderator", password=PASSWORD)
        tokens["moderator"] = accounts.create_token(session, moderator)[1]
        tokens["editor"] = accounts.create_token(session, editor)[1]
        revoked, tokens["revoked"] = accounts.create_token(session, moderator)
        accounts.revoke_token(session, revoked.id)
        sleeper.active = False
    engine.dispose()
    yield url, tokens
    pg_server.drop(name)


def _protected_page():
    return "<p>moderatie</p>"


def _api_write():
    return jsonify({"ok": True})


def _api_limited():
    ratelimit.enforce(Limit("test", 1, 60))
    return jsonify({"ok": True})


@pytest.fixture
def make_app(auth_db, app_for):
    """A fresh app (own rate-limit counters) with a moderator page and a moderator API write for the tests."""

    def make(**overrides):
        app = app_for(auth_db[0], **overrides)
        app.add_url_rule("/_test/moderatie", "test_moderatie", login_required("moderator")(_protected_page))
        write = token_required("moderator")(_api_write)
        app.add_url_rule("/api/v1/_test/schrijven", "test_schrijven", write, methods=["POST"])
        app.add_url_rule("/api/v1/_test/beperkt", "test_beperkt", _api_limited)
        app.extensions["csrf"].exempt(write)  # as the API blueprint is
        return app

    return make


@pytest.fixture
def web(make_app):
    return make_app().test_client()


def login(client, email="mod@example.nl", password=PASSWORD, next_=None, **kwargs):
    data = {"email": email, "password": password, "csrf_token": csrf_token(client)}
    if next_ is not None:
        data["next"] = next_
    return client.post("/inloggen", data=data, **kwargs)


def logged_in(client) -> bool:
    with client.session_transaction() as session:
        return "user_id" in session


def test_login_page_has_a_csrf_field_and_keeps_local_next(web):
    response = web.get("/inloggen?next=/gemeenten")
    html = response.get_data(as_text=True)
    assert response.status_code == 200 and "text/html" in response.content_type
    assert 'name="csrf_token"' in html and 'name="next" value="/gemeenten"' in html
    assert 'autocomplete="current-password"' in html


def test_login_and_logout_with_safe_cookie_flags(web):
    response = login(web)
    assert response.status_code == 303 and response.headers["Location"] == "/"
    cookie = response.headers["Set-Cookie"]
    assert cookie.startswith("session=") and "HttpOnly" in cookie and "SameSite=Lax" in cookie
    assert "Secure" not in cookie
    with web.session_transaction() as session:
        assert isinstance(session["user_id"], int) and len(session["login_nonce"]) >= 16
        first_nonce = session["login_nonce"]
        assert PASSWORD not in str(dict(session))

    page = web.get("/_test/moderatie")
    assert page.status_code == 200 and "moderatie" in page.get_data(as_text=True)
    assert "no-store" in page.headers["Cache-Control"]
    again = web.get("/inloggen?next=/over").get_data(as_text=True)  # logged in: as whom, and the way out
    assert "ingelogd als <strong>mod@example.nl</strong>" in again and 'href="/over"' in again
    assert 'action="/uitloggen"' in again

    assert web.get("/uitloggen").status_code == 405  # logging out changes state: POST only
    assert web.post("/uitloggen").status_code == 400  # … with a CSRF token
    out = web.post("/uitloggen", data={"csrf_token": csrf_token(web)})
    assert out.status_code == 303 and out.headers["Location"] == "/"
    assert not logged_in(web)
    assert web.get("/_test/moderatie").status_code == 302

    login(web)
    with web.session_transaction() as session:
        assert session["login_nonce"] != first_nonce  # a new nonce per login


def test_secure_cookies_behind_https(make_app):
    client = make_app(secure_cookies=True).test_client()
    cookie = login(client).headers["Set-Cookie"]
    assert "Secure" in cookie and "HttpOnly" in cookie and "SameSite=Lax" in cookie


@pytest.mark.parametrize("email, password", [
    ("mod@example.nl", "een fout wachtwoord!"),
    ("niemand@example.nl", PASSWORD),
    ("slaper@example.nl", PASSWORD),  # inactive
    ("", ""),
])
def test_wrong_credentials_get_one_message_and_no_session(web, email, password):
    response = login(web, email=email, password=password)
    html = response.get_data(as_text=True)
    assert response.status_code == 401 and WRONG in html
    assert 'name="password"' in html and 'name="csrf_token"' in html  # the form again
    assert f'value="{email}"' in html and (not password or password not in html)
    assert not logged_in(web)


def test_login_email_is_case_insensitive(web):
    assert login(web, email="  MOD@Example.NL ").status_code == 303


@pytest.mark.parametrize("target, expected", [
    ("/over", "/over"),
    ("/gemeenten?q=baarn#lijst", "/gemeenten?q=baarn#lijst"),
    ("https://evil.example/", "/"),
    ("//evil.example/pad", "/"),
    ("/\\evil.example", "/"),
    ("\\\\evil.example", "/"),
    ("javascript:alert(1)", "/"),
    ("http:/evil.example", "/"),
    ("evil.example", "/"),
    ("/over\r\nSet-Cookie: x=1", "/"),
    ("", "/"),
])
def test_next_never_leaves_the_site(web, target, expected):
    response = login(web, next_=target)
    assert response.status_code == 303 and response.headers["Location"] == expected


def test_pages_send_anonymous_visitors_to_login_and_back(web):
    response = web.get("/_test/moderatie?filter=nieuw")
    assert response.status_code == 302
    location = urlsplit(response.headers["Location"])
    assert location.path == "/inloggen"
    target = parse_qs(location.query)["next"][0]
    assert target == "/_test/moderatie?filter=nieuw"
    assert login(web, next_=target).headers["Location"] == target


def test_wrong_role_gets_a_dutch_403_page(web):
    login(web, email="redactie@example.nl")
    response = web.get("/_test/moderatie")
    assert response.status_code == 403 and "text/html" in response.content_type
    assert "geen toegang" in response.get_data(as_text=True)


def test_a_new_password_ends_existing_sessions(make_app, auth_db, engine_for):
    client = make_app().test_client()
    with Session(engine_for(auth_db[0])) as session, session.begin():
        accounts.create_user(session, "wissel@example.nl", role="moderator", password=PASSWORD)
    login(client, email="wissel@example.nl")
    assert client.get("/_test/moderatie").status_code == 200
    with Session(engine_for(auth_db[0])) as session, session.begin():
        accounts.set_password(session, accounts.get_user(session, "wissel@example.nl"), "een ander wachtwoord")
    assert client.get("/_test/moderatie").status_code == 302
    assert not logged_in(client)


def test_login_without_csrf_token_is_refused_without_a_session(web):
    response = web.post("/inloggen", data={"email": "mod@example.nl", "password": PASSWORD})
    assert response.status_code == 400 and "text/html" in response.content_type
    assert "Laad de pagina opnieuw" in response.get_data(as_text=True)
    assert "user_id" not in response.headers.get("Set-Cookie", "")
    assert not logged_in(web)
    # a session with a CSRF token, but a form without one (or a forged one), is refused as well
    csrf_token(web)
    for data in ({}, {"csrf_token": "vervalst"}):
        forged = web.post("/inloggen", data={"email": "mod@example.nl", "password": PASSWORD, **data})
        assert forged.status_code == 400 and not logged_in(web)


def test_login_is_rate_limited_per_client(make_app):
    app = make_app()
    client = app.test_client()
    for _ in range(ratelimit.LOGIN.limit):
        assert login(client, password="een fout wachtwoord!").status_code == 401
    blocked = login(client)  # even the right password waits now
    assert blocked.status_code == 429 and "text/html" in blocked.content_type
    assert 0 < int(blocked.headers["Retry-After"]) <= 15 * 60
    assert "Te veel pogingen" in blocked.get_data(as_text=True) and not logged_in(client)
    # X-Forwarded-For is not believed without trusted proxies
    assert login(client, headers={"X-Forwarded-For": "203.0.113.9"}).status_code == 429
    # another client is not affected
    other = app.test_client()
    assert login(other, environ_base={"REMOTE_ADDR": "192.0.2.7"}).status_code == 303


def test_rate_limit_behind_a_trusted_proxy_counts_the_forwarded_client(make_app):
    app = make_app(trusted_proxies=1)
    client = app.test_client()
    for _ in range(ratelimit.LOGIN.limit):
        login(client, password="een fout wachtwoord!", headers={"X-Forwarded-For": "203.0.113.9"})
    assert login(client, headers={"X-Forwarded-For": "203.0.113.9"}).status_code == 429
    assert login(client, headers={"X-Forwarded-For": "203.0.113.10"}).status_code == 303


def test_rate_limit_in_the_json_shape(web):
    assert web.get("/api/v1/_test/beperkt").status_code == 200
    response = web.get("/api/v1/_test/beperkt")
    assert response.status_code == 429 and int(response.headers["Retry-After"]) > 0
    assert response.get_json()["code"] == "TooManyRequests" and "Te veel" in response.get_json()["description"]


def test_api_writes_need_a_token_of_the_right_role(web, auth_db):
    tokens = auth_db[1]
    missing = web.post("/api/v1/_test/schrijven")
    assert missing.status_code == 401 and missing.headers["WWW-Authenticate"].startswith("Bearer")
    assert set(missing.get_json()) == {"code", "description"} and missing.get_json()["code"] == "Unauthorized"
    for header in ("Bearer gs_onzin", f"Bearer {tokens['revoked']}", f"Basic {tokens['moderator']}",
                   f"Bearer  {tokens['moderator']}x"):
        wrong = web.post("/api/v1/_test/schrijven", headers={"Authorization": header})
        assert wrong.status_code == 401, header
        assert wrong.headers["WWW-Authenticate"].startswith("Bearer")
    assert 'error="invalid_token"' in wrong.headers["WWW-Authenticate"]
    forbidden = web.post("/api/v1/_test/schrijven", headers={"Authorization": f"Bearer {tokens['editor']}"})
    assert forbidden.status_code == 403 and forbidden.get_json()["code"] == "Forbidden"
    ok = web.post("/api/v1/_test/schrijven", headers={"Authorization": f"bearer {tokens['moderator']}"})
    assert ok.status_code == 200 and ok.get_json() == {"ok": True}


def test_a_login_session_is_no_api_token(web):
    login(web)
    assert web.post("/api/v1/_test/schrijven").status_code == 401


def test_large_request_bodies_are_refused(make_app):
    client = make_app(max_upload_mb=0.01).test_client()
    response = client.post("/inloggen", data={"email": "x" * 20_000, "csrf_token": csrf_token(client)})
    assert response.status_code == 413 and "te groot" in response.get_data(as_text=True)


def test_memory_rate_limiter_windows():
    now = [1000.0]
    limiter = MemoryRateLimiter(clock=lambda: now[0])
    decisions = [limiter.hit("a", 2, 60) for _ in range(3)]
    assert [d.allowed for d in decisions] == [True, True, False]
    assert [d.remaining for d in decisions] == [1, 0, 0] and decisions[2].retry_after == 60
    assert limiter.hit("b", 2, 60).allowed  # per key
    now[0] += 45
    assert limiter.hit("a", 2, 60).retry_after == 15
    now[0] += 15
    assert limiter.hit("a", 2, 60).allowed  # a new window
    limiter.reset("a")
    assert limiter.hit("a", 1, 60).allowed


def test_memory_rate_limiter_stays_bounded():
    now = [0.0]
    limiter = MemoryRateLimiter(clock=lambda: now[0], max_keys=3)
    for key in "abc":
        limiter.hit(key, 1, 10)
    now[0] = 20.0
    limiter.hit("d", 1, 10)  # the expired windows are forgotten
    assert len(limiter._windows) == 1


@pytest.mark.parametrize("remote, forwarded, proxies, expected", [
    ("10.0.0.1", [], 0, "10.0.0.1"),
    ("10.0.0.1", ["203.0.113.5"], 0, "10.0.0.1"),  # not believed
    ("10.0.0.1", ["203.0.113.5"], 1, "203.0.113.5"),
    ("10.0.0.1", ["1.2.3.4, 203.0.113.5"], 1, "203.0.113.5"),  # a client-made first hop is ignored
    ("10.0.0.1", ["1.2.3.4", "203.0.113.5, 10.0.0.9"], 2, "203.0.113.5"),
    ("10.0.0.1", ["203.0.113.5"], 2, "10.0.0.1"),  # fewer hops than proxies
    ("10.0.0.1", ["geen-adres"], 1, "10.0.0.1"),
    ("10.0.0.1", ["2001:DB8::1"], 1, "2001:db8::1"),
    (None, [], 0, "unknown"),
])
def test_client_address(remote, forwarded, proxies, expected):
    assert client_address(remote, forwarded, proxies) == expected
