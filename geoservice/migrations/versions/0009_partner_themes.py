"""Partner themes, and the anonymous demand counts of "Hulp bij je plan".

partner.themes: the initiative themes (vocab.THEMES) a partner supports; empty means every theme.
support_demand: how many /hulp searches asked for a service, per day and per buurt (or wijk where no
buurten are loaded) of the CBS year the search was located in. Counts only: no search text, no point,
no finer place than the buurt, nothing about the person; rows older than the partner page shows are
removed when a new count is written (geoservice.partners.support.DEMAND_DAYS).

Revision ID: 0009_partner_themes
Revises: 0008_counts_by_code
Create Date: 2026-12-02
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import ARRAY

revision = "0009_partner_themes"
down_revision = "0008_counts_by_code"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("partner", sa.Column(
        "themes", ARRAY(sa.Text), nullable=False, server_default=sa.text("'{}'::text[]"),
        comment="initiative themes the partner supports (vocab.THEMES); empty: every theme"))
    op.create_table(
        "support_demand",
        sa.Column("day", sa.Date, primary_key=True),
        sa.Column("jaar", sa.SmallInteger, primary_key=True, comment="CBS year of the code"),
        sa.Column("code", sa.String(10), primary_key=True,
                  comment="buurt code, or wijk code where no buurten are loaded; never anything finer"),
        sa.Column("service", sa.Text, primary_key=True, comment="a key of vocab.SERVICES"),
        sa.Column("n", sa.Integer, nullable=False, comment="searches that day that asked for the service"),
    )
    op.create_index("support_demand_code_idx", "support_demand", ["jaar", "code"])


def downgrade() -> None:
    op.drop_index("support_demand_code_idx", table_name="support_demand")
    op.drop_table("support_demand")
    op.drop_column("partner", "themes")
