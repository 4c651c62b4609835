"""Idempotency: stored answers keep their headers and raw bytes, so CSV and binary answers replay as sent.

Revision ID: 0015
Revises: 0013
Create Date: 2026-12-08 10:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0015"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    postgres = op.get_bind().dialect.name == "postgresql"
    with op.batch_alter_table("idempotent_requests", schema=None) as batch_op:
        batch_op.add_column(sa.Column("response_headers", sa.JSON(), server_default="[]", nullable=False))
        batch_op.alter_column(
            "response_body",
            existing_type=sa.Text(),
            type_=sa.LargeBinary(),
            existing_nullable=False,
            postgresql_using="convert_to(response_body, 'UTF8')",
        )
    if not postgres:
        # SQLite keeps each value's own type: the stored JSON texts become bytes as LargeBinary reads them.
        op.execute("UPDATE idempotent_requests SET response_body = CAST(response_body AS BLOB)")
    # Every answer stored before was JSON.
    answers = sa.table("idempotent_requests", sa.column("response_headers", sa.JSON()))
    op.execute(answers.update().values(response_headers=[["Content-Type", "application/json"]]))


def downgrade() -> None:
    postgres = op.get_bind().dialect.name == "postgresql"
    if not postgres:
        op.execute("UPDATE idempotent_requests SET response_body = CAST(response_body AS TEXT)")
    with op.batch_alter_table("idempotent_requests", schema=None) as batch_op:
        batch_op.alter_column(
            "response_body",
            existing_type=sa.LargeBinary(),
            type_=sa.Text(),
            existing_nullable=False,
            postgresql_using="convert_from(response_body, 'UTF8')",
        )
        batch_op.drop_column("response_headers")
