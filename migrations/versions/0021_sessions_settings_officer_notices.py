"""Sessions a user can see and end, notification settings, password reset codes (issue 21, items 3 and 4).

- auth_sessions.last_client_addr: the address of a sign-in's latest refresh (its network is shown, not the address).
- devices.auth_session_id: the sign-in that last registered the device; revoking that sign-in stops its pushes.
- notification_settings: quiet hours, kinds switched off, and an officer's customs office (who is on duty where).
- password_reset_codes: codes texted for a forgotten password, kept as keyed hashes.

Revision ID: 0021
Revises: 0020
Create Date: 2026-12-07 06:23:57
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import app.db

revision: str = "0021"
down_revision: str | None = "0020"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "notification_settings",
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("time_zone", sa.String(length=64), nullable=False),
        sa.Column("quiet_start", sa.Time(), nullable=True),
        sa.Column("quiet_end", sa.Time(), nullable=True),
        sa.Column("muted_kinds", sa.JSON(), nullable=False),
        sa.Column("customs_code", sa.String(length=4), nullable=True),
        sa.Column("updated_at", app.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name=op.f("fk_notification_settings_user_id_users")),
        sa.PrimaryKeyConstraint("user_id", name=op.f("pk_notification_settings")),
    )
    op.create_table(
        "password_reset_codes",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("code_hash", sa.String(length=64), nullable=False),
        sa.Column("created_at", app.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("expires_at", app.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("failed_attempts", sa.Integer(), nullable=False),
        sa.Column("used_at", app.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("client_addr", sa.String(length=45), nullable=True),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name=op.f("fk_password_reset_codes_user_id_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_password_reset_codes")),
    )
    with op.batch_alter_table("password_reset_codes", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_password_reset_codes_user_id"), ["user_id"], unique=False)

    with op.batch_alter_table("auth_sessions", schema=None) as batch_op:
        batch_op.add_column(sa.Column("last_client_addr", sa.String(length=45), nullable=True))

    with op.batch_alter_table("devices", schema=None) as batch_op:
        batch_op.add_column(sa.Column("auth_session_id", sa.Uuid(), nullable=True))
        batch_op.create_index(batch_op.f("ix_devices_auth_session_id"), ["auth_session_id"], unique=False)
        batch_op.create_foreign_key(
            batch_op.f("fk_devices_auth_session_id_auth_sessions"),
            "auth_sessions",
            ["auth_session_id"],
            ["id"],
            ondelete="SET NULL",
        )


def downgrade() -> None:
    with op.batch_alter_table("devices", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("fk_devices_auth_session_id_auth_sessions"), type_="foreignkey")
        batch_op.drop_index(batch_op.f("ix_devices_auth_session_id"))
        batch_op.drop_column("auth_session_id")

    with op.batch_alter_table("auth_sessions", schema=None) as batch_op:
        batch_op.drop_column("last_client_addr")

    with op.batch_alter_table("password_reset_codes", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_password_reset_codes_user_id"))

    op.drop_table("password_reset_codes")
    op.drop_table("notification_settings")
