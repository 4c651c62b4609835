"""Traceability: the product master (goods barcodes), stock, trace codes, their batches and counted scans.

declaration_lines already carries the line's GTIN (gtin), so no change there.

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-22 06:11:20.910745
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import app.db

revision: str = '0008'
down_revision: str | None = '0007'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('products',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('gtin', sa.String(length=14), nullable=False),
    sa.Column('name_zh', sa.String(length=200), nullable=False),
    sa.Column('name_en', sa.String(length=200), nullable=True),
    sa.Column('brand', sa.String(length=100), nullable=False),
    sa.Column('specification', sa.String(length=200), nullable=True),
    sa.Column('origin_country', sa.String(length=3), nullable=False),
    sa.Column('hs_code', sa.String(length=13), nullable=False),
    sa.Column('unit', sa.String(length=3), nullable=False),
    sa.Column('enterprise_id', sa.Integer(), nullable=True),
    sa.Column('registered_by_id', sa.Integer(), nullable=True),
    sa.Column('created_at', app.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', app.db.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['enterprise_id'], ['enterprises.id'], name=op.f('fk_products_enterprise_id_enterprises')),
    sa.ForeignKeyConstraint(['registered_by_id'], ['users.id'], name=op.f('fk_products_registered_by_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_products')),
    sa.UniqueConstraint('gtin', name=op.f('uq_products_gtin'))
    )
    with op.batch_alter_table('products', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_products_enterprise_id'), ['enterprise_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_products_name_zh'), ['name_zh'], unique=False)

    op.create_table('trace_code_batches',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('declaration_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('gnum', sa.Integer(), nullable=False),
    sa.Column('gtin', sa.String(length=14), nullable=False),
    sa.Column('lot', sa.String(length=20), nullable=True),
    sa.Column('quantity', sa.Integer(), nullable=False),
    sa.Column('voided', sa.Integer(), nullable=False),
    sa.Column('warehouse_enterprise_id', sa.Integer(), nullable=False),
    sa.Column('issued_by_id', sa.Integer(), nullable=False),
    sa.Column('issued_at', app.db.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['declaration_id'], ['declarations.id'], name=op.f('fk_trace_code_batches_declaration_id_declarations')),
    sa.ForeignKeyConstraint(['issued_by_id'], ['users.id'], name=op.f('fk_trace_code_batches_issued_by_id_users')),
    sa.ForeignKeyConstraint(['warehouse_enterprise_id'], ['enterprises.id'], name=op.f('fk_trace_code_batches_warehouse_enterprise_id_enterprises')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_trace_code_batches'))
    )
    with op.batch_alter_table('trace_code_batches', schema=None) as batch_op:
        batch_op.create_index('ix_trace_code_batches_declaration_id_gnum', ['declaration_id', 'gnum'], unique=False)
        batch_op.create_index(batch_op.f('ix_trace_code_batches_warehouse_enterprise_id'), ['warehouse_enterprise_id'], unique=False)

    op.create_table('trace_codes',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('serial', sa.String(length=16), nullable=False),
    sa.Column('gtin', sa.String(length=14), nullable=False),
    sa.Column('lot', sa.String(length=20), nullable=True),
    sa.Column('status', sa.Enum('issued', 'affixed', 'active', 'sold', 'recalled', 'void', name='tracecodestatus', native_enum=False, length=32), nullable=False),
    sa.Column('batch_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('declaration_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('warehouse_enterprise_id', sa.Integer(), nullable=False),
    sa.Column('status_changed_at', app.db.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['batch_id'], ['trace_code_batches.id'], name=op.f('fk_trace_codes_batch_id_trace_code_batches')),
    sa.ForeignKeyConstraint(['declaration_id'], ['declarations.id'], name=op.f('fk_trace_codes_declaration_id_declarations')),
    sa.ForeignKeyConstraint(['warehouse_enterprise_id'], ['enterprises.id'], name=op.f('fk_trace_codes_warehouse_enterprise_id_enterprises')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_trace_codes')),
    sa.UniqueConstraint('serial', name=op.f('uq_trace_codes_serial'))
    )
    with op.batch_alter_table('trace_codes', schema=None) as batch_op:
        batch_op.create_index('ix_trace_codes_batch_id_id', ['batch_id', 'id'], unique=False)
        batch_op.create_index('ix_trace_codes_declaration_id_status', ['declaration_id', 'status'], unique=False)

    op.create_table('trace_scans',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('trace_code_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('scanned_at', app.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('network', sa.String(length=49), nullable=True),
    sa.Column('client_class', sa.String(length=16), nullable=False),
    sa.Column('region', sa.String(length=60), nullable=True),
    sa.Column('verdict', sa.String(length=20), nullable=False),
    sa.ForeignKeyConstraint(['trace_code_id'], ['trace_codes.id'], name=op.f('fk_trace_scans_trace_code_id_trace_codes')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_trace_scans'))
    )
    with op.batch_alter_table('trace_scans', schema=None) as batch_op:
        batch_op.create_index('ix_trace_scans_trace_code_id_scanned_at', ['trace_code_id', 'scanned_at'], unique=False)

    op.create_table('stock_levels',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('warehouse_enterprise_id', sa.Integer(), nullable=False),
    sa.Column('gtin', sa.String(length=14), nullable=False),
    sa.Column('quantity', sa.Numeric(precision=18, scale=4), nullable=False),
    sa.Column('updated_at', app.db.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['warehouse_enterprise_id'], ['enterprises.id'], name=op.f('fk_stock_levels_warehouse_enterprise_id_enterprises')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_stock_levels')),
    sa.UniqueConstraint('warehouse_enterprise_id', 'gtin', name=op.f('uq_stock_levels_warehouse_enterprise_id_gtin'))
    )
    op.create_table('stock_movements',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('warehouse_enterprise_id', sa.Integer(), nullable=False),
    sa.Column('gtin', sa.String(length=14), nullable=False),
    sa.Column('kind', sa.Enum('scan_in', 'release_out', name='movementkind', native_enum=False, length=32), nullable=False),
    sa.Column('quantity', sa.Numeric(precision=18, scale=4), nullable=False),
    sa.Column('shortfall', sa.Numeric(precision=18, scale=4), nullable=False),
    sa.Column('seal_no', sa.String(length=40), nullable=True),
    sa.Column('declaration_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('recorded_by_id', sa.Integer(), nullable=True),
    sa.Column('occurred_at', app.db.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['declaration_id'], ['declarations.id'], name=op.f('fk_stock_movements_declaration_id_declarations')),
    sa.ForeignKeyConstraint(['recorded_by_id'], ['users.id'], name=op.f('fk_stock_movements_recorded_by_id_users')),
    sa.ForeignKeyConstraint(['warehouse_enterprise_id'], ['enterprises.id'], name=op.f('fk_stock_movements_warehouse_enterprise_id_enterprises')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_stock_movements'))
    )
    with op.batch_alter_table('stock_movements', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_stock_movements_declaration_id'), ['declaration_id'], unique=False)
        batch_op.create_index('ix_stock_movements_warehouse_enterprise_id_id', ['warehouse_enterprise_id', 'id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('stock_movements', schema=None) as batch_op:
        batch_op.drop_index('ix_stock_movements_warehouse_enterprise_id_id')
        batch_op.drop_index(batch_op.f('ix_stock_movements_declaration_id'))

    op.drop_table('stock_movements')
    op.drop_table('stock_levels')
    with op.batch_alter_table('trace_scans', schema=None) as batch_op:
        batch_op.drop_index('ix_trace_scans_trace_code_id_scanned_at')

    op.drop_table('trace_scans')
    with op.batch_alter_table('trace_codes', schema=None) as batch_op:
        batch_op.drop_index('ix_trace_codes_declaration_id_status')
        batch_op.drop_index('ix_trace_codes_batch_id_id')

    op.drop_table('trace_codes')
    with op.batch_alter_table('trace_code_batches', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_trace_code_batches_warehouse_enterprise_id'))
        batch_op.drop_index('ix_trace_code_batches_declaration_id_gnum')

    op.drop_table('trace_code_batches')
    with op.batch_alter_table('products', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_products_name_zh'))
        batch_op.drop_index(batch_op.f('ix_products_enterprise_id'))

    op.drop_table('products')
