"""Inspection tasks carry their declaration's parties, and a party's open tasks have a partial index each.

The home screen counts a declarant's (or a warehouse's) open tasks by status. Tasks did not say whose they were, so
the count joined the park's ~2,000 open tasks with every list of the enterprise: with 100,000 lists the largest
enterprise's 12,000 (a hash join, 2.2 ms on PostgreSQL; scripts/bench_home.py --explain). A list never changes its
declaring enterprise or warehouse, so the task copies both when it is issued, and each party's open tasks are read
from an index holding only them (a few hundred entries for the largest enterprise).

Existing tasks are filled in from their declarations. On a large PostgreSQL database build the two indexes first
with CREATE INDEX CONCURRENTLY under these names (the same columns and WHERE), and stamp.

Revision ID: 0024
Revises: 0022
Create Date: 2026-12-07 10:45:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0024"
down_revision: str | None = "0022"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

PARTIES = ("declaring", "warehouse")
OPEN = "status != 'closed'"


def upgrade() -> None:
    with op.batch_alter_table("inspection_tasks", schema=None) as batch_op:
        for party in PARTIES:
            batch_op.add_column(sa.Column(f"{party}_enterprise_id", sa.Integer(), nullable=True))
    for party in PARTIES:
        # A correlated subquery: the one UPDATE that reads another table on SQLite and PostgreSQL alike.
        op.execute(
            f"UPDATE inspection_tasks SET {party}_enterprise_id = (SELECT declarations.{party}_enterprise_id "
            "FROM declarations WHERE declarations.id = inspection_tasks.declaration_id)"
        )
    with op.batch_alter_table("inspection_tasks", schema=None) as batch_op:
        for party in PARTIES:
            column = f"{party}_enterprise_id"
            batch_op.alter_column(column, existing_type=sa.Integer(), nullable=False)
            batch_op.create_foreign_key(
                batch_op.f(f"fk_inspection_tasks_{column}_enterprises"), "enterprises", [column], ["id"]
            )
    for party in PARTIES:
        op.create_index(
            f"ix_inspection_tasks_open_{party}",
            "inspection_tasks",
            [f"{party}_enterprise_id", "status", "appointment_at"],
            sqlite_where=sa.text(OPEN),
            postgresql_where=sa.text(OPEN),
        )


def downgrade() -> None:
    for party in reversed(PARTIES):
        op.drop_index(f"ix_inspection_tasks_open_{party}", table_name="inspection_tasks")
    with op.batch_alter_table("inspection_tasks", schema=None) as batch_op:
        for party in reversed(PARTIES):
            column = f"{party}_enterprise_id"
            batch_op.drop_constraint(batch_op.f(f"fk_inspection_tasks_{column}_enterprises"), type_="foreignkey")
            batch_op.drop_column(column)
