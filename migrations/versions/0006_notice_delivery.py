"""Notice delivery: the push outbox, reminder steps, delivery times and stream tickets.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-22 06:05:08.192163
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import app.db

revision: str = '0006'
down_revision: str | None = '0005'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('stream_tickets',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('ticket_hash', sa.LargeBinary(length=32), nullable=False),
    sa.Column('auth_session_id', sa.Uuid(), nullable=False),
    sa.Column('expires_at', app.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('used_at', app.db.UTCDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['auth_session_id'], ['auth_sessions.id'], name=op.f('fk_stream_tickets_auth_session_id_auth_sessions'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_stream_tickets')),
    sa.UniqueConstraint('ticket_hash', name=op.f('uq_stream_tickets_ticket_hash'))
    )
    op.create_table('notice_deliveries',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('notice_seq', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('channel', sa.Enum('push', 'sms', name='deliverychannel', native_enum=False, length=32), nullable=False),
    sa.Column('purpose', sa.Enum('notice', 'reminder', 'clear', name='deliverypurpose', native_enum=False, length=32), nullable=False),
    sa.Column('device_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('state', sa.Enum('pending', 'sent', 'skipped', 'invalid_token', 'failed', name='deliverystate', native_enum=False, length=32), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('next_attempt_at', app.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('last_error', sa.String(length=300), nullable=True),
    sa.Column('provider_message_id', sa.String(length=200), nullable=True),
    sa.Column('created_at', app.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('sent_at', app.db.UTCDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['device_id'], ['devices.id'], name=op.f('fk_notice_deliveries_device_id_devices')),
    sa.ForeignKeyConstraint(['notice_seq'], ['notices.id'], name=op.f('fk_notice_deliveries_notice_seq_notices'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_notice_deliveries'))
    )
    with op.batch_alter_table('notice_deliveries', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_notice_deliveries_device_id'), ['device_id'], unique=False)
        batch_op.create_index('ix_notice_deliveries_due', ['next_attempt_at'], unique=False, sqlite_where=sa.text("state = 'pending'"), postgresql_where=sa.text("state = 'pending'"))
        batch_op.create_index(batch_op.f('ix_notice_deliveries_notice_seq'), ['notice_seq'], unique=False)

    with op.batch_alter_table('notices', schema=None) as batch_op:
        batch_op.add_column(sa.Column('first_sent_at', app.db.UTCDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('reminders_sent', sa.Integer(), server_default='0', nullable=False))
        batch_op.create_index('ix_notices_unacknowledged_urgent', ['created_at'], unique=False, sqlite_where=sa.text("priority = 'high' AND acknowledged_at IS NULL"), postgresql_where=sa.text("priority = 'high' AND acknowledged_at IS NULL"))



def downgrade() -> None:
    with op.batch_alter_table('notices', schema=None) as batch_op:
        batch_op.drop_index('ix_notices_unacknowledged_urgent', sqlite_where=sa.text("priority = 'high' AND acknowledged_at IS NULL"), postgresql_where=sa.text("priority = 'high' AND acknowledged_at IS NULL"))
        batch_op.drop_column('reminders_sent')
        batch_op.drop_column('first_sent_at')

    with op.batch_alter_table('notice_deliveries', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_notice_deliveries_notice_seq'))
        batch_op.drop_index('ix_notice_deliveries_due', sqlite_where=sa.text("state = 'pending'"), postgresql_where=sa.text("state = 'pending'"))
        batch_op.drop_index(batch_op.f('ix_notice_deliveries_device_id'))

    op.drop_table('notice_deliveries')
    op.drop_table('stream_tickets')
