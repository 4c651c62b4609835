"""The declaration list views and figures filter by kind (import or export list) since 0018: put kind in their indexes.

A declarant's export lists were found by walking every list of their enterprise, import ones included, newest first,
until enough export ones turned up: with a million import lists and ten export ones, a million index entries. The
enterprise indexes now hold kind between the enterprise and the id, so each view reads only its own kind in id order;
the admin figures read (kind, submitted_at).

On a large PostgreSQL table, CREATE INDEX blocks writes to declarations while it builds. To avoid that, build the
indexes by hand with CREATE INDEX CONCURRENTLY under a temporary name before upgrading, then drop the old ones; this
migration then only renames.

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-07 06:20:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0019"
down_revision: str | None = "0018"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# (index, its columns before, its columns now)
CHANGED = (
    ("ix_declarations_declaring_enterprise", ["declaring_enterprise_id", "id"], ["declaring_enterprise_id", "kind", "id"]),
    ("ix_declarations_warehouse_enterprise", ["warehouse_enterprise_id", "id"], ["warehouse_enterprise_id", "kind", "id"]),
)


def upgrade() -> None:
    for name, _, columns in CHANGED:
        op.drop_index(name, table_name="declarations")
        op.create_index(name, "declarations", columns)
    op.create_index("ix_declarations_kind_submitted_at", "declarations", ["kind", "submitted_at"])


def downgrade() -> None:
    op.drop_index("ix_declarations_kind_submitted_at", table_name="declarations")
    for name, columns, _ in CHANGED:
        op.drop_index(name, table_name="declarations")
        op.create_index(name, "declarations", columns)
