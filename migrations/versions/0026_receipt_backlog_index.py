"""A partial index holding only the unknown customs receipts nobody has dealt with: the console's backlog and its count.

The admins' backlog page (app/console/receipts.py) and the count on their home page read the receipts with
outcome 'unknown_declaration' and no resolved_at. ix_customs_receipts_outcome_id finds every unknown receipt ever
stored, resolved or not, and the count then read each one's row: with 1,000,000 receipts, 10,000 of them unknown
and 2,000 of those unresolved, 53 ms on PostgreSQL (EXPLAIN ANALYZE, 10,063 buffers), growing with every receipt
ever dismissed or retried. From this index it is an index-only scan of the 2,000 (0.28 ms, 8 buffers; 64 kB).

On a large PostgreSQL database build it first with CREATE INDEX CONCURRENTLY under this name (the same column and
WHERE), and stamp.

Revision ID: 0026
Revises: 0025
Create Date: 2026-12-07 14:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0026"
down_revision: str | None = "0025"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# As app/customs/models.py BACKLOG_SQL on the day of this migration.
BACKLOG_SQL = "outcome = 'unknown_declaration' AND resolved_at IS NULL"


def upgrade() -> None:
    op.create_index(
        "ix_customs_receipts_backlog",
        "customs_receipts",
        ["id"],
        sqlite_where=sa.text(BACKLOG_SQL),
        postgresql_where=sa.text(BACKLOG_SQL),
    )


def downgrade() -> None:
    op.drop_index("ix_customs_receipts_backlog", table_name="customs_receipts")
