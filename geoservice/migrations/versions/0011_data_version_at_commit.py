"""data_version is bumped at commit, not at a transaction's first write: writers no longer deadlock on it.

Before, the statement triggers of 0006 updated the one data_version row at the first write of a transaction,
so every writer held that row until it committed. A writer that then touched a row held by a second writer,
which itself waited for data_version, deadlocked (tests/test_concurrent_writes.py). Now the statement
triggers only note, once per transaction, that the transaction wrote map data (one row in
data_version_pending); a DEFERRABLE INITIALLY DEFERRED constraint trigger on that row bumps the version when
the transaction commits, as its last act. The new version still becomes visible at the same commit as the
data, and a rolled-back transaction still bumps nothing; but the row is held only for the commit itself,
when the transaction waits for nothing else, so it can no longer be part of a deadlock.

Revision ID: 0011_data_version_at_commit
Revises: 0010_corrections
Create Date: 2026-12-02
"""

from alembic import op

revision = "0011_data_version_at_commit"
down_revision = "0010_corrections"
branch_labels = None
depends_on = None

# The statement triggers of 0006 keep their name and function; only its body changes.
_NOTE = """
    BEGIN
        IF current_setting('geoservice.data_version_xid', true) IS DISTINCT FROM txid_current()::text THEN
            INSERT INTO data_version_pending (xid) VALUES (txid_current());
            PERFORM set_config('geoservice.data_version_xid', txid_current()::text, true);
        END IF;
        RETURN NULL;
    END"""

_BUMP_AT_COMMIT = """
    BEGIN
        UPDATE data_version SET version = version + 1, changed_at = clock_timestamp();
        DELETE FROM data_version_pending WHERE xid = NEW.xid;
        RETURN NULL;
    END"""

# 0006's body, for the downgrade.
_BUMP_AT_FIRST_WRITE = """
    BEGIN
        IF current_setting('geoservice.data_version_xid', true) IS DISTINCT FROM txid_current()::text THEN
            UPDATE data_version SET version = version + 1, changed_at = clock_timestamp();
            PERFORM set_config('geoservice.data_version_xid', txid_current()::text, true);
        END IF;
        RETURN NULL;
    END"""


def upgrade() -> None:
    op.execute("CREATE TABLE data_version_pending (xid bigint NOT NULL)")
    op.execute("COMMENT ON TABLE data_version_pending IS "
               "'one row per open transaction that wrote map data; removed when its commit bumps data_version'")
    op.execute(f"CREATE FUNCTION data_version_bump_at_commit() RETURNS trigger LANGUAGE plpgsql "
               f"AS $body${_BUMP_AT_COMMIT}$body$")
    op.execute("CREATE CONSTRAINT TRIGGER data_version_pending_at_commit AFTER INSERT ON data_version_pending "
               "DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION data_version_bump_at_commit()")
    op.execute(f"CREATE OR REPLACE FUNCTION data_version_bump() RETURNS trigger LANGUAGE plpgsql "
               f"AS $body${_NOTE}$body$")


def downgrade() -> None:
    op.execute(f"CREATE OR REPLACE FUNCTION data_version_bump() RETURNS trigger LANGUAGE plpgsql "
               f"AS $body${_BUMP_AT_FIRST_WRITE}$body$")
    op.execute("DROP TABLE data_version_pending")  # its trigger goes with it
    op.execute("DROP FUNCTION data_version_bump_at_commit()")
