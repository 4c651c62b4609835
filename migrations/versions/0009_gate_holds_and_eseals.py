"""Gate passes: customs holds (SAS224) with their reason and what they interrupted; e-seal numbers declared
on passes and read at the gate.

Revision ID: 0009
Revises: 0008
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import app.db

revision: str = '0009'
down_revision: str | None = '0008'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('gate_passes', schema=None) as batch_op:
        batch_op.add_column(sa.Column('eseal_no', sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column('hold_source', sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column('hold_reason', sa.String(length=500), nullable=True))
        batch_op.add_column(sa.Column('held_from', sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column('held_at', app.db.UTCDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('held_by_id', sa.Integer(), nullable=True))
        batch_op.create_foreign_key(batch_op.f('fk_gate_passes_held_by_id_users'), 'users', ['held_by_id'], ['id'])

    with op.batch_alter_table('gate_passages', schema=None) as batch_op:
        batch_op.add_column(sa.Column('eseal_no_read', sa.String(length=32), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('gate_passages', schema=None) as batch_op:
        batch_op.drop_column('eseal_no_read')

    with op.batch_alter_table('gate_passes', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_gate_passes_held_by_id_users'), type_='foreignkey')
        batch_op.drop_column('held_by_id')
        batch_op.drop_column('held_at')
        batch_op.drop_column('held_from')
        batch_op.drop_column('hold_reason')
        batch_op.drop_column('hold_source')
        batch_op.drop_column('eseal_no')
