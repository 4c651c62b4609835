"""Bonded verification lists (核注清单, INV101) with their goods lines, and the gate passes covering them
(SAS121 rlt_type 1).

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-01 18:48:20.287212
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import app.db

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BIGINT = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "bonded_lists",
        sa.Column("id", BIGINT, nullable=False),
        sa.Column("bond_invt_no", sa.String(length=18), nullable=False),
        sa.Column("putrec_no", sa.String(length=12), nullable=False),
        sa.Column("customs_code", sa.String(length=4), nullable=False),
        sa.Column("impexp_markcd", sa.Enum("I", "E", name="impexp", native_enum=False, length=32), nullable=False),
        sa.Column("supv_mode", sa.String(length=4), nullable=False),
        sa.Column("dclcus_flag", sa.Boolean(), nullable=False),
        sa.Column("entry_no", sa.String(length=18), nullable=True),
        sa.Column(
            "invt_stucd",
            sa.Enum("declared", "approved", "rejected", "deleted", name="invtstatus", native_enum=False, length=32),
            nullable=False,
        ),
        sa.Column(
            "entry_stucd",
            sa.Enum("not_released", "released", name="entrystatus", native_enum=False, length=32),
            nullable=True,
        ),
        sa.Column(
            "deduction_mark",
            sa.Enum("not_deducted", "deducted", name="deductionmark", native_enum=False, length=32),
            nullable=False,
        ),
        sa.Column("return_info", sa.String(length=1000), nullable=True),
        sa.Column("declaring_enterprise_id", sa.Integer(), nullable=False),
        sa.Column("declared_by_id", sa.Integer(), nullable=False),
        sa.Column("declared_at", app.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("decided_at", app.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("entry_released_at", app.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("deducted_at", app.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("deleted_at", app.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("updated_at", app.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["declared_by_id"], ["users.id"], name=op.f("fk_bonded_lists_declared_by_id_users")),
        sa.ForeignKeyConstraint(
            ["declaring_enterprise_id"],
            ["enterprises.id"],
            name=op.f("fk_bonded_lists_declaring_enterprise_id_enterprises"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_bonded_lists")),
        sa.UniqueConstraint("bond_invt_no", name=op.f("uq_bonded_lists_bond_invt_no")),
    )
    with op.batch_alter_table("bonded_lists", schema=None) as batch_op:
        batch_op.create_index("ix_bonded_lists_enterprise", ["declaring_enterprise_id", "id"], unique=False)
        batch_op.create_index(
            "ix_bonded_lists_enterprise_status", ["declaring_enterprise_id", "invt_stucd", "id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_bonded_lists_putrec_no"), ["putrec_no"], unique=False)

    op.create_table(
        "bonded_list_lines",
        sa.Column("id", BIGINT, nullable=False),
        sa.Column("bonded_list_id", BIGINT, nullable=False),
        sa.Column("gnum", sa.Integer(), nullable=False),
        sa.Column("gds_mtno", sa.String(length=32), nullable=False),
        sa.Column("hs_code", sa.String(length=10), nullable=False),
        sa.Column("name", sa.String(length=250), nullable=False),
        sa.Column("qty", sa.Numeric(precision=18, scale=4), nullable=False),
        sa.Column("unit", sa.String(length=3), nullable=False),
        sa.Column("gross_wt", sa.Numeric(precision=14, scale=4), nullable=False),
        sa.Column("net_wt", sa.Numeric(precision=14, scale=4), nullable=False),
        sa.ForeignKeyConstraint(
            ["bonded_list_id"],
            ["bonded_lists.id"],
            name=op.f("fk_bonded_list_lines_bonded_list_id_bonded_lists"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_bonded_list_lines")),
        sa.UniqueConstraint("bonded_list_id", "gnum", name=op.f("uq_bonded_list_lines_bonded_list_id_gnum")),
    )

    op.create_table(
        "gate_pass_bonded_lists",
        sa.Column("pass_id", BIGINT, nullable=False),
        sa.Column("bonded_list_id", BIGINT, nullable=False),
        sa.ForeignKeyConstraint(
            ["bonded_list_id"],
            ["bonded_lists.id"],
            name=op.f("fk_gate_pass_bonded_lists_bonded_list_id_bonded_lists"),
        ),
        sa.ForeignKeyConstraint(
            ["pass_id"],
            ["gate_passes.id"],
            name=op.f("fk_gate_pass_bonded_lists_pass_id_gate_passes"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("pass_id", "bonded_list_id", name=op.f("pk_gate_pass_bonded_lists")),
    )
    with op.batch_alter_table("gate_pass_bonded_lists", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_gate_pass_bonded_lists_bonded_list_id"), ["bonded_list_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("gate_pass_bonded_lists", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_gate_pass_bonded_lists_bonded_list_id"))

    op.drop_table("gate_pass_bonded_lists")
    op.drop_table("bonded_list_lines")
    with op.batch_alter_table("bonded_lists", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_bonded_lists_putrec_no"))
        batch_op.drop_index("ix_bonded_lists_enterprise_status")
        batch_op.drop_index("ix_bonded_lists_enterprise")

    op.drop_table("bonded_lists")
