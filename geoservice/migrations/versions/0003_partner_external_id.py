"""partner.external_id: the stable id an import file gives a partner.

Revision ID: 0003_partner_external_id
Revises: 0002_registry
Create Date: 2026-11-27
"""

import sqlalchemy as sa
from alembic import op

revision = "0003_partner_external_id"
down_revision = "0002_registry"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("partner", sa.Column("external_id", sa.Text, comment="the `id` an import file gives"))
    op.create_unique_constraint("partner_external_id_key", "partner", ["external_id"])


def downgrade() -> None:
    op.drop_constraint("partner_external_id_key", "partner")
    op.drop_column("partner", "external_id")
