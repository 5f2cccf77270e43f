"""gap_counts.n_inside counts each initiative in the unit its CBS codes name: mark everything stale once.

Until now n_inside counted the initiatives whose point lies in a unit's outline, so a point in the overlap of
two generalised wijken counted twice and one in the gap between them not at all, and a gemeente's total
differed between buurt and wijk level. The figures kept in gap_counts were computed the old way: the next
refresh_counts recomputes them all (no schema change).

Revision ID: 0008_counts_by_code
Revises: 0007_gap_counts
Create Date: 2026-12-02
"""

from alembic import op

revision = "0008_counts_by_code"
down_revision = "0007_gap_counts"
branch_labels = None
depends_on = None

_EVERYTHING = "INSERT INTO gap_counts_stale (location, marked_xid) VALUES (NULL, txid_current())"


def upgrade() -> None:
    op.execute(_EVERYTHING)


def downgrade() -> None:
    op.execute(_EVERYTHING)
