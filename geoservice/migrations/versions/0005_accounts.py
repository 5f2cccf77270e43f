"""Accounts: app_user, api_token, audit_log, submission_contact; initiative.status may be 'rejected'.

Revision ID: 0005_accounts
Revises: 0003_partner_external_id
Create Date: 2026-11-28
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0005_accounts"
down_revision = "0003_partner_external_id"
branch_labels = None
depends_on = None

STATUS_CHECK = "initiative_status_check"


def _created_at(name: str = "created_at") -> sa.Column:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now())


def upgrade() -> None:
    op.create_table(
        "app_user",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("email", sa.Text, nullable=False, comment="unique regardless of case"),
        sa.Column("name", sa.Text),
        sa.Column("password_hash", sa.Text, nullable=False, comment="werkzeug scrypt hash, never the password"),
        sa.Column("role", sa.Text, nullable=False),
        sa.Column("partner_id", sa.Integer, sa.ForeignKey("partner.id", ondelete="CASCADE"),
                  comment="the partner a partner_editor edits"),
        sa.Column("active", sa.Boolean, nullable=False, server_default=sa.text("true")),
        _created_at(),
        sa.CheckConstraint("role IN ('admin', 'moderator', 'partner_editor')", name="app_user_role_check"),
        sa.CheckConstraint("(role = 'partner_editor') = (partner_id IS NOT NULL)", name="app_user_partner_check"),
    )
    op.create_index("app_user_email_key", "app_user", [sa.text("lower(email)")], unique=True)
    op.create_index("app_user_partner_idx", "app_user", ["partner_id"])

    op.create_table(
        "api_token",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("user_id", sa.Integer, sa.ForeignKey("app_user.id", ondelete="CASCADE"), nullable=False),
        sa.Column("token_hash", sa.Text, nullable=False, unique=True, comment="hex SHA-256 of the token"),
        sa.Column("label", sa.Text),
        _created_at(),
        sa.Column("last_used_at", sa.DateTime(timezone=True)),
        sa.Column("revoked_at", sa.DateTime(timezone=True)),
    )
    op.create_index("api_token_user_idx", "api_token", ["user_id"])

    op.create_table(
        "audit_log",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("entity_type", sa.Text, nullable=False),
        sa.Column("entity_id", sa.Integer, nullable=False),
        sa.Column("user_id", sa.Integer, sa.ForeignKey("app_user.id", ondelete="SET NULL"),
                  comment="null: a public submitter (or a removed user)"),
        sa.Column("actor", sa.Text, nullable=False, comment="who, as shown: e-mail at the time or 'aanmelder'"),
        sa.Column("action", sa.Text, nullable=False),
        sa.Column("changes", JSONB, nullable=False, server_default=sa.text("'{}'::jsonb"),
                  comment="{field: [old, new]}"),
        sa.Column("reason", sa.Text),
        _created_at("at"),
        sa.CheckConstraint("entity_type IN ('initiative', 'partner', 'service_area', 'user')",
                           name="audit_log_entity_type_check"),
    )
    op.create_index("audit_log_entity_idx", "audit_log", ["entity_type", "entity_id", "at"])
    op.create_index("audit_log_user_idx", "audit_log", ["user_id"])

    op.create_table(
        "submission_contact",
        sa.Column("initiative_id", sa.Integer, sa.ForeignKey("initiative.id", ondelete="CASCADE"),
                  primary_key=True),
        sa.Column("name", sa.Text),
        sa.Column("email", sa.Text),
        sa.Column("phone", sa.Text),
        sa.Column("client_hash", sa.Text, comment="keyed hash of the submitting client, for abuse checks"),
        _created_at("submitted_at"),
    )

    op.drop_constraint(STATUS_CHECK, "initiative", type_="check")
    op.create_check_constraint(STATUS_CHECK, "initiative",
                               "status IN ('pending', 'published', 'archived', 'rejected')")


def downgrade() -> None:
    # The old schema has no 'rejected': such initiatives become 'archived' (hidden either way).
    op.execute("UPDATE initiative SET status = 'archived' WHERE status = 'rejected'")
    op.drop_constraint(STATUS_CHECK, "initiative", type_="check")
    op.create_check_constraint(STATUS_CHECK, "initiative", "status IN ('pending', 'published', 'archived')")
    for table in ("submission_contact", "audit_log", "api_token", "app_user"):
        op.drop_table(table)
