"""geoservice.accounts: users, passwords, tokens and the audit log on a real PostGIS.

Every test runs in a transaction that is rolled back, on one database for the module.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import os

import pytest
from sqlalchemy import delete, insert, select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from geoservice import accounts
from geoservice.auth import can_edit_partner, has_role
from geoservice.errors import InvalidParameter, NotFound
from geoservice.models import USER_ROLES, ApiToken, AuditLog, Initiative, SubmissionContact, User
from geoservice.vocab import STATUSES

from .helpers import add_partner, make_initiative

PASSWORD = "correct paard batterij"


@pytest.fixture(scope="module")
def accounts_db(pg_server, template_db):
    name = f"geoservice_test_accounts_{os.getpid()}"
    yield pg_server.create(name, template=template_db)
    pg_server.drop(name)


@pytest.fixture
def session(accounts_db, engine_for):
    """A session whose work is rolled back after the test (commits inside become savepoints)."""
    with engine_for(accounts_db).connect() as conn:
        outer = conn.begin()
        with Session(bind=conn, join_transaction_mode="create_savepoint") as db:
            yield db
        outer.rollback()


def _moderator(session, email="moderator@example.nl", password=PASSWORD) -> User:
    return accounts.create_user(session, email, role="moderator", password=password, name="Mo de Rator")


def _raw(session, table: str) -> str:
    """Every row of a table as text, to prove what is (not) stored."""
    return " ".join(session.execute(text(f"SELECT t::text FROM {table} t")).scalars())


def test_roles_in_models_and_labels_agree():
    assert tuple(accounts.ROLES) == USER_ROLES == ("admin", "moderator", "partner_editor")
    assert STATUSES["rejected"] == "Afgewezen"


def test_passwords_are_hashed_with_scrypt_and_never_stored(session):
    user = _moderator(session)
    assert user.password_hash.startswith("scrypt:") and PASSWORD not in user.password_hash
    assert PASSWORD not in _raw(session, "app_user") and PASSWORD not in _raw(session, "audit_log")
    second = accounts.create_user(session, "tweede@example.nl", role="admin", password=PASSWORD)
    assert second.password_hash != user.password_hash  # salted


@pytest.mark.parametrize("password, message", [
    ("kort", "minstens 12 tekens"),
    ("elf tekens!", "minstens 12 tekens"),
    (" " * 20, "niet alleen uit spaties"),
    ("x" * 1025, "hoogstens 1024 tekens"),
])
def test_password_policy(session, password, message):
    with pytest.raises(InvalidParameter, match=message):
        _moderator(session, password=password)


def test_authenticate_right_wrong_unknown_and_inactive(session):
    user = _moderator(session)
    assert accounts.authenticate(session, "moderator@example.nl", PASSWORD) is user
    assert accounts.authenticate(session, "  MODERATOR@Example.NL ", PASSWORD) is user  # case, spaces
    assert accounts.authenticate(session, "moderator@example.nl", PASSWORD + "x") is None
    assert accounts.authenticate(session, "moderator@example.nl", "") is None
    assert accounts.authenticate(session, "niemand@example.nl", PASSWORD) is None
    assert accounts.authenticate(session, "", PASSWORD) is None
    user.active = False
    assert accounts.authenticate(session, "moderator@example.nl", PASSWORD) is None


def test_unknown_users_cost_a_hash_check_too(session, monkeypatch):
    checked = []
    real = accounts.check_password_hash
    monkeypatch.setattr(accounts, "check_password_hash", lambda h, p: checked.append(h) or real(h, p))
    assert accounts.authenticate(session, "niemand@example.nl", PASSWORD) is None
    assert len(checked) == 1 and checked[0].startswith("scrypt:")


def test_email_is_unique_regardless_of_case(session):
    _moderator(session, email="Anna@Example.nl")
    assert session.scalar(select(User.email)) == "anna@example.nl"
    with pytest.raises(InvalidParameter, match="al een gebruiker"):
        _moderator(session, email="ANNA@example.NL")
    with pytest.raises(IntegrityError), session.begin_nested():  # the database guards it as well
        session.execute(insert(User).values(email="ANNA@EXAMPLE.NL", password_hash="x", role="admin"))


@pytest.mark.parametrize("email", ["geen-adres", "a@b", "twee@@example.nl", ""])
def test_invalid_email_is_refused(session, email):
    with pytest.raises(InvalidParameter, match="geen geldig e-mailadres"):
        _moderator(session, email=email)


def test_partner_editor_requires_exactly_one_existing_partner(session):
    partner_id = add_partner(session, "Wijkpartner Test")
    editor = accounts.create_user(session, "redactie@example.nl", role="partner_editor", password=PASSWORD,
                                  partner_id=partner_id)
    assert editor.partner_id == partner_id
    with pytest.raises(InvalidParameter, match="geef de partner op"):
        accounts.create_user(session, "zonder@example.nl", role="partner_editor", password=PASSWORD)
    with pytest.raises(InvalidParameter, match="geen partner met id 999999"):
        accounts.create_user(session, "onbekend@example.nl", role="partner_editor", password=PASSWORD,
                             partner_id=999999)
    with pytest.raises(InvalidParameter, match="Alleen een partnerredacteur"):
        accounts.create_user(session, "mod@example.nl", role="moderator", password=PASSWORD, partner_id=partner_id)
    with pytest.raises(InvalidParameter, match="Onbekende rol"):
        accounts.create_user(session, "baas@example.nl", role="superuser", password=PASSWORD)
    for values in ({"role": "partner_editor"}, {"role": "moderator", "partner_id": partner_id},
                   {"role": "superuser"}):
        with pytest.raises(IntegrityError), session.begin_nested():
            session.execute(insert(User).values(email="direct@example.nl", password_hash="x", **values))
    # removing the partner removes its editors
    session.execute(text("DELETE FROM partner WHERE id = :id"), {"id": partner_id})
    session.expire_all()
    assert session.scalar(select(User).where(User.email == "redactie@example.nl")) is None


def test_remove_user_and_set_password(session):
    user = _moderator(session)
    old_hash = user.password_hash
    accounts.set_password(session, user, "een heel nieuw wachtwoord")
    assert user.password_hash != old_hash
    assert accounts.authenticate(session, user.email, "een heel nieuw wachtwoord") is user
    assert accounts.authenticate(session, user.email, PASSWORD) is None
    with pytest.raises(InvalidParameter, match="minstens 12"):
        accounts.set_password(session, user, "kort")
    accounts.remove_user(session, "MODERATOR@example.nl")
    assert accounts.list_users(session) == []
    with pytest.raises(NotFound, match="geen gebruiker"):
        accounts.remove_user(session, "moderator@example.nl")


def test_list_users_shows_partner_and_live_tokens(session):
    partner_id = add_partner(session, "Lijstpartner")
    editor = accounts.create_user(session, "b@example.nl", role="partner_editor", password=PASSWORD,
                                  partner_id=partner_id, name="Bea")
    _moderator(session, email="a@example.nl")
    accounts.create_token(session, editor)
    token, _ = accounts.create_token(session, editor)
    accounts.revoke_token(session, token.id)
    rows = accounts.list_users(session)
    assert [r["email"] for r in rows] == ["a@example.nl", "b@example.nl"]
    assert rows[1]["partner_name"] == "Lijstpartner" and rows[1]["tokens"] == 1 and rows[1]["name"] == "Bea"
    assert "password_hash" not in rows[0]


def test_tokens_are_hashed_shown_once_and_revocable(session):
    user = _moderator(session)
    token, plaintext = accounts.create_token(session, user, label="koppeling")
    assert plaintext.startswith("gs_") and len(plaintext) > 40
    assert token.token_hash == hashlib.sha256(plaintext.encode()).hexdigest()
    assert plaintext not in _raw(session, "api_token") and plaintext not in _raw(session, "audit_log")
    assert token.last_used_at is None

    assert accounts.user_for_token(session, plaintext) is user
    first_use = token.last_used_at
    assert first_use is not None
    accounts.user_for_token(session, plaintext)
    assert token.last_used_at == first_use  # written at most once a minute

    other, other_plain = accounts.create_token(session, user)
    assert other_plain != plaintext
    _, revoked = accounts.revoke_token(session, token.id)
    assert revoked and token.revoked_at is not None
    assert accounts.user_for_token(session, plaintext) is None
    assert accounts.revoke_token(session, token.id)[1] is False  # already revoked
    assert accounts.user_for_token(session, other_plain) is user
    with pytest.raises(NotFound, match="geen token met id"):
        accounts.revoke_token(session, 987654)

    listed = accounts.list_tokens(session, "moderator@example.nl")
    assert [(t["id"], t["label"], t["revoked_at"] is not None) for t in listed] == [
        (token.id, "koppeling", True), (other.id, None, False)]
    assert all("token_hash" not in t for t in listed)


@pytest.mark.parametrize("token", ["", "gs_", "gs_onzin", "Bearer gs_x", "x" * 500, "gs_" + "a" * 300])
def test_unknown_tokens_find_nobody(session, token):
    _moderator(session)
    assert accounts.user_for_token(session, token) is None


def test_tokens_of_inactive_users_do_not_work(session):
    user = _moderator(session)
    _, plaintext = accounts.create_token(session, user)
    user.active = False
    session.flush()
    assert accounts.user_for_token(session, plaintext) is None
    with pytest.raises(InvalidParameter, match="niet actief"):
        accounts.create_token(session, user)


def test_record_and_history(session):
    moderator = _moderator(session)
    initiative_id = make_initiative(session, status="pending")
    accounts.record(session, "initiative", initiative_id, "submitted", None,
                    changes={"name": [None, "Buurttuin"]})
    accounts.record(session, "initiative", initiative_id, "published", moderator,
                    changes=accounts.changes_between({"status": "pending", "last_verified": None},
                                                     {"status": "published",
                                                      "last_verified": dt.date(2026, 11, 28)}),
                    reason="  gecontroleerd  ")
    entries = accounts.history(session, "initiative", initiative_id)
    assert [(e["actor"], e["action"], e["user_id"]) for e in entries] == [
        ("aanmelder", "submitted", None), ("moderator@example.nl", "published", moderator.id)]
    assert entries[1]["changes"] == {"status": ["pending", "published"], "last_verified": [None, "2026-11-28"]}
    assert entries[1]["reason"] == "gecontroleerd" and entries[0]["reason"] is None
    assert entries[0]["at"] is not None
    assert accounts.history(session, "initiative", initiative_id + 1) == []
    with pytest.raises(ValueError, match="unknown audit entity type"):
        accounts.record(session, "gemeente", 1, "edited", None)
    with pytest.raises(IntegrityError), session.begin_nested():
        session.execute(insert(AuditLog).values(entity_type="gemeente", entity_id=1, actor="x", action="y"))

    # a removed user's entries stay, with the e-mail they had
    accounts.remove_user(session, moderator.email)
    session.expire_all()
    entry = accounts.history(session, "initiative", initiative_id)[1]
    assert entry["user_id"] is None and entry["actor"] == "moderator@example.nl"


def test_user_management_is_audited_as_the_command_line(session):
    user = _moderator(session)
    accounts.set_password(session, user, "nog een wachtwoord")
    token, _ = accounts.create_token(session, user)
    accounts.revoke_token(session, token.id)
    entries = accounts.history(session, "user", user.id)
    assert [e["action"] for e in entries] == ["created", "password_set", "token_created", "token_revoked"]
    assert {e["actor"] for e in entries} == {"opdrachtregel"}
    assert entries[0]["changes"] == {"email": [None, "moderator@example.nl"], "role": [None, "moderator"],
                                     "partner_id": [None, None]}


def test_changes_between_lists_only_what_changed():
    assert accounts.changes_between({"a": 1, "b": 2}, {"a": 1, "b": 3, "c": None}) == {"b": [2, 3]}


def test_status_rejected_and_the_private_submission_contact(session):
    initiative_id = make_initiative(session, status="rejected")
    session.execute(insert(SubmissionContact).values(initiative_id=initiative_id, name="Piet",
                                                     email="piet@example.nl", phone="0612345678"))
    with pytest.raises(IntegrityError), session.begin_nested():
        make_initiative(session, status="weg")
    contact = session.get(SubmissionContact, initiative_id)
    assert contact.submitted_at is not None and contact.email == "piet@example.nl"
    session.execute(delete(Initiative).where(Initiative.id == initiative_id))
    session.expire_all()
    assert session.get(SubmissionContact, initiative_id) is None  # the contact goes with the initiative


def test_api_token_rows_go_with_their_user(session):
    user = _moderator(session)
    accounts.create_token(session, user)
    accounts.remove_user(session, user.email)
    assert session.scalar(select(ApiToken.id)) is None


def _user(role, partner_id=None, active=True):
    return User(email=f"{role}@example.nl", role=role, partner_id=partner_id, active=active, password_hash="x")


def test_roles_and_partner_rights():
    admin, moderator, editor = _user("admin"), _user("moderator"), _user("partner_editor", partner_id=7)
    assert has_role(admin, ("moderator",)) and has_role(moderator, ("moderator",))
    assert not has_role(editor, ("moderator",)) and has_role(editor, ()) and not has_role(None, ())
    assert not has_role(_user("moderator", active=False), ("moderator",))
    assert can_edit_partner(admin, 7) and can_edit_partner(admin, 8)
    assert can_edit_partner(editor, 7) and not can_edit_partner(editor, 8)
    assert not can_edit_partner(moderator, 7) and not can_edit_partner(None, 7)
    assert not can_edit_partner(_user("partner_editor", partner_id=7, active=False), 7)
