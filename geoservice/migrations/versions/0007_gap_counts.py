"""Initiative counts kept on write: gap_counts and the stale marks that triggers set.

gap_counts holds, per unit (buurt or wijk of the active CBS year), the figures of the gap analysis
that depend on the initiatives, for its default question (every published initiative, walk_m 1000):
n_inside, n_nearby and nearest_m. geoservice.queries.gaps.refresh_counts fills it. The triggers only
book-keep, like those of gap_coverage (0004): a write to initiative that changes where a published
initiative is (insert, delete, a new location, publishing or unpublishing) marks the old and new
points; a change of buurt or wijk boundaries or of the active year marks everything (a NULL point).
While anything is marked a reader computes the figures on the fly, so it never trusts a stale table.

Revision ID: 0007_gap_counts
Revises: 0006_data_version
Create Date: 2026-11-27
"""

import sqlalchemy as sa
from alembic import op
from geoalchemy2 import Geometry

revision = "0007_gap_counts"
down_revision = "0006_data_version"
branch_labels = None
depends_on = None

_EVERYTHING = "INSERT INTO gap_counts_stale (location, marked_xid) VALUES (NULL, txid_current())"

_MARK_FUNCTIONS = {
    # Initiatives: the points where a published initiative was or is. Changes of name, kind, theme
    # or codes (the CBS assignment) mark nothing: the stored figures count every published one.
    "gap_counts_mark_points": f"""
        BEGIN
            IF TG_OP = 'TRUNCATE' THEN
                {_EVERYTHING};
            ELSIF TG_OP = 'INSERT' THEN
                INSERT INTO gap_counts_stale (location, marked_xid)
                SELECT location, txid_current() FROM changed_rows WHERE status = 'published';
            ELSIF TG_OP = 'DELETE' THEN
                INSERT INTO gap_counts_stale (location, marked_xid)
                SELECT location, txid_current() FROM changed_rows WHERE status = 'published';
            ELSE
                INSERT INTO gap_counts_stale (location, marked_xid)
                SELECT p.location, txid_current()
                FROM old_rows AS o JOIN changed_rows AS n ON n.id = o.id
                CROSS JOIN LATERAL (VALUES (o.location, o.status), (n.location, n.status)) AS p(location, status)
                WHERE p.status = 'published'
                  AND (o.status IS DISTINCT FROM n.status OR NOT ST_Equals(o.location, n.location));
            END IF;
            RETURN NULL;
        END""",
    # Buurten, wijken, the active year: everything, but only when a row really changed.
    "gap_counts_mark_all": f"""
        BEGIN
            IF TG_OP = 'TRUNCATE' OR EXISTS (SELECT 1 FROM changed_rows) THEN
                {_EVERYTHING};
            END IF;
            RETURN NULL;
        END""",
}

# (table, function, events with their transition tables); statement-level, so a bulk write marks once.
_TRIGGERS = [
    *[("initiative", "gap_counts_mark_points", event) for event in (
        ("INSERT", "NEW TABLE AS changed_rows"), ("UPDATE", "OLD TABLE AS old_rows NEW TABLE AS changed_rows"),
        ("DELETE", "OLD TABLE AS changed_rows"), ("TRUNCATE", None))],
    *[(table, "gap_counts_mark_all", event) for table in ("buurt", "wijk") for event in (
        ("INSERT", "NEW TABLE AS changed_rows"), ("UPDATE", "NEW TABLE AS changed_rows"),
        ("DELETE", "OLD TABLE AS changed_rows"), ("TRUNCATE", None))],
    *[("cbs_jaar", "gap_counts_mark_all", event) for event in (
        ("UPDATE", "NEW TABLE AS changed_rows"), ("DELETE", "OLD TABLE AS changed_rows"), ("TRUNCATE", None))],
]


def _trigger_name(table: str, event: str) -> str:
    return f"{table}_gap_counts_{event.lower()}"


def upgrade() -> None:
    op.create_table(
        "gap_counts",
        sa.Column("jaar", sa.SmallInteger, primary_key=True),
        sa.Column("code", sa.String(10), primary_key=True, comment="buurt or wijk code"),
        sa.Column("n_inside", sa.Integer, nullable=False, comment="published initiatives inside the unit"),
        sa.Column("n_nearby", sa.Integer, nullable=False,
                  comment="published initiatives within the default walk_m of the unit (inside counts)"),
        sa.Column("nearest_m", sa.Float, comment="metres to the nearest published initiative; null beyond 50 km"),
    )
    op.create_table(
        "gap_counts_stale",
        sa.Column("id", sa.BigInteger, primary_key=True),  # bigserial (a restore drops and remakes sequences)
        sa.Column("location", Geometry("POINT", srid=28992, spatial_index=False),
                  comment="where a published initiative was or is now; NULL: everything"),
        sa.Column("marked_xid", sa.BigInteger, nullable=False, comment="the transaction that marked it"),
    )
    for name, body in _MARK_FUNCTIONS.items():
        op.execute(f"CREATE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql AS $body${body}$body$")
    for table, function, (event, transition) in _TRIGGERS:
        referencing = f" REFERENCING {transition}" if transition else ""
        op.execute(f"CREATE TRIGGER {_trigger_name(table, event)} AFTER {event} ON {table}{referencing} "
                   f"FOR EACH STATEMENT EXECUTE FUNCTION {function}()")
    # Nothing computed yet: the first refresh builds everything.
    op.execute(_EVERYTHING)


def downgrade() -> None:
    for table, _function, (event, _transition) in _TRIGGERS:
        op.execute(f"DROP TRIGGER {_trigger_name(table, event)} ON {table}")
    for name in _MARK_FUNCTIONS:
        op.execute(f"DROP FUNCTION {name}()")
    for table in ("gap_counts_stale", "gap_counts"):
        op.drop_table(table)
