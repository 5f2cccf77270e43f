"""Registry: initiative, partner, service_area.

Revision ID: 0002_registry
Revises: 0001_cbs_areas
Create Date: 2026-11-27
"""

import geoalchemy2
import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import ARRAY, JSONB

revision = "0002_registry"
down_revision = "0001_cbs_areas"
branch_labels = None
depends_on = None


def _timestamps() -> list[sa.Column]:
    return [
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
    ]


def upgrade() -> None:
    op.create_table(
        "initiative",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("source", sa.Text, nullable=False),
        sa.Column("external_id", sa.Text, nullable=False),
        sa.Column("name", sa.Text, nullable=False),
        sa.Column("kind", sa.Text, nullable=False),
        sa.Column("themes", ARRAY(sa.Text), nullable=False),
        sa.Column("description", sa.Text),
        sa.Column("website", sa.Text),
        sa.Column("email", sa.Text, comment="public contact of the initiative"),
        sa.Column("phone", sa.Text, comment="public contact of the initiative"),
        sa.Column("address", sa.Text),
        sa.Column("postcode", sa.Text),
        sa.Column("location", geoalchemy2.Geometry("POINT", srid=28992, spatial_index=False), nullable=False),
        sa.Column("location_precision", sa.Text, nullable=False),
        sa.Column("status", sa.Text, nullable=False),
        sa.Column("last_verified", sa.Date),
        sa.Column("gemeentecode", sa.String(6)),
        sa.Column("wijkcode", sa.String(8)),
        sa.Column("buurtcode", sa.String(10)),
        sa.Column("areas_jaar", sa.SmallInteger),
        *_timestamps(),
        sa.UniqueConstraint("source", "external_id", name="initiative_source_external_id_key"),
        sa.CheckConstraint("status IN ('pending', 'published', 'archived')", name="initiative_status_check"),
        sa.CheckConstraint("location_precision IN ('address', 'postcode', 'manual')",
                           name="initiative_precision_check"),
    )
    op.create_index("initiative_location_idx", "initiative", ["location"], postgresql_using="gist")
    op.create_index("initiative_themes_idx", "initiative", ["themes"], postgresql_using="gin")
    op.create_index("initiative_gemeente_idx", "initiative", ["gemeentecode"])
    op.create_index("initiative_wijk_idx", "initiative", ["wijkcode"])
    op.create_index("initiative_buurt_idx", "initiative", ["buurtcode"])
    op.create_index("initiative_status_kind_idx", "initiative", ["status", "kind"])

    op.create_table(
        "partner",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("name", sa.Text, nullable=False, unique=True),
        sa.Column("kind", sa.Text, nullable=False),
        sa.Column("services", ARRAY(sa.Text), nullable=False),
        sa.Column("description", sa.Text),
        sa.Column("website", sa.Text),
        sa.Column("email", sa.Text),
        sa.Column("phone", sa.Text),
        sa.Column("source", sa.Text, nullable=False),
        *_timestamps(),
    )
    op.create_table(
        "service_area",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("partner_id", sa.Integer, sa.ForeignKey("partner.id", ondelete="CASCADE"), nullable=False),
        sa.Column("name", sa.Text, nullable=False),
        sa.Column("definition_type", sa.Text, nullable=False),
        sa.Column("definition", JSONB, nullable=False,
                  comment='{"codes": [...]} | {"point": {"lat", "lon"}, "radius_m"} | {"geojson": {...}}'),
        sa.Column("cbs_jaar", sa.SmallInteger, comment="CBS year a codes definition was built from"),
        sa.Column("geom", geoalchemy2.Geometry("MULTIPOLYGON", srid=28992, spatial_index=False), nullable=False),
        *_timestamps(),
        sa.CheckConstraint("definition_type IN ('codes', 'radius', 'geojson')", name="service_area_type_check"),
        sa.UniqueConstraint("partner_id", "name", name="service_area_partner_name_key"),
    )
    op.create_index("service_area_geom_idx", "service_area", ["geom"], postgresql_using="gist")


def downgrade() -> None:
    for table in ("service_area", "partner", "initiative"):
        op.drop_table(table)
