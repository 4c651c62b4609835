"""Clearance: declarations with goods lines and timeline, customs receipts, notices and their purges.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22 04:51:01.401838
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import app.db

revision: str = '0002'
down_revision: str | None = '0001'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('declarations',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('kind', sa.Enum('import_inventory', name='declarationkind', native_enum=False, length=32), nullable=False),
    sa.Column('guid', sa.String(length=36), nullable=False),
    sa.Column('status', sa.Enum('submitted', 'send_failed', 'accepted', 'manual_review', 'audited', 'inspection', 'rejected', 'detained', 'shipped_back', 'released', 'closed', 'cancelled', name='declarationstatus', native_enum=False, length=32), nullable=False),
    sa.Column('cop_no', sa.String(length=20), nullable=False),
    sa.Column('pre_no', sa.String(length=18), nullable=True),
    sa.Column('invt_no', sa.String(length=18), nullable=True),
    sa.Column('order_no', sa.String(length=60), nullable=False),
    sa.Column('logistics_no', sa.String(length=60), nullable=False),
    sa.Column('ebp_code', sa.String(length=10), nullable=False),
    sa.Column('ebp_name', sa.String(length=200), nullable=False),
    sa.Column('ebc_code', sa.String(length=10), nullable=False),
    sa.Column('ebc_name', sa.String(length=200), nullable=False),
    sa.Column('agent_code', sa.String(length=10), nullable=False),
    sa.Column('agent_name', sa.String(length=200), nullable=False),
    sa.Column('area_code', sa.String(length=10), nullable=False),
    sa.Column('area_name', sa.String(length=200), nullable=False),
    sa.Column('assure_code', sa.String(length=10), nullable=True),
    sa.Column('ems_no', sa.String(length=30), nullable=True),
    sa.Column('trade_mode', sa.String(length=4), nullable=False),
    sa.Column('customs_code', sa.String(length=4), nullable=False),
    sa.Column('port_code', sa.String(length=4), nullable=False),
    sa.Column('buyer_id_type', sa.String(length=1), nullable=False),
    sa.Column('buyer_id_number', sa.String(length=18), nullable=False),
    sa.Column('buyer_name', sa.String(length=60), nullable=False),
    sa.Column('buyer_telephone', sa.String(length=30), nullable=False),
    sa.Column('consignee_address', sa.String(length=200), nullable=False),
    sa.Column('currency', sa.String(length=3), nullable=False),
    sa.Column('freight', sa.Numeric(precision=14, scale=2), nullable=False),
    sa.Column('insured_fee', sa.Numeric(precision=14, scale=2), nullable=False),
    sa.Column('goods_value', sa.Numeric(precision=14, scale=2), nullable=False),
    sa.Column('gross_weight', sa.Numeric(precision=14, scale=4), nullable=False),
    sa.Column('net_weight', sa.Numeric(precision=14, scale=4), nullable=False),
    sa.Column('declaring_enterprise_id', sa.Integer(), nullable=False),
    sa.Column('warehouse_enterprise_id', sa.Integer(), nullable=False),
    sa.Column('submitted_by_id', sa.Integer(), nullable=False),
    sa.Column('corrects_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('return_info', sa.String(length=1000), nullable=True),
    sa.Column('submitted_at', app.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('released_at', app.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('release_source', sa.Enum('receipt_800', 'officer', name='releasesource', native_enum=False, length=32), nullable=True),
    sa.Column('updated_at', app.db.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['corrects_id'], ['declarations.id'], name=op.f('fk_declarations_corrects_id_declarations')),
    sa.ForeignKeyConstraint(['declaring_enterprise_id'], ['enterprises.id'], name=op.f('fk_declarations_declaring_enterprise_id_enterprises')),
    sa.ForeignKeyConstraint(['submitted_by_id'], ['users.id'], name=op.f('fk_declarations_submitted_by_id_users')),
    sa.ForeignKeyConstraint(['warehouse_enterprise_id'], ['enterprises.id'], name=op.f('fk_declarations_warehouse_enterprise_id_enterprises')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_declarations')),
    sa.UniqueConstraint('corrects_id', name=op.f('uq_declarations_corrects_id')),
    sa.UniqueConstraint('guid', name=op.f('uq_declarations_guid')),
    sa.UniqueConstraint('invt_no', name=op.f('uq_declarations_invt_no'))
    )
    with op.batch_alter_table('declarations', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_declarations_buyer_id_number'), ['buyer_id_number'], unique=False)
        batch_op.create_index(batch_op.f('ix_declarations_cop_no'), ['cop_no'], unique=False)
        batch_op.create_index('ix_declarations_declaring_enterprise', ['declaring_enterprise_id', 'id'], unique=False)
        batch_op.create_index('ix_declarations_declaring_enterprise_status', ['declaring_enterprise_id', 'status', 'id'], unique=False)
        batch_op.create_index(batch_op.f('ix_declarations_logistics_no'), ['logistics_no'], unique=False)
        batch_op.create_index(batch_op.f('ix_declarations_order_no'), ['order_no'], unique=False)
        batch_op.create_index(batch_op.f('ix_declarations_submitted_at'), ['submitted_at'], unique=False)
        batch_op.create_index('ix_declarations_warehouse_enterprise', ['warehouse_enterprise_id', 'id'], unique=False)
        batch_op.create_index('uq_declarations_live_cop_no', ['agent_code', 'cop_no'], unique=True, sqlite_where=sa.text("status != 'rejected'"), postgresql_where=sa.text("status != 'rejected'"))

    op.create_table('customs_receipts',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('fingerprint', sa.String(length=64), nullable=False),
    sa.Column('declaration_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('guid', sa.String(length=36), nullable=True),
    sa.Column('cop_no', sa.String(length=20), nullable=True),
    sa.Column('invt_no', sa.String(length=18), nullable=True),
    sa.Column('status_code', sa.Integer(), nullable=False),
    sa.Column('return_time', app.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('return_info', sa.String(length=1000), nullable=True),
    sa.Column('format', sa.Enum('json', 'xml', name='receiptformat', native_enum=False, length=32), nullable=False),
    sa.Column('raw_body', sa.Text(), nullable=False),
    sa.Column('outcome', sa.Enum('applied', 'duplicate', 'stale', 'unknown_declaration', name='receiptoutcome', native_enum=False, length=32), nullable=False),
    sa.Column('received_at', app.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('received_by_id', sa.Integer(), nullable=True),
    sa.Column('resolved_at', app.db.UTCDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['declaration_id'], ['declarations.id'], name=op.f('fk_customs_receipts_declaration_id_declarations')),
    sa.ForeignKeyConstraint(['received_by_id'], ['users.id'], name=op.f('fk_customs_receipts_received_by_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_customs_receipts')),
    sa.UniqueConstraint('fingerprint', name=op.f('uq_customs_receipts_fingerprint'))
    )
    with op.batch_alter_table('customs_receipts', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_customs_receipts_declaration_id'), ['declaration_id'], unique=False)
        batch_op.create_index('ix_customs_receipts_outcome_id', ['outcome', 'id'], unique=False)

    op.create_table('declaration_lines',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('declaration_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('gnum', sa.Integer(), nullable=False),
    sa.Column('item_record_no', sa.String(length=30), nullable=True),
    sa.Column('item_no', sa.String(length=30), nullable=False),
    sa.Column('item_name', sa.String(length=250), nullable=False),
    sa.Column('g_model', sa.String(length=250), nullable=True),
    sa.Column('hs_code', sa.String(length=10), nullable=False),
    sa.Column('gtin', sa.String(length=14), nullable=False),
    sa.Column('country', sa.String(length=3), nullable=False),
    sa.Column('qty', sa.Numeric(precision=18, scale=4), nullable=False),
    sa.Column('unit', sa.String(length=3), nullable=False),
    sa.Column('price', sa.Numeric(precision=18, scale=4), nullable=False),
    sa.Column('total_price', sa.Numeric(precision=14, scale=2), nullable=False),
    sa.ForeignKeyConstraint(['declaration_id'], ['declarations.id'], name=op.f('fk_declaration_lines_declaration_id_declarations'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_declaration_lines')),
    sa.UniqueConstraint('declaration_id', 'gnum', name=op.f('uq_declaration_lines_declaration_id_gnum'))
    )
    with op.batch_alter_table('declaration_lines', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_declaration_lines_gtin'), ['gtin'], unique=False)

    op.create_table('notices',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('notice_id', sa.Uuid(), nullable=False),
    sa.Column('recipient_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.Enum('declaration.accepted', 'declaration.rejected', 'inspection.issued', 'inspection.scheduled', 'inspection.result', 'declaration.released', 'declaration.detained', name='noticekind', native_enum=False, length=32), nullable=False),
    sa.Column('priority', sa.Enum('normal', 'high', name='noticepriority', native_enum=False, length=32), nullable=False),
    sa.Column('source_key', sa.String(length=120), nullable=False),
    sa.Column('title', sa.String(length=200), nullable=False),
    sa.Column('body', sa.String(length=1000), nullable=False),
    sa.Column('link', sa.String(length=200), nullable=True),
    sa.Column('declaration_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('created_at', app.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('acknowledged_at', app.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('read_at', app.db.UTCDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['declaration_id'], ['declarations.id'], name=op.f('fk_notices_declaration_id_declarations')),
    sa.ForeignKeyConstraint(['recipient_id'], ['users.id'], name=op.f('fk_notices_recipient_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_notices')),
    sa.UniqueConstraint('notice_id', name=op.f('uq_notices_notice_id')),
    sa.UniqueConstraint('recipient_id', 'source_key', name=op.f('uq_notices_recipient_id_source_key')),
    sqlite_autoincrement=True,
    )
    op.create_table('notice_purges',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('purged_through_seq', sa.BigInteger(), nullable=False),
    sa.Column('purged_count', sa.Integer(), nullable=False),
    sa.Column('purged_at', app.db.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_notice_purges'))
    )
    with op.batch_alter_table('notices', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_notices_declaration_id'), ['declaration_id'], unique=False)
        batch_op.create_index('ix_notices_recipient_id_id', ['recipient_id', 'id'], unique=False)

    op.create_table('declaration_events',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('declaration_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('occurred_at', app.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('recorded_at', app.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('step', sa.String(length=40), nullable=False),
    sa.Column('biz_step', sa.Enum('arriving', 'accepting', 'holding', 'inspecting', 'departing', 'shipping', 'other', name='bizstep', native_enum=False, length=32), nullable=False),
    sa.Column('disposition', sa.Enum('in_progress', 'conformant', 'non_conformant', 'sellable_not_accessible', 'sellable_accessible', 'returned', 'inactive', 'unknown', name='disposition', native_enum=False, length=32), nullable=False),
    sa.Column('status', sa.Enum('submitted', 'send_failed', 'accepted', 'manual_review', 'audited', 'inspection', 'rejected', 'detained', 'shipped_back', 'released', 'closed', 'cancelled', name='declarationstatus', native_enum=False, length=32), nullable=False),
    sa.Column('status_changed', sa.Boolean(), nullable=False),
    sa.Column('title', sa.String(length=200), nullable=False),
    sa.Column('place', sa.String(length=60), nullable=True),
    sa.Column('actor_id', sa.Integer(), nullable=True),
    sa.Column('receipt_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('details', sa.JSON(), nullable=False),
    sa.ForeignKeyConstraint(['actor_id'], ['users.id'], name=op.f('fk_declaration_events_actor_id_users')),
    sa.ForeignKeyConstraint(['declaration_id'], ['declarations.id'], name=op.f('fk_declaration_events_declaration_id_declarations'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['receipt_id'], ['customs_receipts.id'], name=op.f('fk_declaration_events_receipt_id_customs_receipts')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_declaration_events'))
    )
    with op.batch_alter_table('declaration_events', schema=None) as batch_op:
        batch_op.create_index('ix_declaration_events_declaration_id_id', ['declaration_id', 'id'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('declaration_events', schema=None) as batch_op:
        batch_op.drop_index('ix_declaration_events_declaration_id_id')

    op.drop_table('declaration_events')
    with op.batch_alter_table('notices', schema=None) as batch_op:
        batch_op.drop_index('ix_notices_recipient_id_id')
        batch_op.drop_index(batch_op.f('ix_notices_declaration_id'))

    op.drop_table('notice_purges')
    op.drop_table('notices')
    with op.batch_alter_table('declaration_lines', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_declaration_lines_gtin'))

    op.drop_table('declaration_lines')
    with op.batch_alter_table('customs_receipts', schema=None) as batch_op:
        batch_op.drop_index('ix_customs_receipts_outcome_id')
        batch_op.drop_index(batch_op.f('ix_customs_receipts_declaration_id'))

    op.drop_table('customs_receipts')
    with op.batch_alter_table('declarations', schema=None) as batch_op:
        batch_op.drop_index('uq_declarations_live_cop_no', sqlite_where=sa.text("status != 'rejected'"), postgresql_where=sa.text("status != 'rejected'"))
        batch_op.drop_index('ix_declarations_warehouse_enterprise')
        batch_op.drop_index(batch_op.f('ix_declarations_submitted_at'))
        batch_op.drop_index(batch_op.f('ix_declarations_order_no'))
        batch_op.drop_index(batch_op.f('ix_declarations_logistics_no'))
        batch_op.drop_index('ix_declarations_declaring_enterprise_status')
        batch_op.drop_index('ix_declarations_declaring_enterprise')
        batch_op.drop_index(batch_op.f('ix_declarations_cop_no'))
        batch_op.drop_index(batch_op.f('ix_declarations_buyer_id_number'))

    op.drop_table('declarations')
