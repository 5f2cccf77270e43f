"""Need kept on write: gap_need, for the default weights, and the stale marks that triggers set.

Need is a mean of percent ranks over every unit of a level (analysis.need), so a tile cannot compute it for its
own units: it was joined in Python, one more statement per buurt or wijk tile. The scores depend only on the CBS
figures, which change only when buurten, wijken or the active year do. gap_need holds, per unit of the active
year, the need for the default weights (every indicator at weight 1), rounded as the API shows it, and the
priority the unit has when it is a white spot (aantal_inwoners × need), so the tile's one statement only picks
it by the status it computes. geoservice.analysis.need.refresh_kept_need fills it; a change of buurt, wijk or
the active year marks it stale, and while it is marked a reader computes need the other way.

Revision ID: 0013_gap_need
Revises: 0012_initiative_web_mercator
Create Date: 2026-12-02
"""

import sqlalchemy as sa
from alembic import op

revision = "0013_gap_need"
down_revision = "0012_initiative_web_mercator"
branch_labels = None
depends_on = None

_MARK = "INSERT INTO gap_need_stale (marked_xid) VALUES (txid_current())"

# Only when a row really changed (an UPDATE of nothing marks nothing), as gap_counts_mark_all (0007).
_MARK_FUNCTION = f"""
    BEGIN
        IF TG_OP = 'TRUNCATE' OR EXISTS (SELECT 1 FROM changed_rows) THEN
            {_MARK};
        END IF;
        RETURN NULL;
    END"""

_TRIGGERS = [
    *[(table, event) for table in ("buurt", "wijk") for event in (
        ("INSERT", "NEW TABLE AS changed_rows"), ("UPDATE", "NEW TABLE AS changed_rows"),
        ("DELETE", "OLD TABLE AS changed_rows"), ("TRUNCATE", None))],
    *[("cbs_jaar", event) for event in (
        ("UPDATE", "NEW TABLE AS changed_rows"), ("DELETE", "OLD TABLE AS changed_rows"), ("TRUNCATE", None))],
]


def _trigger_name(table: str, event: str) -> str:
    return f"{table}_gap_need_{event.lower()}"


def upgrade() -> None:
    op.create_table(
        "gap_need",
        sa.Column("jaar", sa.SmallInteger, primary_key=True),
        sa.Column("code", sa.String(10), primary_key=True, comment="buurt or wijk code"),
        sa.Column("need", sa.Float, comment="need with every indicator at weight 1 (0..1, 4 decimals); null: none"),
        sa.Column("white_spot_priority", sa.Float,
                  comment="the priority when the unit is a white spot: aantal_inwoners × need, 1 decimal"),
    )
    op.create_table(
        "gap_need_stale",
        sa.Column("id", sa.BigInteger, primary_key=True),
        sa.Column("marked_xid", sa.BigInteger, nullable=False, comment="the transaction that marked it"),
    )
    op.execute(f"CREATE FUNCTION gap_need_mark() RETURNS trigger LANGUAGE plpgsql AS $body${_MARK_FUNCTION}$body$")
    for table, (event, transition) in _TRIGGERS:
        referencing = f" REFERENCING {transition}" if transition else ""
        op.execute(f"CREATE TRIGGER {_trigger_name(table, event)} AFTER {event} ON {table}{referencing} "
                   f"FOR EACH STATEMENT EXECUTE FUNCTION gap_need_mark()")
    # Nothing computed yet: the first refresh builds it.
    op.execute(_MARK)


def downgrade() -> None:
    for table, (event, _transition) in _TRIGGERS:
        op.execute(f"DROP TRIGGER {_trigger_name(table, event)} ON {table}")
    op.execute("DROP FUNCTION gap_need_mark()")
    for table in ("gap_need_stale", "gap_need"):
        op.drop_table(table)
