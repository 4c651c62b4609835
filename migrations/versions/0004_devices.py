"""Devices: the push registry, one row per app install with its provider token.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-22 05:37:37.488203
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import app.db

revision: str = '0004'
down_revision: str | None = '0003'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('devices',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('device_id', sa.String(length=64), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('platform', sa.Enum('ios', 'android', 'harmony', name='platform', native_enum=False, length=32), nullable=False),
    sa.Column('provider', sa.Enum('apns', 'jpush', 'huawei', 'fcm', name='pushprovider', native_enum=False, length=32), nullable=False),
    sa.Column('token', sa.String(length=512), nullable=False),
    sa.Column('app_version', sa.String(length=32), nullable=False),
    sa.Column('os_version', sa.String(length=32), nullable=False),
    sa.Column('apns_environment', sa.Enum('sandbox', 'production', name='apnsenvironment', native_enum=False, length=32), nullable=True),
    sa.Column('bundle_id', sa.String(length=155), nullable=True),
    sa.Column('push_permission', sa.Boolean(), nullable=False),
    sa.Column('locale', sa.String(length=35), nullable=True),
    sa.Column('created_at', app.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('token_updated_at', app.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('last_seen_at', app.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('invalidated_at', app.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('invalid_reason', sa.String(length=200), nullable=True),
    sa.Column('removed_at', app.db.UTCDateTime(timezone=True), nullable=True),
    sa.CheckConstraint("provider != 'apns' OR (apns_environment IS NOT NULL AND bundle_id IS NOT NULL)", name=op.f('ck_devices_apns_addressable')),
    sa.CheckConstraint("provider = 'apns' OR apns_environment IS NULL", name=op.f('ck_devices_apns_environment_only_for_apns')),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_devices_user_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_devices')),
    sa.UniqueConstraint('device_id', name=op.f('uq_devices_device_id'))
    )
    with op.batch_alter_table('devices', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_devices_user_id'), ['user_id'], unique=False)
        batch_op.create_index('uq_devices_live_provider_token', ['provider', 'token'], unique=True, sqlite_where=sa.text('removed_at IS NULL'), postgresql_where=sa.text('removed_at IS NULL'))


def downgrade() -> None:
    with op.batch_alter_table('devices', schema=None) as batch_op:
        batch_op.drop_index('uq_devices_live_provider_token', sqlite_where=sa.text('removed_at IS NULL'), postgresql_where=sa.text('removed_at IS NULL'))
        batch_op.drop_index(batch_op.f('ix_devices_user_id'))

    op.drop_table('devices')
