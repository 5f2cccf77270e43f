"""Corrections: reports that something on the map is wrong, for the moderators ("Klopt er iets niet?").

Revision ID: 0010_corrections
Revises: 0009_partner_themes
Create Date: 2026-12-02
"""

import sqlalchemy as sa
from alembic import op

revision = "0010_corrections"
down_revision = "0009_partner_themes"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "correction",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("initiative_id", sa.Integer, sa.ForeignKey("initiative.id", ondelete="CASCADE"),
                  comment="null: about the site, not one initiative"),
        sa.Column("message", sa.Text, nullable=False),
        sa.Column("contact_name", sa.Text),
        sa.Column("contact_email", sa.Text),
        sa.Column("client_hash", sa.Text, comment="keyed hash of the reporting client (abuse checks)"),
        sa.Column("status", sa.Text, nullable=False, server_default=sa.text("'open'")),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        sa.Column("decided_at", sa.DateTime(timezone=True)),
        sa.Column("decided_by", sa.Integer, sa.ForeignKey("app_user.id", ondelete="SET NULL")),
        sa.CheckConstraint("status IN ('open', 'accepted', 'rejected')", name="correction_status_check"),
    )
    op.create_index("correction_open_idx", "correction", ["created_at"], postgresql_where=sa.text("status = 'open'"))
    op.create_index("correction_initiative_idx", "correction", ["initiative_id"])


def downgrade() -> None:
    op.drop_table("correction")
