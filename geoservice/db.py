"""Engine per app, session per request, and schema upgrades through Alembic."""

from __future__ import annotations

import logging
from pathlib import Path

import psycopg
from flask import current_app, g
from sqlalchemy import Engine, create_engine
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

log = logging.getLogger(__name__)
MIGRATIONS_DIR = Path(__file__).parent / "migrations"
# Seconds to wait for a new connection. Without it a request during an outage of a TCP server can hang
# for minutes (the kernel's connect timeout); with it the request fails fast and answers 503.
# A `connect_timeout` in the URL wins.
CONNECT_TIMEOUT_S = 5
# SQLSTATEs that mean "the server is not there (now)": connection exceptions (class 08), shutdown or
# start-up in progress (57P01..57P03), too many connections.
UNAVAILABLE_SQLSTATES = ("08", "57P01", "57P02", "57P03", "53300")


def make_engine(url: str, **kwargs) -> Engine:
    """An engine that checks pooled connections before use (pool_pre_ping), so after an outage the
    first request on each worker reconnects by itself, and that gives up connecting after CONNECT_TIMEOUT_S."""
    connect_args = dict(kwargs.pop("connect_args", {}))
    if "connect_timeout" not in make_url(url).query:
        connect_args.setdefault("connect_timeout", CONNECT_TIMEOUT_S)
    return create_engine(url, pool_pre_ping=True, future=True, connect_args=connect_args, **kwargs)


def is_unavailable(exc: BaseException) -> bool:
    """Does this error mean the database cannot be reached (down, restarting, connection lost)?

    Errors of a query on a working connection (bad SQL, constraint, statement timeout) are not.
    """
    if isinstance(exc, DBAPIError):
        if exc.connection_invalidated:
            return True
        exc = exc.orig
    if isinstance(exc, psycopg.OperationalError):
        # sqlstate is None when the client itself failed: refused, no socket, connection closed mid-query.
        return exc.sqlstate is None or exc.sqlstate.startswith(UNAVAILABLE_SQLSTATES)
    return False


def get_session() -> Session:
    """The request's session, opened on first use and closed on teardown."""
    if "db_session" not in g:
        g.db_session = Session(current_app.extensions["geoservice.engine"])
    return g.db_session


def close_session(_exc: BaseException | None = None) -> None:
    session = g.pop("db_session", None)
    if session is None:
        return
    try:
        session.close()
    except Exception as exc:  # noqa: BLE001 - a teardown must not turn a finished answer into a 500
        # Typically the database went away after the answer was ready, and the ROLLBACK of close() failed:
        # drop the connection (the pool opens a new one next time) and keep the answer.
        if is_unavailable(exc):
            log.warning("database connection lost while closing the session: %s", str(exc).splitlines()[0][:200])
        else:
            log.exception("closing the database session failed")
        session.invalidate()


def init_app(app, engine: Engine) -> None:
    app.extensions["geoservice.engine"] = engine
    app.teardown_appcontext(close_session)


def alembic_config(url: str):
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    # Alembic's config is ini-style: a literal % must be doubled.
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def upgrade(url: str, revision: str = "head") -> None:
    """Bring the schema to `revision` (idempotent)."""
    from alembic import command

    command.upgrade(alembic_config(url), revision)


def current_revision(url: str) -> str | None:
    from alembic.runtime.migration import MigrationContext

    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            return MigrationContext.configure(conn).get_current_revision()
    finally:
        engine.dispose()
