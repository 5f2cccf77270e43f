"""data_version: one row whose version goes up with every transaction that writes map data.

Statement-level triggers on initiative, partner, service_area, gemeente, wijk, buurt and cbs_jaar
bump it, so every import, CBS load, moderation and partner edit changes it without application code
to forget. HTTP caching (geoservice.caching) derives ETags from it. The row is updated, not a
sequence advanced: the new version becomes visible at the same commit as the data, never before
(a reader could otherwise cache old data under the new version). A transaction-local setting makes
the bump once per transaction, however many statements it runs (an import of 100,000 rows).

Revision ID: 0006_data_version
Revises: 0004_gap_coverage
Create Date: 2026-11-28
"""

import sqlalchemy as sa
from alembic import op

revision = "0006_data_version"
down_revision = "0004_gap_coverage"
branch_labels = None
depends_on = None

TABLES = ("initiative", "partner", "service_area", "gemeente", "wijk", "buurt", "cbs_jaar")

# Writers serialise on the one row from their first write to their commit; readers never wait.
_BUMP = """
    BEGIN
        IF current_setting('geoservice.data_version_xid', true) IS DISTINCT FROM txid_current()::text THEN
            UPDATE data_version SET version = version + 1, changed_at = clock_timestamp();
            PERFORM set_config('geoservice.data_version_xid', txid_current()::text, true);
        END IF;
        RETURN NULL;
    END"""


def upgrade() -> None:
    op.create_table(
        "data_version",
        sa.Column("version", sa.BigInteger, nullable=False, comment="goes up by one per writing transaction"),
        sa.Column("changed_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
    )
    op.execute("CREATE UNIQUE INDEX data_version_one_row ON data_version ((true))")  # at most one row
    op.execute("INSERT INTO data_version (version, changed_at) VALUES (1, now())")
    op.execute(f"CREATE FUNCTION data_version_bump() RETURNS trigger LANGUAGE plpgsql AS $body${_BUMP}$body$")
    for table in TABLES:
        op.execute(f"CREATE TRIGGER {table}_data_version AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON {table} "
                   f"FOR EACH STATEMENT EXECUTE FUNCTION data_version_bump()")


def downgrade() -> None:
    for table in TABLES:
        op.execute(f"DROP TRIGGER {table}_data_version ON {table}")
    op.execute("DROP FUNCTION data_version_bump()")
    op.drop_table("data_version")
