"""Trace-code clone alarms: running scan totals per code, sightings per network and region, pre-release lookups.

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-22 06:46:40.561653
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import app.db

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "trace_code_sightings",
        sa.Column("trace_code_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("kind", sa.String(length=8), nullable=False),
        sa.Column("value", sa.String(length=60), nullable=False),
        sa.Column("last_seen_at", app.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["trace_code_id"], ["trace_codes.id"], name=op.f("fk_trace_code_sightings_trace_code_id_trace_codes")
        ),
        sa.PrimaryKeyConstraint("trace_code_id", "kind", "value", name=op.f("pk_trace_code_sightings")),
    )
    # Plain ADD COLUMNs (no table copy on SQLite, no rewrite on PostgreSQL): trace_codes may hold millions.
    with op.batch_alter_table("trace_codes", schema=None) as batch_op:
        batch_op.add_column(sa.Column("scan_count", sa.Integer(), server_default="0", nullable=False))
        batch_op.add_column(sa.Column("first_scanned_at", app.db.UTCDateTime(timezone=True), nullable=True))

    with op.batch_alter_table("trace_scans", schema=None) as batch_op:
        batch_op.add_column(sa.Column("before_release", sa.Boolean(), server_default=sa.false(), nullable=False))

    # Scans recorded before this revision count too.
    op.execute(
        "UPDATE trace_codes SET"
        " scan_count = (SELECT count(*) FROM trace_scans WHERE trace_scans.trace_code_id = trace_codes.id),"
        " first_scanned_at = (SELECT min(scanned_at) FROM trace_scans WHERE trace_scans.trace_code_id = trace_codes.id)"
        " WHERE id IN (SELECT trace_code_id FROM trace_scans)"
    )
    for kind in ("network", "region"):
        op.execute(
            "INSERT INTO trace_code_sightings (trace_code_id, kind, value, last_seen_at)"
            f" SELECT trace_code_id, '{kind}', {kind}, max(scanned_at) FROM trace_scans"
            f" WHERE {kind} IS NOT NULL GROUP BY trace_code_id, {kind}"
        )


def downgrade() -> None:
    with op.batch_alter_table("trace_scans", schema=None) as batch_op:
        batch_op.drop_column("before_release")

    with op.batch_alter_table("trace_codes", schema=None) as batch_op:
        batch_op.drop_column("first_scanned_at")
        batch_op.drop_column("scan_count")

    op.drop_table("trace_code_sightings")
