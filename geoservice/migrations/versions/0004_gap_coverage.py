"""Gap coverage kept on write: gap_overlap, gap_coverage, and the stale marks that triggers set.

gap_overlap holds, per unit (buurt or wijk of the active CBS year) and service area, how much of the
unit the area covers; gap_coverage per unit the share inside the union of all service areas and the
number of partners serving it. Both are filled by geoservice.queries.gaps.refresh_coverage. The
triggers below only book-keep: any write to service_area marks the areas written, and a change of
buurt or wijk boundaries or of the active year marks everything (service area 0), so a reader never
trusts a stale table (it computes on the fly instead) and the next refresh knows what to redo.

Revision ID: 0004_gap_coverage
Revises: 0005_accounts
Create Date: 2026-11-28
"""

import sqlalchemy as sa
from alembic import op

revision = "0004_gap_coverage"
# 0005_accounts was written first and revises 0003; this one follows it so the history has one head.
down_revision = "0005_accounts"
branch_labels = None
depends_on = None

EVERYTHING = 0  # the stale mark meaning "every unit" (no service area has id 0: ids start at 1)

_MARK_FUNCTIONS = {
    # Service areas: mark the ids written (before and after an UPDATE, in case an id itself changed).
    "gap_coverage_mark_areas": f"""
        BEGIN
            IF TG_OP = 'TRUNCATE' THEN
                INSERT INTO gap_coverage_stale VALUES ({EVERYTHING}, txid_current())
                ON CONFLICT (service_area_id) DO UPDATE SET marked_xid = EXCLUDED.marked_xid;
            ELSIF TG_OP = 'UPDATE' THEN
                INSERT INTO gap_coverage_stale
                SELECT DISTINCT id, txid_current() FROM (SELECT id FROM old_rows UNION SELECT id FROM changed_rows) AS t
                ON CONFLICT (service_area_id) DO UPDATE SET marked_xid = EXCLUDED.marked_xid;
            ELSE
                INSERT INTO gap_coverage_stale SELECT DISTINCT id, txid_current() FROM changed_rows
                ON CONFLICT (service_area_id) DO UPDATE SET marked_xid = EXCLUDED.marked_xid;
            END IF;
            RETURN NULL;
        END""",
    # Buurten, wijken, the active year: everything, but only when a row really changed.
    "gap_coverage_mark_all": f"""
        BEGIN
            IF TG_OP = 'TRUNCATE' OR EXISTS (SELECT 1 FROM changed_rows) THEN
                INSERT INTO gap_coverage_stale VALUES ({EVERYTHING}, txid_current())
                ON CONFLICT (service_area_id) DO UPDATE SET marked_xid = EXCLUDED.marked_xid;
            END IF;
            RETURN NULL;
        END""",
}

# (table, function, events with their transition tables); statement-level, so a bulk write marks once.
_TRIGGERS = [
    *[("service_area", "gap_coverage_mark_areas", event) for event in (
        ("INSERT", "NEW TABLE AS changed_rows"), ("UPDATE", "OLD TABLE AS old_rows NEW TABLE AS changed_rows"),
        ("DELETE", "OLD TABLE AS changed_rows"), ("TRUNCATE", None))],
    *[(table, "gap_coverage_mark_all", event) for table in ("buurt", "wijk") for event in (
        ("INSERT", "NEW TABLE AS changed_rows"), ("UPDATE", "NEW TABLE AS changed_rows"),
        ("DELETE", "OLD TABLE AS changed_rows"), ("TRUNCATE", None))],
    *[("cbs_jaar", "gap_coverage_mark_all", event) for event in (
        ("UPDATE", "NEW TABLE AS changed_rows"), ("DELETE", "OLD TABLE AS changed_rows"), ("TRUNCATE", None))],
]


def _trigger_name(table: str, event: str) -> str:
    return f"{table}_gap_coverage_{event.lower()}"


def upgrade() -> None:
    op.create_table(
        "gap_overlap",
        sa.Column("jaar", sa.SmallInteger, primary_key=True),
        sa.Column("code", sa.String(10), primary_key=True, comment="buurt or wijk code"),
        sa.Column("service_area_id", sa.Integer, primary_key=True),
        sa.Column("partner_id", sa.Integer, nullable=False),
        sa.Column("piece", sa.Float, nullable=False,
                  comment="m² of the unit inside the service area; -1: the area covers the whole unit"),
    )
    op.create_index("gap_overlap_service_area_idx", "gap_overlap", ["service_area_id"])
    op.create_table(
        "gap_coverage",
        sa.Column("jaar", sa.SmallInteger, primary_key=True),
        sa.Column("code", sa.String(10), primary_key=True, comment="buurt or wijk code"),
        sa.Column("coverage", sa.Numeric, nullable=False,
                  comment="share of the unit inside the union of all service areas, rounded as the analysis does"),
        sa.Column("n_partners", sa.Integer, nullable=False,
                  comment="partners whose service areas together cover at least half of the unit"),
    )
    op.create_table(
        "gap_coverage_stale",
        sa.Column("service_area_id", sa.Integer, primary_key=True, autoincrement=False,
                  comment="a service area written since the last refresh; 0: everything"),
        sa.Column("marked_xid", sa.BigInteger, nullable=False, comment="the transaction that marked it"),
    )
    for name, body in _MARK_FUNCTIONS.items():
        op.execute(f"CREATE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql AS $body${body}$body$")
    for table, function, (event, transition) in _TRIGGERS:
        referencing = f" REFERENCING {transition}" if transition else ""
        op.execute(f"CREATE TRIGGER {_trigger_name(table, event)} AFTER {event} ON {table}{referencing} "
                   f"FOR EACH STATEMENT EXECUTE FUNCTION {function}()")
    # Nothing computed yet: the first refresh (e.g. the next load-cbs) builds everything.
    op.execute(f"INSERT INTO gap_coverage_stale VALUES ({EVERYTHING}, txid_current())")


def downgrade() -> None:
    for table, _function, (event, _transition) in _TRIGGERS:
        op.execute(f"DROP TRIGGER {_trigger_name(table, event)} ON {table}")
    for name in _MARK_FUNCTIONS:
        op.execute(f"DROP FUNCTION {name}()")
    for table in ("gap_coverage_stale", "gap_coverage", "gap_overlap"):
        op.drop_table(table)
