"""Two writers at once on a real PostGIS: no deadlock through the data version, and retries inside the transaction.

The data version (migration 0006) was bumped by the first write of a transaction, so every writer held its one
row from its first write to its commit. A writer that then touched a row another writer held, while that other
writer waited for the data version, deadlocked: PostgreSQL killed one of them, and the user saw a 500.
"""

from __future__ import annotations

import threading
import time

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from geoservice import db

from .helpers import make_initiative, scalar

LOCK_WAIT = "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND datname = current_database()"


def _wait_until_blocked(url: str, timeout_s: float = 10) -> None:
    deadline = time.monotonic() + timeout_s
    while scalar(url, LOCK_WAIT) == 0:
        assert time.monotonic() < deadline, "the second writer never waited for a lock"
        time.sleep(0.02)


def _in_thread(work) -> tuple[threading.Thread, list]:
    outcome: list = []

    def run():
        try:
            outcome.append(work())
        except Exception as exc:  # noqa: BLE001 - the test looks at what happened
            outcome.append(exc)

    thread = threading.Thread(target=run)
    thread.start()
    return thread, outcome


@pytest.fixture
def two_initiatives(fresh_db_url, engine_for):
    with engine_for(fresh_db_url).begin() as conn:
        return make_initiative(conn, name="Eerste"), make_initiative(conn, name="Tweede", lon=5.2900)


def test_two_writers_touching_initiatives_in_opposite_order_both_commit(fresh_db_url, engine_for, two_initiatives):
    """A writes 1, B writes 2 (and so wants the data version), A then writes 2: once a deadlock, now both commit."""
    first, second = two_initiatives
    engine = engine_for(fresh_db_url)
    version_before = scalar(fresh_db_url, "SELECT version FROM data_version")
    rename = text("UPDATE initiative SET name = :name WHERE id = :id")
    with engine.connect() as a:
        a.execute(text("SET deadlock_timeout = '100ms'"))
        a.execute(rename, {"name": "A1", "id": first})

        def writer_b():
            with engine.connect() as b:
                b.execute(text("SET deadlock_timeout = '100ms'"))
                b.execute(rename, {"name": "B2", "id": second})
                b.commit()
            return "committed"

        thread, outcome = _in_thread(writer_b)
        deadline = time.monotonic() + 10
        while thread.is_alive() and time.monotonic() < deadline and scalar(fresh_db_url, LOCK_WAIT) == 0:
            time.sleep(0.02)  # until B has either finished or waits (for the data version, before the fix)
        try:
            a.execute(rename, {"name": "A2", "id": second})  # waits for B's row while B waits for A
            a.commit()
            result_a = "committed"
        except DBAPIError as exc:
            a.rollback()
            result_a = exc
        thread.join(10)
    assert outcome == ["committed"] and result_a == "committed", (outcome, result_a)
    names = {r.id: r.name for r in engine.connect().execute(
        text("SELECT id, name FROM initiative WHERE id IN (:a, :b)"), {"a": first, "b": second})}
    assert names == {first: "A1", second: "A2"}  # B committed first, A's later write of 2 wins
    assert scalar(fresh_db_url, "SELECT version FROM data_version") == version_before + 2


def test_a_writer_does_not_hold_the_data_version_until_it_commits(fresh_db_url, engine_for, two_initiatives):
    """The version is bumped at commit: a second writer of another row is not held up by a slow first one."""
    first, second = two_initiatives
    engine = engine_for(fresh_db_url)
    with engine.connect() as slow:
        slow.execute(text("UPDATE initiative SET name = 'traag' WHERE id = :id"), {"id": first})

        def quick():
            with engine.connect() as conn:
                conn.execute(text("SET lock_timeout = '2s'"))
                conn.execute(text("UPDATE initiative SET name = 'snel' WHERE id = :id"), {"id": second})
                conn.commit()
            return "committed"

        thread, outcome = _in_thread(quick)
        thread.join(10)
        assert outcome == ["committed"]
        version_between = scalar(fresh_db_url, "SELECT version FROM data_version")
        slow.commit()
    assert scalar(fresh_db_url, "SELECT version FROM data_version") == version_between + 1


def test_retrying_runs_the_work_again_after_a_deadlock(fresh_db_url, engine_for, two_initiatives):
    """Rows taken in opposite order: PostgreSQL aborts one writer, db.retrying runs its work again, both commit."""
    first, second = two_initiatives
    engine = engine_for(fresh_db_url)
    barrier = threading.Barrier(2, timeout=10)
    attempts = {"a": 0, "b": 0}
    rename = text("UPDATE initiative SET name = name || :tag WHERE id = :id")

    def writer(tag: str, order: tuple[int, int]):
        def work(conn):
            attempts[tag] += 1
            conn.execute(text("SET LOCAL deadlock_timeout = '100ms'"))
            conn.execute(rename, {"tag": tag, "id": order[0]})
            if attempts[tag] == 1:
                barrier.wait()  # both hold their first row: the second statements deadlock
            conn.execute(rename, {"tag": tag, "id": order[1]})

        with engine.connect() as conn:
            db.retrying(conn, work)
        return "committed"

    thread_a, outcome_a = _in_thread(lambda: writer("a", (first, second)))
    thread_b, outcome_b = _in_thread(lambda: writer("b", (second, first)))
    thread_a.join(20)
    thread_b.join(20)
    assert outcome_a == ["committed"] and outcome_b == ["committed"], (outcome_a, outcome_b)
    assert sorted(attempts.values()) == [1, 2]  # exactly one of them was aborted, and ran again
    with engine.connect() as conn:
        names = conn.execute(text("SELECT name FROM initiative WHERE id IN (:a, :b)"),
                             {"a": first, "b": second}).scalars().all()
    assert all(name.count("a") == 1 and name.count("b") == 1 for name in names), names


def _staged(n: int, key: str, name: str) -> tuple:
    """One row as the importer stages it (queries.initiatives_write.STAGE_COLUMNS), in Baarn."""
    return (n, "gemeente-baarn", key, name, "bewonersinitiatief", ["ontmoeting"], None, None, None, None, None, None,
            146_000.0 + n, 464_000.0, "manual", "published", None, None, None, None, None)


def test_two_imports_of_one_source_sharing_rows_in_opposite_order_wait_instead_of_deadlocking(fresh_db_url,
                                                                                               engine_for):
    """A holds row k1 and B, with k2 and k1 in the other order, starts: without a lock per source B would take k2
    and wait for k1 while A went on to k2 — a deadlock. Imports of one source now queue for each other (and only
    those can share rows: the key is source + external_id), so neither is aborted."""
    from geoservice.queries.initiatives_write import upsert_staged

    engine = engine_for(fresh_db_url)
    deadlocks = "SELECT deadlocks FROM pg_stat_database WHERE datname = current_database()"
    before = scalar(fresh_db_url, deadlocks)
    a_holds_k1, b_started = threading.Event(), threading.Event()

    def importer_a():
        with engine.begin() as conn:
            conn.execute(text("SET LOCAL deadlock_timeout = '100ms'"))
            upsert_staged(conn, [_staged(1, "k1", "A")])
            a_holds_k1.set()
            assert b_started.wait(10)
            _wait_until_blocked(fresh_db_url)  # B waits: for the source, not (as it did) for k1 after taking k2
            upsert_staged(conn, [_staged(2, "k2", "A")])
        return "committed"

    def importer_b():
        assert a_holds_k1.wait(10)
        b_started.set()
        with engine.begin() as conn:
            conn.execute(text("SET LOCAL deadlock_timeout = '100ms'"))
            upsert_staged(conn, [_staged(1, "k2", "B"), _staged(2, "k1", "B")])
        return "committed"

    thread_a, outcome_a = _in_thread(importer_a)
    thread_b, outcome_b = _in_thread(importer_b)
    thread_a.join(30)
    thread_b.join(30)
    assert outcome_a == ["committed"] and outcome_b == ["committed"], (outcome_a, outcome_b)
    assert scalar(fresh_db_url, deadlocks) == before
    with engine.connect() as conn:
        names = dict(conn.execute(text("SELECT external_id, name FROM initiative WHERE source = 'gemeente-baarn'")).all())
    assert names == {"k1": "B", "k2": "B"}  # B came second and wrote last
