"""The audit chain is linked as each transaction commits: entries carry their content digest, and on PostgreSQL
a deferred trigger gives them seq, prev_hash and hash inside COMMIT from the one-row audit_chain_head.

Until now every writer took an advisory lock and read the chain's tail when it recorded an entry, and held the
lock until COMMIT: with every business state change now audited (receipts, gate decisions, ...), that lock
would have serialised every write transaction end to end. Rows already written keep their hash (prev_hash inside
the hashed content) and get seq in id order, the order they were chained in.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-05 09:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

GENESIS_HASH = "0" * 64

POSTGRES_CHAINING = """
CREATE FUNCTION audit_events_chain_at_commit() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    head_seq BIGINT;
    head_hash TEXT;
    new_hash TEXT;
BEGIN
    -- Deferred to COMMIT, and the head's row lock is released only once this commit is visible: the next
    -- committer reads this head, so the entries line up in commit order with no gaps.
    SELECT seq, hash INTO head_seq, head_hash FROM audit_chain_head WHERE id = 1 FOR UPDATE;
    new_hash := encode(sha256(convert_to(head_hash || NEW.digest, 'UTF8')), 'hex');
    UPDATE audit_chain_head SET seq = head_seq + 1, hash = new_hash WHERE id = 1;
    UPDATE audit_events SET seq = head_seq + 1, prev_hash = head_hash, hash = new_hash WHERE id = NEW.id;
    RETURN NULL;
END $$;
CREATE CONSTRAINT TRIGGER audit_events_chain_at_commit AFTER INSERT ON audit_events
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION audit_events_chain_at_commit();
"""


def upgrade() -> None:
    postgres = op.get_bind().dialect.name == "postgresql"
    op.create_table(
        "audit_chain_head",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("hash", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_chain_head")),
    )
    with op.batch_alter_table("audit_events", schema=None) as batch_op:
        batch_op.add_column(sa.Column("digest", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("seq", sa.BigInteger(), nullable=True))
        batch_op.alter_column("prev_hash", existing_type=sa.String(length=64), nullable=True)
        batch_op.alter_column("hash", existing_type=sa.String(length=64), nullable=True)
        batch_op.create_index(batch_op.f("ix_audit_events_seq"), ["seq"], unique=True)
    # The rows so far were chained in id order.
    op.execute(
        "UPDATE audit_events SET seq = numbered.n FROM "
        "(SELECT id, row_number() OVER (ORDER BY id) AS n FROM audit_events) AS numbered "
        "WHERE audit_events.id = numbered.id"
    )
    op.execute(
        "INSERT INTO audit_chain_head (id, seq, hash) SELECT 1, coalesce(max(seq), 0), "
        f"coalesce((SELECT hash FROM audit_events ORDER BY seq DESC LIMIT 1), '{GENESIS_HASH}') FROM audit_events"
    )
    if postgres:
        op.execute(POSTGRES_CHAINING)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER audit_events_chain_at_commit ON audit_events")
        op.execute("DROP FUNCTION audit_events_chain_at_commit()")
    with op.batch_alter_table("audit_events", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_audit_events_seq"))
        batch_op.drop_column("seq")
        batch_op.drop_column("digest")
        batch_op.alter_column("prev_hash", existing_type=sa.String(length=64), nullable=False)
        batch_op.alter_column("hash", existing_type=sa.String(length=64), nullable=False)
    # Entries chained after the upgrade cannot be verified by the old rule; they stay readable.
    op.drop_table("audit_chain_head")
