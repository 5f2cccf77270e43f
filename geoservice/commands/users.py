"""`geoservice users add|list|remove|set-password` and `geoservice tokens create|list|revoke`."""

from __future__ import annotations

import contextlib
import sys

import click

from ..models import USER_ROLES


@contextlib.contextmanager
def _transaction():
    """A session on the service's database (embedded one started, schema current), committed on success."""
    from sqlalchemy.orm import Session

    from .. import db
    from ._database import current_settings, ensure_database

    engine = db.make_engine(ensure_database(current_settings(), echo=lambda m: click.echo(m, err=True)))
    try:
        with Session(engine, expire_on_commit=False) as session, session.begin():
            yield session
    finally:
        engine.dispose()


def _read_password(from_stdin: bool) -> str:
    """One line from standard input, or asked twice without echo."""
    from ..accounts import check_password_policy

    if from_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = click.prompt("Wachtwoord", hide_input=True, confirmation_prompt="Nog een keer ter controle",
                                prompt_suffix=": ")
    check_password_policy(password)
    return password


def _when(value) -> str:
    return value.astimezone().strftime("%Y-%m-%d %H:%M") if value else "-"


@click.group("users")
def users() -> None:
    """Manage the accounts of admins, moderators and partner editors."""


@users.command("add")
@click.argument("email")
@click.option("--role", type=click.Choice(USER_ROLES), required=True,
              help="admin (everything), moderator (submissions and initiatives) or partner_editor (one partner).")
@click.option("--partner", "partner_id", type=click.IntRange(min=1), metavar="ID",
              help="The partner (id, see /api/v1/partners) a partner_editor edits; required for that role only.")
@click.option("--name", help="The person's name, as shown to colleagues.")
@click.option("--password-stdin", is_flag=True,
              help="Read the password from the first line of standard input instead of asking for it.")
def add_user(email: str, role: str, partner_id: int | None, name: str | None, password_stdin: bool) -> None:
    """Add a user with a password (at least 12 characters; asked twice unless --password-stdin)."""
    from .. import accounts

    if role == "partner_editor" and partner_id is None:
        raise click.UsageError("--role partner_editor heeft --partner ID nodig (de partner die deze persoon beheert).")
    if role != "partner_editor" and partner_id is not None:
        raise click.UsageError("--partner hoort alleen bij --role partner_editor.")
    address = accounts.normalise_email(email)
    password = _read_password(password_stdin)
    with _transaction() as session:
        user = accounts.create_user(session, address, role=role, password=password, name=name,
                                    partner_id=partner_id)
    partner = f" van partner {user.partner_id}" if user.partner_id else ""
    click.echo(f"Gebruiker {user.email} toegevoegd als {accounts.ROLES[role].lower()}{partner} (id {user.id}).")


@users.command("list")
def list_users() -> None:
    """List every user: e-mail, role, partner, active, usable tokens."""
    from .. import accounts

    with _transaction() as session:
        rows = accounts.list_users(session)
    if not rows:
        click.echo("Nog geen gebruikers (geoservice users add).")
        return
    for row in rows:
        partner = f"  partner {row['partner_id']} ({row['partner_name']})" if row["partner_id"] else ""
        state = "" if row["active"] else "  NIET ACTIEF"
        name = f" ({row['name']})" if row["name"] else ""
        click.echo(f"{row['id']:>5}  {row['email']}{name}  {row['role']}{partner}  tokens: {row['tokens']}{state}")


@users.command("remove")
@click.argument("email")
def remove_user(email: str) -> None:
    """Remove a user and their API tokens (their entries in the audit log stay)."""
    from .. import accounts

    with _transaction() as session:
        user = accounts.remove_user(session, email)
    click.echo(f"Gebruiker {user.email} verwijderd.")


@users.command("set-password")
@click.argument("email")
@click.option("--password-stdin", is_flag=True,
              help="Read the new password from the first line of standard input instead of asking for it.")
def set_password(email: str, password_stdin: bool) -> None:
    """Give a user a new password; this logs them out everywhere."""
    from .. import accounts

    with _transaction() as session:
        user = accounts.get_user(session, email)  # before asking: an unknown address fails at once
        password = _read_password(password_stdin)
        accounts.set_password(session, user, password)
    click.echo(f"Nieuw wachtwoord ingesteld voor {user.email}.")


@click.group("tokens")
def tokens() -> None:
    """Manage API tokens (Authorization: Bearer …) for programs that write through the API."""


@tokens.command("create")
@click.argument("email")
@click.option("--label", help="What the token is for, e.g. the program or server that uses it.")
def create_token(email: str, label: str | None) -> None:
    """Create a token for a user and print it once; only a hash of it is stored."""
    from .. import accounts

    with _transaction() as session:
        user = accounts.get_user(session, email)
        token, plaintext = accounts.create_token(session, user, label)
    click.echo(f"Token {token.id} voor {user.email} aangemaakt. Bewaar het nu: het wordt niet nog eens getoond.",
               err=True)
    click.echo(plaintext)


@tokens.command("list")
@click.argument("email", required=False)
def list_tokens(email: str | None) -> None:
    """List tokens (never the tokens themselves), of one user when EMAIL is given."""
    from .. import accounts

    with _transaction() as session:
        rows = accounts.list_tokens(session, email)
    if not rows:
        click.echo("Geen tokens.")
        return
    for row in rows:
        state = f"ingetrokken {_when(row['revoked_at'])}" if row["revoked_at"] else "geldig"
        label = f"  '{row['label']}'" if row["label"] else ""
        click.echo(f"{row['id']:>5}  {row['email']}{label}  aangemaakt {_when(row['created_at'])}  "
                   f"laatst gebruikt {_when(row['last_used_at'])}  {state}")


@tokens.command("revoke")
@click.argument("token_id", metavar="ID", type=click.IntRange(min=1))
def revoke_token(token_id: int) -> None:
    """Revoke a token (see `geoservice tokens list` for the ids); it stops working at once."""
    from .. import accounts

    with _transaction() as session:
        _token, revoked = accounts.revoke_token(session, token_id)
    click.echo(f"Token {token_id} ingetrokken." if revoked else f"Token {token_id} was al ingetrokken.")
