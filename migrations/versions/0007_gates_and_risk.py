"""Gates and risk: gates, lanes, vehicles, gate passes (核放单), passages at the gate, and risk warnings.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-22 06:10:14.695624
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import app.db

revision: str = '0007'
down_revision: str | None = '0006'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('gates',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('code', sa.String(length=20), nullable=False),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('customs_code', sa.String(length=4), nullable=False),
    sa.Column('created_at', app.db.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_gates')),
    sa.UniqueConstraint('code', name=op.f('uq_gates_code'))
    )
    op.create_table('lanes',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('gate_id', sa.Integer(), nullable=False),
    sa.Column('code', sa.String(length=20), nullable=False),
    sa.Column('lane_type', sa.Enum('overlength', 'container', 'ecommerce', 'general_taxpayer_pilot', 'convenient', 'general', name='lanetype', native_enum=False, length=32), nullable=False),
    sa.Column('direction', sa.Enum('in', 'out', name='direction', native_enum=False, length=32), nullable=False),
    sa.Column('state', sa.Enum('open', 'closed', name='lanestate', native_enum=False, length=32), nullable=False),
    sa.Column('dual_gate', sa.Boolean(), nullable=False),
    sa.Column('updated_at', app.db.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['gate_id'], ['gates.id'], name=op.f('fk_lanes_gate_id_gates')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_lanes')),
    sa.UniqueConstraint('gate_id', 'code', name=op.f('uq_lanes_gate_id_code'))
    )
    op.create_table('vehicles',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('plate', sa.String(length=10), nullable=False),
    sa.Column('ic_no', sa.String(length=32), nullable=True),
    sa.Column('vehicle_class', sa.Enum('overlength', 'container', 'ecommerce_van', 'general', name='vehicleclass', native_enum=False, length=32), nullable=False),
    sa.Column('tare_kg', sa.Numeric(precision=12, scale=1), nullable=False),
    sa.Column('container_no', sa.String(length=11), nullable=True),
    sa.Column('enterprise_id', sa.Integer(), nullable=False),
    sa.Column('created_at', app.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', app.db.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['enterprise_id'], ['enterprises.id'], name=op.f('fk_vehicles_enterprise_id_enterprises')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_vehicles')),
    sa.UniqueConstraint('ic_no', name=op.f('uq_vehicles_ic_no')),
    sa.UniqueConstraint('plate', name=op.f('uq_vehicles_plate'))
    )
    with op.batch_alter_table('vehicles', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_vehicles_enterprise_id'), ['enterprise_id'], unique=False)

    op.create_table('gate_passes',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('passport_no', sa.String(length=32), nullable=False),
    sa.Column('etps_preent_no', sa.String(length=64), nullable=True),
    sa.Column('passport_type', sa.Enum('first_in_declare_later', 'first_line', 'second_line', 'non_declared', 'checkpoint_registered', 'empty_vehicle', name='passporttype', native_enum=False, length=32), nullable=False),
    sa.Column('bind_type', sa.Enum('one_vehicle_many_lists', 'one_list_one_vehicle', 'one_list_many_vehicles', name='bindtype', native_enum=False, length=32), nullable=False),
    sa.Column('direction', sa.Enum('in', 'out', name='direction', native_enum=False, length=32), nullable=False),
    sa.Column('status', sa.Enum('declared', 'approved', 'held', 'passed_gate_1', 'passed', 'voided', name='passstatus', native_enum=False, length=32), nullable=False),
    sa.Column('vehicle_id', sa.Integer(), nullable=False),
    sa.Column('plate', sa.String(length=10), nullable=False),
    sa.Column('container_no', sa.String(length=11), nullable=True),
    sa.Column('vehicle_kg', sa.Numeric(precision=12, scale=1), nullable=False),
    sa.Column('goods_gross_kg', sa.Numeric(precision=12, scale=1), nullable=False),
    sa.Column('goods_net_kg', sa.Numeric(precision=12, scale=1), nullable=False),
    sa.Column('total_kg', sa.Numeric(precision=12, scale=1), nullable=False),
    sa.Column('enterprise_id', sa.Integer(), nullable=False),
    sa.Column('declared_by_id', sa.Integer(), nullable=False),
    sa.Column('declared_at', app.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('approved_at', app.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('approved_by_id', sa.Integer(), nullable=True),
    sa.Column('passed_at', app.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('voided_at', app.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('updated_at', app.db.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['approved_by_id'], ['users.id'], name=op.f('fk_gate_passes_approved_by_id_users')),
    sa.ForeignKeyConstraint(['declared_by_id'], ['users.id'], name=op.f('fk_gate_passes_declared_by_id_users')),
    sa.ForeignKeyConstraint(['enterprise_id'], ['enterprises.id'], name=op.f('fk_gate_passes_enterprise_id_enterprises')),
    sa.ForeignKeyConstraint(['vehicle_id'], ['vehicles.id'], name=op.f('fk_gate_passes_vehicle_id_vehicles')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_gate_passes')),
    sa.UniqueConstraint('passport_no', name=op.f('uq_gate_passes_passport_no'))
    )
    with op.batch_alter_table('gate_passes', schema=None) as batch_op:
        batch_op.create_index('ix_gate_passes_enterprise', ['enterprise_id', 'id'], unique=False)
        batch_op.create_index('ix_gate_passes_vehicle', ['vehicle_id', 'id'], unique=False)
        batch_op.create_index('uq_gate_passes_live_vehicle', ['vehicle_id'], unique=True, sqlite_where=sa.text("status IN ('declared', 'approved', 'held', 'passed_gate_1')"), postgresql_where=sa.text("status IN ('declared', 'approved', 'held', 'passed_gate_1')"))

    op.create_table('gate_pass_declarations',
    sa.Column('pass_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('declaration_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.ForeignKeyConstraint(['declaration_id'], ['declarations.id'], name=op.f('fk_gate_pass_declarations_declaration_id_declarations')),
    sa.ForeignKeyConstraint(['pass_id'], ['gate_passes.id'], name=op.f('fk_gate_pass_declarations_pass_id_gate_passes'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('pass_id', 'declaration_id', name=op.f('pk_gate_pass_declarations'))
    )
    with op.batch_alter_table('gate_pass_declarations', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_gate_pass_declarations_declaration_id'), ['declaration_id'], unique=False)

    op.create_table('gate_passages',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('gate_id', sa.Integer(), nullable=False),
    sa.Column('lane_id', sa.Integer(), nullable=False),
    sa.Column('pass_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('vehicle_id', sa.Integer(), nullable=True),
    sa.Column('direction', sa.Enum('in', 'out', name='direction', native_enum=False, length=32), nullable=False),
    sa.Column('status', sa.Enum('lane_assigned', 'auto_cleared', 'referred', 'cleared', 'turned_back', 'inspection', name='passagestatus', native_enum=False, length=32), nullable=False),
    sa.Column('plate_read', sa.String(length=10), nullable=False),
    sa.Column('ic_no_read', sa.String(length=32), nullable=True),
    sa.Column('container_no_read', sa.String(length=11), nullable=True),
    sa.Column('weighbridge_kg', sa.Numeric(precision=12, scale=1), nullable=True),
    sa.Column('expected_kg', sa.Numeric(precision=12, scale=1), nullable=True),
    sa.Column('wt_error_kg', sa.Numeric(precision=12, scale=1), nullable=True),
    sa.Column('reasons', sa.JSON(), nullable=False),
    sa.Column('decision_reason', sa.Enum('documents_verified', 'reader_error', 'weighbridge_error', 'officer_instruction', 'no_valid_pass', 'documents_incomplete', 'weight_discrepancy', 'container_discrepancy', 'suspected_smuggling', 'risk_warning', 'random_check', name='decisionreason', native_enum=False, length=32), nullable=True),
    sa.Column('decision_note', sa.String(length=500), nullable=True),
    sa.Column('decided_by_id', sa.Integer(), nullable=True),
    sa.Column('arrived_by_id', sa.Integer(), nullable=False),
    sa.Column('arrived_at', app.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('weighed_at', app.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('decided_at', app.db.UTCDateTime(timezone=True), nullable=True),
    sa.CheckConstraint('weighbridge_kg IS NULL OR weighbridge_kg >= 0', name=op.f('ck_gate_passages_weight_not_negative')),
    sa.ForeignKeyConstraint(['arrived_by_id'], ['users.id'], name=op.f('fk_gate_passages_arrived_by_id_users')),
    sa.ForeignKeyConstraint(['decided_by_id'], ['users.id'], name=op.f('fk_gate_passages_decided_by_id_users')),
    sa.ForeignKeyConstraint(['gate_id'], ['gates.id'], name=op.f('fk_gate_passages_gate_id_gates')),
    sa.ForeignKeyConstraint(['lane_id'], ['lanes.id'], name=op.f('fk_gate_passages_lane_id_lanes')),
    sa.ForeignKeyConstraint(['pass_id'], ['gate_passes.id'], name=op.f('fk_gate_passages_pass_id_gate_passes')),
    sa.ForeignKeyConstraint(['vehicle_id'], ['vehicles.id'], name=op.f('fk_gate_passages_vehicle_id_vehicles')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_gate_passages'))
    )
    with op.batch_alter_table('gate_passages', schema=None) as batch_op:
        batch_op.create_index('ix_gate_passages_gate_arrived', ['gate_id', 'arrived_at'], unique=False)
        batch_op.create_index('ix_gate_passages_lane_arrived', ['lane_id', 'arrived_at'], unique=False)
        batch_op.create_index('ix_gate_passages_pass', ['pass_id', 'id'], unique=False)
        batch_op.create_index('uq_gate_passages_open_pass', ['pass_id'], unique=True, sqlite_where=sa.text("status IN ('lane_assigned', 'referred')"), postgresql_where=sa.text("status IN ('lane_assigned', 'referred')"))

    op.create_table('risk_warnings',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('source', sa.Enum('gate', 'video', 'trace', 'inspection', 'overdue_gate', 'officer', name='warningsource', native_enum=False, length=32), nullable=False),
    sa.Column('subject_key', sa.String(length=120), nullable=False),
    sa.Column('severity', sa.Enum('low', 'medium', 'high', name='severity', native_enum=False, length=32), nullable=False),
    sa.Column('status', sa.Enum('open', 'taken', 'resolved', name='warningstatus', native_enum=False, length=32), nullable=False),
    sa.Column('title', sa.String(length=200), nullable=False),
    sa.Column('details', sa.JSON(), nullable=False),
    sa.Column('occurrences', sa.Integer(), nullable=False),
    sa.Column('first_raised_at', app.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('last_raised_at', app.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('plate', sa.String(length=10), nullable=True),
    sa.Column('declaration_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('enterprise_id', sa.Integer(), nullable=True),
    sa.Column('gate_passage_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('assignee_id', sa.Integer(), nullable=True),
    sa.Column('taken_at', app.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('resolution', sa.Enum('confirmed', 'false_alarm', 'no_action_needed', name='resolution', native_enum=False, length=32), nullable=True),
    sa.Column('resolution_notes', sa.String(length=2000), nullable=True),
    sa.Column('resolved_by_id', sa.Integer(), nullable=True),
    sa.Column('resolved_at', app.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('inspection_task_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.ForeignKeyConstraint(['assignee_id'], ['users.id'], name=op.f('fk_risk_warnings_assignee_id_users')),
    sa.ForeignKeyConstraint(['declaration_id'], ['declarations.id'], name=op.f('fk_risk_warnings_declaration_id_declarations')),
    sa.ForeignKeyConstraint(['enterprise_id'], ['enterprises.id'], name=op.f('fk_risk_warnings_enterprise_id_enterprises')),
    sa.ForeignKeyConstraint(['gate_passage_id'], ['gate_passages.id'], name=op.f('fk_risk_warnings_gate_passage_id_gate_passages')),
    sa.ForeignKeyConstraint(['inspection_task_id'], ['inspection_tasks.id'], name=op.f('fk_risk_warnings_inspection_task_id_inspection_tasks')),
    sa.ForeignKeyConstraint(['resolved_by_id'], ['users.id'], name=op.f('fk_risk_warnings_resolved_by_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_risk_warnings'))
    )
    with op.batch_alter_table('risk_warnings', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_risk_warnings_declaration_id'), ['declaration_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_risk_warnings_enterprise_id'), ['enterprise_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_risk_warnings_plate'), ['plate'], unique=False)
        batch_op.create_index('ix_risk_warnings_severity_status_id', ['severity', 'status', 'id'], unique=False)
        batch_op.create_index('ix_risk_warnings_status_id', ['status', 'id'], unique=False)
        batch_op.create_index('ix_risk_warnings_subject_key', ['subject_key'], unique=False)
        batch_op.create_index('uq_risk_warnings_open_subject', ['subject_key'], unique=True, sqlite_where=sa.text("status != 'resolved'"), postgresql_where=sa.text("status != 'resolved'"))


def downgrade() -> None:
    with op.batch_alter_table('risk_warnings', schema=None) as batch_op:
        batch_op.drop_index('uq_risk_warnings_open_subject', sqlite_where=sa.text("status != 'resolved'"), postgresql_where=sa.text("status != 'resolved'"))
        batch_op.drop_index('ix_risk_warnings_subject_key')
        batch_op.drop_index('ix_risk_warnings_status_id')
        batch_op.drop_index('ix_risk_warnings_severity_status_id')
        batch_op.drop_index(batch_op.f('ix_risk_warnings_plate'))
        batch_op.drop_index(batch_op.f('ix_risk_warnings_enterprise_id'))
        batch_op.drop_index(batch_op.f('ix_risk_warnings_declaration_id'))

    op.drop_table('risk_warnings')
    with op.batch_alter_table('gate_passages', schema=None) as batch_op:
        batch_op.drop_index('uq_gate_passages_open_pass', sqlite_where=sa.text("status IN ('lane_assigned', 'referred')"), postgresql_where=sa.text("status IN ('lane_assigned', 'referred')"))
        batch_op.drop_index('ix_gate_passages_pass')
        batch_op.drop_index('ix_gate_passages_lane_arrived')
        batch_op.drop_index('ix_gate_passages_gate_arrived')

    op.drop_table('gate_passages')
    with op.batch_alter_table('gate_pass_declarations', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_gate_pass_declarations_declaration_id'))

    op.drop_table('gate_pass_declarations')
    with op.batch_alter_table('gate_passes', schema=None) as batch_op:
        batch_op.drop_index('uq_gate_passes_live_vehicle', sqlite_where=sa.text("status IN ('declared', 'approved', 'held', 'passed_gate_1')"), postgresql_where=sa.text("status IN ('declared', 'approved', 'held', 'passed_gate_1')"))
        batch_op.drop_index('ix_gate_passes_vehicle')
        batch_op.drop_index('ix_gate_passes_enterprise')

    op.drop_table('gate_passes')
    with op.batch_alter_table('vehicles', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_vehicles_enterprise_id'))

    op.drop_table('vehicles')
    op.drop_table('lanes')
    op.drop_table('gates')
