"""A partial index of open inspection tasks by appointment time, with their site and status: today's queues.

An officer's home counts today's tasks at every site by status (app/inspections/waiting.py). Without this index
PostgreSQL walked every open task through uq_inspection_tasks_open_declaration and read each row from the heap:
1.8 ms for 1,463 open tasks (EXPLAIN ANALYZE, the home benchmark's 100,000 lists). From this index it is an
index-only scan of the day's window: 0.25 ms, no heap fetches.

On a large PostgreSQL database build it first with CREATE INDEX CONCURRENTLY under this name (the same columns and
WHERE), and stamp.

Revision ID: 0027
Revises: 0026
Create Date: 2026-12-07 17:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0027"
down_revision: str | None = "0026"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OPEN_TASK = "status != 'closed'"


def upgrade() -> None:
    op.create_index(
        "ix_inspection_tasks_open_queue",
        "inspection_tasks",
        ["appointment_at", "site_id", "status"],
        sqlite_where=sa.text(OPEN_TASK),
        postgresql_where=sa.text(OPEN_TASK),
    )


def downgrade() -> None:
    op.drop_index("ix_inspection_tasks_open_queue", table_name="inspection_tasks")
