"""CBS areas: gemeente, wijk, buurt per year, and the active year.

Revision ID: 0001_cbs_areas
Revises:
Create Date: 2026-11-27
"""

import geoalchemy2
import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0001_cbs_areas"
down_revision = None
branch_labels = None
depends_on = None


def _area_columns() -> list[sa.Column]:
    return [
        sa.Column("jaar", sa.SmallInteger, primary_key=True),
        sa.Column("code", sa.String(10), primary_key=True),
        sa.Column("naam", sa.Text),
        sa.Column("water", sa.Boolean),
        sa.Column("aantal_inwoners", sa.Integer),
        sa.Column("aantal_huishoudens", sa.Integer),
        sa.Column("pct_0_15", sa.Float, comment="% inwoners 0 tot 15 jaar"),
        sa.Column("pct_65plus", sa.Float, comment="% inwoners 65 jaar en ouder"),
        sa.Column("bevolkingsdichtheid", sa.Float, comment="inwoners per km²"),
        sa.Column("oppervlakte_land_ha", sa.Float),
        sa.Column("kerncijfers", JSONB, nullable=False, server_default=sa.text("'{}'::jsonb"),
                  comment="all other numeric CBS attributes; CBS sentinels stored as null"),
        sa.Column("source", sa.Text, comment="file or URL the row was loaded from"),
        sa.Column("geom", geoalchemy2.Geometry("MULTIPOLYGON", srid=28992, spatial_index=False),
                  nullable=False),
    ]


def upgrade() -> None:
    op.execute("CREATE EXTENSION IF NOT EXISTS postgis")
    op.create_table(
        "cbs_jaar",
        sa.Column("jaar", sa.SmallInteger, primary_key=True),
        sa.Column("is_active", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column("loaded_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
    )
    op.create_index("cbs_jaar_one_active", "cbs_jaar", ["is_active"], unique=True,
                    postgresql_where=sa.text("is_active"))
    op.create_table("gemeente", *_area_columns())
    op.create_table("wijk", *_area_columns(), sa.Column("gemeentecode", sa.String(6), nullable=False))
    op.create_table("buurt", *_area_columns(),
                    sa.Column("wijkcode", sa.String(8), nullable=False),
                    sa.Column("gemeentecode", sa.String(6), nullable=False))
    for table in ("gemeente", "wijk", "buurt"):
        op.create_index(f"{table}_geom_idx", table, ["geom"], postgresql_using="gist")
    op.create_index("wijk_gemeente_idx", "wijk", ["jaar", "gemeentecode"])
    op.create_index("buurt_gemeente_idx", "buurt", ["jaar", "gemeentecode"])
    op.create_index("buurt_wijk_idx", "buurt", ["jaar", "wijkcode"])


def downgrade() -> None:
    for table in ("buurt", "wijk", "gemeente", "cbs_jaar"):
        op.drop_table(table)
