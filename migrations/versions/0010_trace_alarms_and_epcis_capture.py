"""Trace-code clone alarms (running scan totals per code in a table of their own, sightings per network and region, pre-release lookups)
and EPCIS 2.0 capture (partners' events and the trade items they name).

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-22 06:46:40.561653
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import app.db

revision: str = "0010"
down_revision: str | None = "0009"
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
    op.create_table(
        "trace_code_scan_totals",
        sa.Column("trace_code_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("scan_count", sa.Integer(), nullable=False),
        sa.Column("first_scanned_at", app.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["trace_code_id"], ["trace_codes.id"], name=op.f("fk_trace_code_scan_totals_trace_code_id_trace_codes")
        ),
        sa.PrimaryKeyConstraint("trace_code_id", name=op.f("pk_trace_code_scan_totals")),
    )
    with op.batch_alter_table("trace_scans", schema=None) as batch_op:
        batch_op.add_column(sa.Column("before_release", sa.Boolean(), server_default=sa.false(), nullable=False))

    # Scans recorded before this revision count too.
    op.execute(
        "INSERT INTO trace_code_scan_totals (trace_code_id, scan_count, first_scanned_at)"
        " SELECT trace_code_id, count(*), min(scanned_at) FROM trace_scans GROUP BY trace_code_id"
    )
    for kind in ("network", "region"):
        op.execute(
            "INSERT INTO trace_code_sightings (trace_code_id, kind, value, last_seen_at)"
            f" SELECT trace_code_id, '{kind}', {kind}, max(scanned_at) FROM trace_scans"
            f" WHERE {kind} IS NOT NULL GROUP BY trace_code_id, {kind}"
        )

    op.create_table(
        "epcis_events",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("event_id", sa.String(length=300), nullable=False),
        sa.Column("event_type", sa.String(length=40), nullable=False),
        sa.Column("event_time", app.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("biz_step", sa.String(length=200), nullable=True),
        sa.Column("disposition", sa.String(length=200), nullable=True),
        sa.Column("event", sa.JSON(), nullable=False),
        sa.Column("captured_by_id", sa.Integer(), nullable=False),
        sa.Column("captured_at", app.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["captured_by_id"], ["users.id"], name=op.f("fk_epcis_events_captured_by_id_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_epcis_events")),
        sa.UniqueConstraint("event_id", name=op.f("uq_epcis_events_event_id")),
    )
    op.create_table(
        "epcis_event_items",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("event_pk", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("gtin", sa.String(length=14), nullable=False),
        sa.Column("serial", sa.String(length=20), nullable=True),
        sa.Column("lot", sa.String(length=20), nullable=True),
        sa.ForeignKeyConstraint(
            ["event_pk"],
            ["epcis_events.id"],
            name=op.f("fk_epcis_event_items_event_pk_epcis_events"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_epcis_event_items")),
    )
    with op.batch_alter_table("epcis_event_items", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_epcis_event_items_event_pk"), ["event_pk"], unique=False)
        batch_op.create_index("ix_epcis_event_items_gtin_lot", ["gtin", "lot"], unique=False)
        batch_op.create_index("ix_epcis_event_items_serial_gtin", ["serial", "gtin"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("epcis_event_items", schema=None) as batch_op:
        batch_op.drop_index("ix_epcis_event_items_serial_gtin")
        batch_op.drop_index("ix_epcis_event_items_gtin_lot")
        batch_op.drop_index(batch_op.f("ix_epcis_event_items_event_pk"))

    op.drop_table("epcis_event_items")
    op.drop_table("epcis_events")

    with op.batch_alter_table("trace_scans", schema=None) as batch_op:
        batch_op.drop_column("before_release")

    op.drop_table("trace_code_scan_totals")
    op.drop_table("trace_code_sightings")
