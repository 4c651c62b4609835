"""Inspections: sites, 7×24 appointment slots, inspection tasks and their photos.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-22 05:01:02.338017
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import app.db

revision: str = '0003'
down_revision: str | None = '0002'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('inspection_sites',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('code', sa.String(length=20), nullable=False),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('customs_code', sa.String(length=4), nullable=False),
    sa.Column('location', sa.String(length=200), nullable=True),
    sa.Column('is_active', sa.Boolean(), nullable=False),
    sa.Column('created_at', app.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', app.db.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_inspection_sites')),
    sa.UniqueConstraint('code', name=op.f('uq_inspection_sites_code'))
    )
    with op.batch_alter_table('inspection_sites', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_inspection_sites_customs_code'), ['customs_code'], unique=False)

    op.create_table('inspection_slots',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('site_id', sa.Integer(), nullable=False),
    sa.Column('starts_at', app.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('ends_at', app.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('capacity', sa.Integer(), nullable=False),
    sa.Column('booked', sa.Integer(), nullable=False),
    sa.CheckConstraint('booked >= 0 AND booked <= capacity', name=op.f('ck_inspection_slots_booked_within_capacity')),
    sa.CheckConstraint('capacity > 0', name=op.f('ck_inspection_slots_capacity_positive')),
    sa.CheckConstraint('ends_at > starts_at', name=op.f('ck_inspection_slots_ends_after_start')),
    sa.ForeignKeyConstraint(['site_id'], ['inspection_sites.id'], name=op.f('fk_inspection_slots_site_id_inspection_sites')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_inspection_slots')),
    sa.UniqueConstraint('site_id', 'starts_at', name=op.f('uq_inspection_slots_site_id_starts_at'))
    )
    op.create_table('inspection_tasks',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('task_no', sa.String(length=32), nullable=False),
    sa.Column('declaration_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('source', sa.Enum('receipt_500', 'sas224', 'risk_alert', 'manual', name='tasksource', native_enum=False, length=32), nullable=False),
    sa.Column('method', sa.Enum('machine', 'open_box', 'seal_check', 'document', name='inspectionmethod', native_enum=False, length=32), nullable=False),
    sa.Column('status', sa.Enum('issued', 'notified', 'appointed', 'goods_ready', 'in_progress', 'recheck', 'result_normal', 'result_abnormal', 'disposed', 'closed', name='taskstatus', native_enum=False, length=32), nullable=False),
    sa.Column('reason', sa.String(length=500), nullable=True),
    sa.Column('receipt_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('issued_by_id', sa.Integer(), nullable=True),
    sa.Column('site_id', sa.Integer(), nullable=True),
    sa.Column('slot_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('appointment_at', app.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('booked_by_id', sa.Integer(), nullable=True),
    sa.Column('no_show_count', sa.Integer(), nullable=False),
    sa.Column('officer_id', sa.Integer(), nullable=True),
    sa.Column('result', sa.Enum('normal', 'abnormal', name='inspectionresult', native_enum=False, length=32), nullable=True),
    sa.Column('result_notes', sa.String(length=2000), nullable=True),
    sa.Column('disposal', sa.Enum('release', 'amend', 'tax', 'ship_back', 'detain_transfer', name='disposal', native_enum=False, length=32), nullable=True),
    sa.Column('issued_at', app.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('notified_at', app.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('appointed_at', app.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('goods_ready_at', app.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('started_at', app.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('recheck_at', app.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('result_at', app.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('disposed_at', app.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('closed_at', app.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('updated_at', app.db.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['booked_by_id'], ['users.id'], name=op.f('fk_inspection_tasks_booked_by_id_users')),
    sa.ForeignKeyConstraint(['declaration_id'], ['declarations.id'], name=op.f('fk_inspection_tasks_declaration_id_declarations')),
    sa.ForeignKeyConstraint(['issued_by_id'], ['users.id'], name=op.f('fk_inspection_tasks_issued_by_id_users')),
    sa.ForeignKeyConstraint(['officer_id'], ['users.id'], name=op.f('fk_inspection_tasks_officer_id_users')),
    sa.ForeignKeyConstraint(['receipt_id'], ['customs_receipts.id'], name=op.f('fk_inspection_tasks_receipt_id_customs_receipts')),
    sa.ForeignKeyConstraint(['site_id'], ['inspection_sites.id'], name=op.f('fk_inspection_tasks_site_id_inspection_sites')),
    sa.ForeignKeyConstraint(['slot_id'], ['inspection_slots.id'], name=op.f('fk_inspection_tasks_slot_id_inspection_slots')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_inspection_tasks')),
    sa.UniqueConstraint('task_no', name=op.f('uq_inspection_tasks_task_no'))
    )
    with op.batch_alter_table('inspection_tasks', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_inspection_tasks_declaration_id'), ['declaration_id'], unique=False)
        batch_op.create_index('ix_inspection_tasks_site_appointment', ['site_id', 'appointment_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_inspection_tasks_slot_id'), ['slot_id'], unique=False)
        batch_op.create_index('ix_inspection_tasks_status_appointment', ['status', 'appointment_at'], unique=False)
        batch_op.create_index('uq_inspection_tasks_open_declaration', ['declaration_id'], unique=True, sqlite_where=sa.text("status != 'closed'"), postgresql_where=sa.text("status != 'closed'"))

    op.create_table('inspection_photos',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('task_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('stored_name', sa.String(length=64), nullable=False),
    sa.Column('content_type', sa.String(length=20), nullable=False),
    sa.Column('size', sa.Integer(), nullable=False),
    sa.Column('sha256', sa.String(length=64), nullable=False),
    sa.Column('uploaded_by_id', sa.Integer(), nullable=False),
    sa.Column('uploaded_at', app.db.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['task_id'], ['inspection_tasks.id'], name=op.f('fk_inspection_photos_task_id_inspection_tasks')),
    sa.ForeignKeyConstraint(['uploaded_by_id'], ['users.id'], name=op.f('fk_inspection_photos_uploaded_by_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_inspection_photos')),
    sa.UniqueConstraint('stored_name', name=op.f('uq_inspection_photos_stored_name')),
    sa.UniqueConstraint('task_id', 'sha256', name=op.f('uq_inspection_photos_task_id_sha256'))
    )


def downgrade() -> None:
    op.drop_table('inspection_photos')
    with op.batch_alter_table('inspection_tasks', schema=None) as batch_op:
        batch_op.drop_index('uq_inspection_tasks_open_declaration', sqlite_where=sa.text("status != 'closed'"), postgresql_where=sa.text("status != 'closed'"))
        batch_op.drop_index('ix_inspection_tasks_status_appointment')
        batch_op.drop_index(batch_op.f('ix_inspection_tasks_slot_id'))
        batch_op.drop_index('ix_inspection_tasks_site_appointment')
        batch_op.drop_index(batch_op.f('ix_inspection_tasks_declaration_id'))

    op.drop_table('inspection_tasks')
    op.drop_table('inspection_slots')
    with op.batch_alter_table('inspection_sites', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_inspection_sites_customs_code'))

    op.drop_table('inspection_sites')
