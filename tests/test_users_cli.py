"""`geoservice users …` and `geoservice tokens …` through Click's runner, on one database for the module."""

from __future__ import annotations

import hashlib
import os

import click
import pytest
from click.testing import CliRunner
from sqlalchemy import create_engine, insert
from sqlalchemy.orm import Session

from geoservice import accounts
from geoservice.cli import main
from geoservice.commands import users as users_commands
from geoservice.models import Partner

from .helpers import scalar

PASSWORD = "een goed wachtwoord"


@pytest.fixture(scope="module")
def cli_db(pg_server, template_db):
    name = f"geoservice_test_users_cli_{os.getpid()}"
    url = pg_server.create(name, template=template_db)
    engine = create_engine(url)
    with engine.begin() as conn:
        partner_id = conn.execute(insert(Partner).values(name="CLI-partner", kind="fonds", services=["advies"],
                                                         source="test").returning(Partner.id)).scalar_one()
    engine.dispose()
    yield url, partner_id
    pg_server.drop(name)


@pytest.fixture
def run(cli_db, runner_env):
    def invoke(*args, input=None):
        return CliRunner().invoke(main, list(args), input=input, env=runner_env(cli_db[0]))

    return invoke


def _authenticates(url: str, email: str, password: str) -> bool:
    engine = create_engine(url)
    try:
        with Session(engine) as session:
            return accounts.authenticate(session, email, password) is not None
    finally:
        engine.dispose()


def test_every_option_has_help():
    for group in (users_commands.users, users_commands.tokens):
        assert group.help
        for command in group.commands.values():
            assert command.help, command.name
            for param in command.params:
                if isinstance(param, click.Option) and param.name != "help":
                    assert param.help, f"{group.name} {command.name} {param.name}"


def test_add_list_set_password_remove(run, cli_db):
    url, partner_id = cli_db
    added = run("users", "add", "Mod@Example.nl", "--role", "moderator", "--name", "Mo", "--password-stdin",
                input=PASSWORD + "\n")
    assert added.exit_code == 0, added.output
    assert "mod@example.nl toegevoegd als moderator" in added.output
    assert _authenticates(url, "mod@example.nl", PASSWORD)
    assert PASSWORD not in scalar(url, "SELECT string_agg(t::text, ' ') FROM app_user t")

    editor = run("users", "add", "redactie@example.nl", "--role", "partner_editor", "--partner", str(partner_id),
                 "--password-stdin", input=PASSWORD + "\n")
    assert editor.exit_code == 0 and f"van partner {partner_id}" in editor.output

    listed = run("users", "list")
    assert listed.exit_code == 0
    assert "mod@example.nl (Mo)  moderator" in listed.output
    assert f"redactie@example.nl  partner_editor  partner {partner_id} (CLI-partner)" in listed.output

    new = run("users", "set-password", "MOD@example.nl", "--password-stdin", input="nog een beter wachtwoord\n")
    assert new.exit_code == 0 and "Nieuw wachtwoord ingesteld voor mod@example.nl" in new.output
    assert _authenticates(url, "mod@example.nl", "nog een beter wachtwoord")
    assert not _authenticates(url, "mod@example.nl", PASSWORD)

    removed = run("users", "remove", "mod@example.nl")
    assert removed.exit_code == 0 and "verwijderd" in removed.output
    assert "mod@example.nl" not in run("users", "list").output
    again = run("users", "remove", "mod@example.nl")
    assert again.exit_code == 1 and "Fout: Er is geen gebruiker met e-mailadres" in again.output
    run("users", "remove", "redactie@example.nl")


def test_password_is_asked_twice_without_echo(run, cli_db):
    added = run("users", "add", "admin@example.nl", "--role", "admin", input=f"{PASSWORD}\n{PASSWORD}\n")
    assert added.exit_code == 0, added.output
    assert PASSWORD not in added.output and "Nog een keer ter controle" in added.output
    assert _authenticates(cli_db[0], "admin@example.nl", PASSWORD)
    # two different answers: asked again; no more input: nothing is added
    mismatch = run("users", "add", "tweede@example.nl", "--role", "admin", input=f"{PASSWORD}\nanders dan dat\n")
    assert mismatch.exit_code != 0
    assert scalar(cli_db[0], "SELECT count(*) FROM app_user WHERE email = 'tweede@example.nl'") == 0
    run("users", "remove", "admin@example.nl")


@pytest.mark.parametrize("args, stdin, code, message", [
    (["--role", "partner_editor"], PASSWORD, 2, "--role partner_editor heeft --partner ID nodig"),
    (["--role", "moderator", "--partner", "1"], PASSWORD, 2, "--partner hoort alleen bij --role partner_editor"),
    (["--role", "partner_editor", "--partner", "999999"], PASSWORD, 1, "Fout: Er is geen partner met id 999999"),
    (["--role", "baas"], PASSWORD, 2, "'baas' is not one of"),
    (["--role", "moderator"], "kort", 1, "Fout: Het wachtwoord moet minstens 12 tekens lang zijn."),
])
def test_add_refuses_clearly(run, cli_db, args, stdin, code, message):
    result = run("users", "add", "fout@example.nl", *args, "--password-stdin", input=stdin + "\n")
    assert result.exit_code == code and message in result.output, result.output
    assert scalar(cli_db[0], "SELECT count(*) FROM app_user WHERE email = 'fout@example.nl'") == 0


def test_add_refuses_a_duplicate_and_a_bad_address(run):
    assert run("users", "add", "dubbel@example.nl", "--role", "moderator", "--password-stdin",
               input=PASSWORD + "\n").exit_code == 0
    duplicate = run("users", "add", "DUBBEL@example.nl", "--role", "admin", "--password-stdin", input=PASSWORD + "\n")
    assert duplicate.exit_code == 1 and "Fout: Er is al een gebruiker met e-mailadres 'dubbel@example.nl'" in duplicate.output
    bad = run("users", "add", "geen-adres", "--role", "admin", "--password-stdin", input=PASSWORD + "\n")
    assert bad.exit_code == 1 and "geen geldig e-mailadres" in bad.output
    unknown = run("users", "set-password", "niemand@example.nl", "--password-stdin", input=PASSWORD + "\n")
    assert unknown.exit_code == 1 and "Er is geen gebruiker" in unknown.output
    run("users", "remove", "dubbel@example.nl")


def test_tokens_create_list_revoke(run, cli_db):
    url = cli_db[0]
    run("users", "add", "robot@example.nl", "--role", "moderator", "--password-stdin", input=PASSWORD + "\n")
    created = run("tokens", "create", "robot@example.nl", "--label", "importscript")
    assert created.exit_code == 0, created.output
    token = created.stdout.strip()
    assert token.startswith("gs_") and "\n" not in token
    assert "Bewaar het nu" in created.stderr and token not in created.stderr
    token_id = scalar(url, "SELECT id FROM api_token WHERE token_hash = :h",
                      h=hashlib.sha256(token.encode()).hexdigest())
    assert token_id is not None

    listed = run("tokens", "list", "robot@example.nl")
    assert listed.exit_code == 0 and f"{token_id}  robot@example.nl  'importscript'" in listed.output
    assert "geldig" in listed.output and token not in listed.output
    assert f"{token_id}  robot@example.nl" in run("tokens", "list").output
    assert "tokens: 1" in run("users", "list").output

    revoked = run("tokens", "revoke", str(token_id))
    assert revoked.exit_code == 0 and f"Token {token_id} ingetrokken." in revoked.output
    assert "ingetrokken 2" in run("tokens", "list", "robot@example.nl").output
    assert "was al ingetrokken" in run("tokens", "revoke", str(token_id)).output
    missing = run("tokens", "revoke", "999999")
    assert missing.exit_code == 1 and "Fout: Er is geen token met id 999999" in missing.output
    nobody = run("tokens", "list", "niemand@example.nl")
    assert nobody.exit_code == 1 and "Er is geen gebruiker" in nobody.output
    run("users", "remove", "robot@example.nl")
    assert run("tokens", "list").output.strip() == "Geen tokens."
