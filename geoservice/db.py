"""Engine per app, session per request, and schema upgrades through Alembic.

With DATABASE_READ_URL set there is a second engine, on a streaming replica: requests that only read (GET, HEAD
and OPTIONS without an Authorization header) get a session on it from get_session(); every other request, and
get_session(write=True), gets the primary. After a request that committed, the client carries a short-lived
cookie that sends its next reads to the primary too (read your own writes despite replica lag). A replica that
cannot be reached is skipped for REPLICA_RETRY_S and reads go to the primary (logged once per outage).
"""

from __future__ import annotations

import logging
import os
import random
import threading
import time
from pathlib import Path

import psycopg
from flask import current_app, g, has_request_context, request
from sqlalchemy import Connection, Engine, create_engine, event
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
# Requests that may read from the replica (when they carry no Authorization header: token_required writes).
READ_METHODS = ("GET", "HEAD", "OPTIONS")
# Set after a request that committed: the client's reads go to the primary while it lasts, long enough for
# a replica to replay the write (normally milliseconds) and short enough to keep the primary for writes.
READ_YOUR_WRITES_COOKIE = "geoservice_primary"
READ_YOUR_WRITES_S = 5
# After the replica failed to connect, reads go to the primary this long before the replica is tried again.
REPLICA_RETRY_S = 10
# A replica that does not answer must not hold a read up for long: the primary is there to fall back to.
REPLICA_CONNECT_TIMEOUT_S = 2
# serialization_failure and deadlock_detected: PostgreSQL aborted the transaction so that another could go on;
# the same work run again from the start succeeds. retrying() does that for every writer.
RETRY_SQLSTATES = ("40001", "40P01")
WRITE_ATTEMPTS = 5
ENGINE = "geoservice.engine"
READ_REPLICA = "geoservice.read_replica"
FAST_READS = "geoservice.fast_reads"
# The hot public reads (tiles, OGC items) run on connections of their own: autocommit (no BEGIN and ROLLBACK
# round trips), a plan made for each statement's parameters and no parallel workers (see
# queries.common.plan_each_page), set once when the connection is made. A pooled connection is pinged
# before use only when it sat idle this long: under load that ping was a round trip on every request.
FAST_READ_OPTIONS = "-c plan_cache_mode=force_custom_plan -c max_parallel_workers_per_gather=0"
# Initiative tiles and the data version are the other way round: whatever the tile, the plan is the same index
# scan, and planning a tile took longer than running it; their connections keep the generic plan of a
# statement once psycopg has prepared it (its 5th run). Not area tiles: their generic plan is much worse.
GENERIC_PLAN_OPTIONS = "-c plan_cache_mode=force_generic_plan -c max_parallel_workers_per_gather=0"
PING_AFTER_IDLE_S = 1.0


def make_engine(url: str, **kwargs) -> Engine:
    """An engine that checks pooled connections before use (pool_pre_ping), so after an outage the
    first request on each worker reconnects by itself, and that gives up connecting after CONNECT_TIMEOUT_S."""
    connect_args = dict(kwargs.pop("connect_args", {}))
    if "connect_timeout" not in make_url(url).query:
        connect_args.setdefault("connect_timeout", CONNECT_TIMEOUT_S)
    return create_engine(url, pool_pre_ping=True, future=True, connect_args=connect_args, **kwargs)


def make_fast_read_engine(url: str, connect_timeout_s: float = CONNECT_TIMEOUT_S,
                          settings: str = FAST_READ_OPTIONS) -> Engine:
    """An engine for read_connection(): autocommit, per-statement plans (or `settings`), no parallel query,
    ping after idle."""
    # libpq's options replace PGOPTIONS: keep what the environment asks for too (bench/peer.py --pg-options)
    options = f"{os.environ.get('PGOPTIONS', '')} {settings}".strip()
    connect_args = {"options": options, "autocommit": True}
    if "connect_timeout" not in make_url(url).query:
        connect_args["connect_timeout"] = connect_timeout_s
    engine = create_engine(url, future=True, connect_args=connect_args, isolation_level="AUTOCOMMIT")

    @event.listens_for(engine, "checkin")
    def _checked_in(_dbapi_connection, record):
        record.info["idle_since"] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _ping_after_idle(dbapi_connection, record, _proxy):
        if time.monotonic() - record.info.get("idle_since", float("-inf")) < PING_AFTER_IDLE_S:
            return
        try:
            dbapi_connection.execute("SELECT 1")
        except psycopg.Error as exc:  # gone (server restarted, idle timeout): the pool connects anew
            from sqlalchemy.exc import DisconnectionError

            raise DisconnectionError(str(exc)) from exc

    return engine


def read_connection(generic_plans: bool = False) -> Connection:
    """The request's connection for hot public reads (OGC items, area tiles; with generic_plans initiative tiles
    and the data version),
    opened on first use, closed on teardown.

    Each statement runs on its own (autocommit): use it for reads of one statement each, never for writes.
    On the read replica when get_session() would read from it, else on the primary.
    """
    suffix = "-generic" if generic_plans else ""
    key = "db_fast_read" + suffix
    if key not in g:
        engines = current_app.extensions[FAST_READS]
        replica = current_app.extensions.get(READ_REPLICA)
        if replica is not None and reads_from_replica() and replica.usable():
            try:
                connection = engines["replica" + suffix].connect()
                replica.answered()
                setattr(g, key, connection)
                return connection
            except Exception as exc:
                if not is_unavailable(exc):
                    raise
                replica.failed(exc)
        setattr(g, key, engines["primary" + suffix].connect())
    return g.get(key)


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


def must_retry(exc: BaseException) -> bool:
    """Was the transaction aborted only to let a concurrent one go on (deadlock, serialization failure)?"""
    orig = exc.orig if isinstance(exc, DBAPIError) else exc
    return isinstance(orig, psycopg.Error) and orig.sqlstate in RETRY_SQLSTATES


def retrying(target, work, *, attempts: int = WRITE_ATTEMPTS):
    """work(target) in one transaction, committed; after a deadlock or serialization failure it is rolled back
    and run again from the start (up to `attempts` times, with a short random pause), so that what PostgreSQL
    does to break a deadlock never reaches a user. target: a Session (committed with .commit()) or a Connection
    with no transaction open (one is begun here). work may end the transaction itself (a dry run rolls back);
    anything it changes outside the database must be safe to do again.
    """
    for attempt in range(1, attempts + 1):
        transaction = target.begin() if isinstance(target, Connection) else None
        try:
            result = work(target)
            if transaction is None:
                target.commit()
            elif transaction.is_active:
                transaction.commit()
            return result
        except Exception as exc:
            target.rollback()
            if attempt == attempts or not must_retry(exc):
                raise
            log.info("write aborted by the database (%s), attempt %d of %d: running it again",
                     getattr(getattr(exc, "orig", exc), "sqlstate", "?"), attempt, attempts)
        time.sleep(random.uniform(0.005, 0.03) * attempt)  # let the other writer commit first
    raise AssertionError("unreachable")  # pragma: no cover


class ReadReplica:
    """The engine of a read replica and whether it answered lately (shared by the threads of one worker)."""

    def __init__(self, engine: Engine, clock=time.monotonic):
        self.engine = engine
        self._clock = clock
        self._lock = threading.Lock()
        self._down_until = 0.0
        self._down = False

    def usable(self) -> bool:
        return self._clock() >= self._down_until

    def failed(self, exc: BaseException) -> None:
        with self._lock:
            first = not self._down
            self._down, self._down_until = True, self._clock() + REPLICA_RETRY_S
        if first:
            log.warning("read replica unavailable, reads go to the primary (retried every %ss): %s",
                        REPLICA_RETRY_S, str(exc).splitlines()[0][:200])

    def answered(self) -> None:
        if self._down:
            with self._lock:
                was_down, self._down = self._down, False
            if was_down:
                log.warning("read replica answers again: reads go to it")


def reads_from_replica() -> bool:
    """Is this a request whose get_session() may use the replica? (Only when one is configured.)"""
    return (READ_REPLICA in current_app.extensions and has_request_context()
            and request.method in READ_METHODS and "Authorization" not in request.headers
            and READ_YOUR_WRITES_COOKIE not in request.cookies)


def get_session(write: bool = False) -> Session:
    """The request's session, opened on first use and closed on teardown.

    A read-only request gets a session on the read replica when one is configured; `write=True` asks for the
    primary regardless (a GET that writes, or must see its own request's writes).
    """
    if not write and reads_from_replica():
        if "db_read_session" not in g:
            g.db_read_session = _replica_session() or _primary_session()
        return g.db_read_session
    return _primary_session()


def _primary_session() -> Session:
    if "db_session" not in g:
        session = Session(current_app.extensions[ENGINE])
        if READ_REPLICA in current_app.extensions:  # only then does a commit need remembering
            event.listen(session, "after_commit", _committed)
        g.db_session = session
    return g.db_session


def _committed(_session: Session) -> None:
    g.db_committed = True


def _replica_session() -> Session | None:
    """A session on the replica with its connection open, or None when the replica is (recently) down."""
    replica: ReadReplica = current_app.extensions[READ_REPLICA]
    if not replica.usable():
        return None
    session = Session(replica.engine)
    try:
        session.connection()  # connect now, so that a replica outage means the primary, not a 503
    except Exception as exc:
        session.close()
        if not is_unavailable(exc):
            raise
        replica.failed(exc)
        return None
    replica.answered()
    return session


def remember_writes(response):
    """After a commit, this client's reads go to the primary for READ_YOUR_WRITES_S (replica lag)."""
    if g.get("db_committed"):
        settings = current_app.extensions.get("geoservice.settings")
        response.set_cookie(READ_YOUR_WRITES_COOKIE, "1", max_age=READ_YOUR_WRITES_S, httponly=True,
                            samesite="Lax", secure=bool(settings and settings.secure_cookies))
    return response


def close_session(_exc: BaseException | None = None) -> None:
    for key in ("db_read_session", "db_session", "db_fast_read", "db_fast_read-generic"):
        _close(g.pop(key, None))


def _close(session: Session | None) -> None:
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
    """The primary engine, and a read engine when the app's settings name a DATABASE_READ_URL."""
    app.extensions[ENGINE] = engine
    url = engine.url.render_as_string(hide_password=False)
    app.extensions[FAST_READS] = {  # read_connection()'s engines
        "primary": make_fast_read_engine(url),
        "primary-generic": make_fast_read_engine(url, settings=GENERIC_PLAN_OPTIONS)}
    settings = app.extensions.get("geoservice.settings")
    read_url = getattr(settings, "database_read_url", None)
    if read_url:
        connect_args = {} if "connect_timeout" in make_url(read_url).query else {
            "connect_timeout": REPLICA_CONNECT_TIMEOUT_S}
        app.extensions[READ_REPLICA] = ReadReplica(make_engine(read_url, connect_args=connect_args))
        app.extensions[FAST_READS]["replica"] = make_fast_read_engine(read_url, REPLICA_CONNECT_TIMEOUT_S)
        app.extensions[FAST_READS]["replica-generic"] = make_fast_read_engine(read_url, REPLICA_CONNECT_TIMEOUT_S,
                                                                              settings=GENERIC_PLAN_OPTIONS)
        app.after_request(remember_writes)
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
