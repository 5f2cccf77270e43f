"""Privacy and trust (issue 13): the privacy statement, a confirmation only after a real submission, the stale
warning, and "Klopt er iets niet?" reports that reach the moderators without changing the public record."""

from __future__ import annotations

import datetime as dt
import os
import re
from html import unescape

import pytest
from sqlalchemy import text, update
from sqlalchemy.orm import Session

from geoservice import accounts, db
from geoservice.models import Correction, SubmissionContact
from geoservice.registry import corrections

from .helpers import csrf_token, make_initiative, scalar
from .test_submissions import form
from .test_submissions import post as post_submission

PASSWORD = "een lang wachtwoord voor tests"


@pytest.fixture(scope="module")
def db_url(pg_server, template_db):
    name = f"geoservice_test_corrections_{os.getpid()}"
    url = pg_server.create(name, template=template_db)
    engine = db.make_engine(url)
    with Session(engine) as session, session.begin():
        accounts.create_user(session, "mod@example.nl", role="moderator", password=PASSWORD)
    engine.dispose()
    yield url
    pg_server.drop(name)


@pytest.fixture
def web(db_url, app_for):
    return app_for(db_url, geocoder="offline").test_client()


def new_initiative(db_url, **fields) -> int:
    engine = db.make_engine(db_url)
    try:
        with engine.begin() as conn:
            return make_initiative(conn, **{"name": "Buurtkamer Baarn (test)", **fields})
    finally:
        engine.dispose()


def page(client, path: str) -> str:
    return unescape(client.get(path).get_data(as_text=True))


# --- the privacy statement -------------------------------------------------------------------------------------

def test_the_privacy_statement_says_what_why_how_long_who_and_how_to_correct(web):
    html = page(web, "/privacy")
    assert "<h1>Privacyverklaring</h1>" in html
    for section in ("Als je een initiatief aanmeldt", "Als je meldt dat er iets niet klopt", "Als je een account hebt"):
        assert section in html
    for subject in ("Wat:", "Waarom:", "Wie ziet het:", "Hoe lang:"):
        assert html.count(subject) == 3, subject
    assert re.search(rf"hooguit\s+{round(corrections.KEEP_CONTACT_DAYS / 30.4)} maanden", html)
    assert "AVG" in html and 'href="/melden"' in html and "Autoriteit Persoonsgegevens" in html


def test_privacyverklaring_leads_to_privacy(web):
    response = web.get("/privacyverklaring")
    assert response.status_code == 301 and response.headers["Location"] == "/privacy"


@pytest.mark.parametrize("path", ["/", "/aanmelden", "/over", "/melden"])
def test_the_footer_and_the_forms_link_the_privacy_statement(web, path):
    assert 'href="/privacy"' in page(web, path)


def test_a_contact_address_is_shown_when_configured(db_url, app_for):
    client = app_for(db_url, contact_email="privacy@gemeente.example").test_client()
    for path in ("/privacy", "/toegankelijkheid"):
        assert 'href="mailto:privacy@gemeente.example"' in page(client, path)
    assert "mailto:" not in page(client.application.test_client(), "/over")


# --- the submission form and its confirmation --------------------------------------------------------------------

def test_required_fields_are_marked(web):
    html = page(web, "/aanmelden")
    for label in ("Naam", "Soort", "Waar is het?"):
        assert re.search(label + r'\??\s*<span class="required">\(verplicht\)</span>', html), label
    assert "(e-mailadres of telefoonnummer verplicht)" in html


def test_after_a_failed_send_the_error_summary_takes_the_focus(web):
    response = post_submission(web, form(name=""))
    html = response.get_data(as_text=True)
    assert response.status_code == 400
    summary = re.search(r'<div class="error-message"[^>]*id="fouten"[^>]*>', html).group(0)
    assert "autofocus" in summary and 'tabindex="-1"' in summary and 'role="alert"' in summary


def test_the_confirmation_shows_only_after_a_real_submission_with_what_was_sent(web):
    direct = web.get("/aanmelden/ontvangen")
    assert direct.status_code == 303 and direct.headers["Location"] == "/aanmelden"
    data = form(address="", postcode="3741 BK")
    assert post_submission(web, data).status_code == 303
    thanks = page(web, "/aanmelden/ontvangen")
    assert "Bedankt, je aanmelding is ontvangen" in thanks and "Wat je hebt gestuurd" in thanks
    assert data["name"] in thanks and "Bewonersinitiatief" in thanks and "3741BK" in thanks
    assert "je e-mailadres en je telefoonnummer" in thanks
    assert data["contact_email"] not in thanks  # named, not repeated
    assert 'href="/privacy"' in thanks
    again = web.get("/aanmelden/ontvangen")  # once only
    assert again.status_code == 303


# --- the initiative page -------------------------------------------------------------------------------------

def test_an_initiative_checked_over_12_months_ago_carries_a_warning(web, db_url):
    old = new_initiative(db_url, last_verified=dt.date.today() - dt.timedelta(days=1000))
    fresh = new_initiative(db_url, last_verified=dt.date.today() - dt.timedelta(days=30))
    html = page(web, f"/initiatief/{old}")
    assert "Let op:" in html and "meer dan 12 maanden geleden" in html
    assert f'href="/initiatief/{old}/melden"' in html
    fresh_html = page(web, f"/initiatief/{fresh}")
    assert "Let op:" not in fresh_html and "Laatst gecontroleerd" in fresh_html
    assert f'href="/initiatief/{fresh}/melden"' in fresh_html


# --- "Klopt er iets niet?" ------------------------------------------------------------------------------------

def report(client, path: str, **fields):
    return client.post(path, data={"csrf_token": csrf_token(client, path), **fields})


def public(client, initiative_id: int) -> dict:
    return client.get(f"/api/v1/initiatives/{initiative_id}").get_json()


def test_a_report_reaches_the_moderators_and_changes_nothing_public(web, db_url):
    item = new_initiative(db_url, name="Taalcafé Baarn (test)", website="https://taalcafe.example")
    before = public(web, item)
    response = report(web, f"/initiatief/{item}/melden", message="Het taalcafé is verhuisd naar de bibliotheek.",
                      contact_name="Els", contact_email="els@example.org")
    assert response.status_code == 303 and response.headers["Location"] == "/melden/ontvangen"
    thanks = page(web, "/melden/ontvangen")
    assert "Bedankt, je melding is ontvangen" in thanks and "verhuisd naar de bibliotheek" in thanks
    assert "Taalcafé Baarn (test)" in thanks
    assert web.get("/melden/ontvangen").status_code == 303  # only right after sending

    assert public(web, item) == before  # the public record is untouched
    assert scalar(db_url, "SELECT status FROM correction WHERE initiative_id = :i", i=item) == "open"

    moderator = web.application.test_client()
    login = moderator.post("/inloggen", data={"email": "mod@example.nl", "password": PASSWORD,
                                              "csrf_token": csrf_token(moderator)})
    assert login.status_code == 303
    beheer = page(moderator, "/beheer")
    assert "verhuisd naar de bibliotheek" in beheer and "els@example.org" in beheer
    correction_id = scalar(db_url, "SELECT id FROM correction WHERE initiative_id = :i", i=item)
    decided = moderator.post(f"/beheer/melding/{correction_id}/verwerkt",
                             data={"csrf_token": csrf_token(moderator, "/beheer")})
    assert decided.status_code == 303
    assert scalar(db_url, "SELECT status FROM correction WHERE id = :c", c=correction_id) == "accepted"
    assert "verhuisd naar de bibliotheek" not in page(moderator, "/beheer")
    twice = moderator.post(f"/beheer/melding/{correction_id}/afgewezen",
                           data={"csrf_token": csrf_token(moderator, "/beheer")}, follow_redirects=True)
    assert "al verwerkt" in unescape(twice.get_data(as_text=True))
    assert scalar(db_url, "SELECT status FROM correction WHERE id = :c", c=correction_id) == "accepted"


def test_only_moderators_handle_reports(web, db_url):
    response = web.post("/beheer/melding/1/verwerkt", data={"csrf_token": csrf_token(web)})
    assert response.status_code in (302, 303) and "/inloggen" in response.headers["Location"]


def test_a_report_without_a_message_is_refused_and_nothing_is_stored(web, db_url):
    before = scalar(db_url, "SELECT count(*) FROM correction")
    response = report(web, "/melden", message="kort", contact_email="geen-adres")
    html = unescape(response.get_data(as_text=True))
    assert response.status_code == 400 and "Niet alles is goed ingevuld" in html
    assert "minstens 10 tekens" in html and "geen geldig e-mailadres" in html
    assert re.search(r'id="fouten" tabindex="-1" autofocus', html)
    assert scalar(db_url, "SELECT count(*) FROM correction") == before


def test_a_report_about_the_site_and_one_about_an_unpublished_initiative(web, db_url):
    assert report(web, "/melden", message="De kaart laadt niet op mijn telefoon.").status_code == 303
    assert scalar(db_url, "SELECT count(*) FROM correction WHERE initiative_id IS NULL AND message LIKE 'De kaart%'") == 1
    hidden = new_initiative(db_url, status="pending")
    assert web.get(f"/initiatief/{hidden}/melden").status_code == 404


def test_the_report_form_keeps_the_honeypot_answer_like_success(web, db_url):
    before = scalar(db_url, "SELECT count(*) FROM correction")
    response = report(web, "/melden", message="Koop goedkope spullen hier!", organisatie_url="https://spam.example")
    assert response.status_code == 303 and scalar(db_url, "SELECT count(*) FROM correction") == before


def test_private_contacts_are_forgotten_a_year_after_the_decision(db_url):
    """What the privacy statement promises: decided submissions and reports lose their contact after a year."""
    engine = db.make_engine(db_url)
    long_ago = dt.datetime.now(dt.timezone.utc) - dt.timedelta(days=corrections.KEEP_CONTACT_DAYS + 10)
    try:
        with Session(engine) as session:
            decided = make_initiative(session, status="published", name="Behandeld (test)")
            waiting = make_initiative(session, status="pending", name="Wacht nog (test)")
            recent = make_initiative(session, status="published", name="Net behandeld (test)")
            for initiative_id, when in ((decided, long_ago), (waiting, long_ago), (recent, None)):
                session.add(SubmissionContact(initiative_id=initiative_id, email="iemand@example.org",
                                              **({"submitted_at": when} if when else {})))
            old_report = corrections.submit(session, decided, "Dit klopt niet meer, echt niet.", "Piet",
                                            "piet@example.org", "abc")
            session.execute(update(Correction).where(Correction.id == old_report)
                            .values(status="accepted", decided_at=long_ago))
            open_report = corrections.submit(session, decided, "Dit klopt ook niet, denk ik.", "Kees",
                                             "kees@example.org", "def")
            session.flush()
            corrections.forget_old_contacts(session)
            remaining = {row[0] for row in session.execute(text(
                "SELECT initiative_id FROM submission_contact WHERE initiative_id = ANY(:ids)"),
                {"ids": [decided, waiting, recent]})}
            assert remaining == {waiting, recent}
            reports = dict(session.execute(text(
                "SELECT id, coalesce(contact_email, '') FROM correction WHERE id = ANY(:ids)"),
                {"ids": [old_report, open_report]}).all())
            assert reports == {old_report: "", open_report: "kees@example.org"}
            session.rollback()
    finally:
        engine.dispose()


def test_the_contact_address_setting_takes_an_e_mail_address_only():
    from geoservice.config import Settings

    assert Settings.from_env({"GEOSERVICE_CONTACT_EMAIL": "privacy@gemeente.example"}).contact_email \
        == "privacy@gemeente.example"
    assert Settings.from_env({}).contact_email is None
    with pytest.raises(ValueError, match="GEOSERVICE_CONTACT_EMAIL"):
        Settings(contact_email='x" onmouseover="alert(1)')


def test_forget_contacts_on_a_schedule_for_a_quiet_site(fresh_db_url, engine_for, runner_env):
    """No submission or decision for a year must not keep contacts longer than promised: `geoservice
    forget-contacts` (cron) removes them and says how many, and a second run finds none."""
    from click.testing import CliRunner

    from geoservice.cli import main

    long_ago = dt.datetime.now(dt.timezone.utc) - dt.timedelta(days=corrections.KEEP_CONTACT_DAYS + 1)
    with Session(engine_for(fresh_db_url)) as session, session.begin():
        decided = make_initiative(session, status="published", name="Lang geleden behandeld (test)")
        waiting = make_initiative(session, status="pending", name="Wacht nog steeds (test)")
        for initiative_id in (decided, waiting):
            session.add(SubmissionContact(initiative_id=initiative_id, email="iemand@example.org",
                                          submitted_at=long_ago))
    runner = CliRunner()
    first = runner.invoke(main, ["forget-contacts"], env=runner_env(fresh_db_url))
    assert first.exit_code == 0, first.output
    assert "Contactgegevens verwijderd van 1 aanmelding of melding die meer dan 12 maanden" in first.output
    again = runner.invoke(main, ["forget-contacts"], env=runner_env(fresh_db_url))
    assert again.exit_code == 0 and "Geen contactgegevens om te verwijderen." in again.output
    kept = scalar(fresh_db_url, "SELECT count(*) FROM submission_contact WHERE initiative_id = :id", id=waiting)
    assert kept == 1  # a submission still waiting for a decision keeps its contact
