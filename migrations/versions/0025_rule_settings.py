"""Run-time rules: an admin's overrides of the weighbridge tolerance, the overdue hours and the clone limits.

One row per rule that differs from its default (the environment's, app/config.py); none exist after upgrade, so
every rule keeps the value it had.

Revision ID: 0025
Revises: 0024
Create Date: 2026-12-07 13:45:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from app.db import UTCDateTime

revision: str = "0025"
down_revision: str | None = "0024"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "rule_settings",
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("value", sa.String(length=32), nullable=False),
        sa.Column("updated_by_id", sa.Integer(), nullable=True),
        sa.Column("updated_at", UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["updated_by_id"], ["users.id"], name=op.f("fk_rule_settings_updated_by_id_users")),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_rule_settings")),
    )


def downgrade() -> None:
    op.drop_table("rule_settings")
