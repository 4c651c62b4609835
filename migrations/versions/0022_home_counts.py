"""Partial indexes for the home screen's counts (GET /api/v1/me/home), each holding only the rows it counts.

- `ix_declarations_in_play`, `_declaring`, `_warehouse`: lists still in play (with customs, or rejected or failed and
  back with the declarant), by kind and status, for the whole park, one declaring enterprise, one warehouse. Measured
  with 100,000 lists (scripts/bench_home.py --explain): the park's count was a sequential scan of every list (46 ms),
  a large enterprise's and a warehouse's a heap read of each of their 10,000-12,000 lists (8-13 ms); history grows
  without end, lists in play do not.
- `ix_notices_unread`: one person's unread notices, with acknowledged_at so both counts come from the index alone
  (the largest declarant's 30,000 notices took 38 ms to count from the heap).
- `ix_export_parcels_awaiting_recheck`: the parcels diverted or held for recheck, a handful among all parcels.

On a large PostgreSQL database build them first with CREATE INDEX CONCURRENTLY under these names (the same columns
and WHERE), and stamp; this migration creates them inside its transaction, blocking writes to the tables meanwhile.

Revision ID: 0022
Revises: 0021
Create Date: 2026-12-07 07:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0022"
down_revision: str | None = "0021"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# As app/declarations/models.py IN_PLAY_SQL on the day of this migration (a later change there needs a migration).
IN_PLAY_SQL = (
    "status IN ('submitted', 'send_failed', 'accepted', 'manual_review', 'audited', 'inspection', 'rejected', "
    "'detained')"
)
# (table, index, columns, where)
INDEXES = (
    ("declarations", "ix_declarations_in_play", ["kind", "status"], IN_PLAY_SQL),
    ("declarations", "ix_declarations_in_play_declaring", ["declaring_enterprise_id", "kind", "status"], IN_PLAY_SQL),
    ("declarations", "ix_declarations_in_play_warehouse", ["warehouse_enterprise_id", "kind", "status"], IN_PLAY_SQL),
    ("notices", "ix_notices_unread", ["recipient_id", "acknowledged_at"], "read_at IS NULL"),
    ("export_parcels", "ix_export_parcels_awaiting_recheck", ["stage"], "stage IN ('diverted', 'held')"),
)


def upgrade() -> None:
    for table, name, columns, where in INDEXES:
        op.create_index(name, table, columns, sqlite_where=sa.text(where), postgresql_where=sa.text(where))


def downgrade() -> None:
    for table, name, _, _ in reversed(INDEXES):
        op.drop_index(name, table_name=table)
