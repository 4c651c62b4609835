"""Notices are numbered as their transaction commits (seq), not at INSERT: on PostgreSQL by a deferred trigger
whose lock is held only inside COMMIT; deliveries name the notice row by its primary key (notice_pk).

Until now the application took a lock from the first notice INSERT to COMMIT, across round trips to the
application: under gevent every round trip also waits for the worker's other requests, so at the gates'
rates one transaction's wait became everyone's (a lock convoy).

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-01 19:10:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The lock key the application used before; any constant works while every writer uses the same one.
SEQ_LOCK_KEY = 0x4E07_1CE5

POSTGRES_NUMBERING = f"""
CREATE SEQUENCE notices_seq_seq AS BIGINT OWNED BY notices.seq;
SELECT setval('notices_seq_seq', (SELECT coalesce(max(id), 0) + 1 FROM notices), false);
CREATE FUNCTION notices_number_at_commit() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    -- Deferred to COMMIT, and the lock is released only after the commit is visible: the next
    -- committer's numbers are higher than every number a reader can already see.
    PERFORM pg_advisory_xact_lock({SEQ_LOCK_KEY});
    UPDATE notices SET seq = nextval('notices_seq_seq') WHERE id = NEW.id;
    RETURN NULL;
END $$;
CREATE CONSTRAINT TRIGGER notices_number_at_commit AFTER INSERT ON notices
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION notices_number_at_commit();
"""

# SQLite's writers take turns (BEGIN IMMEDIATE), so the id is already in commit order.
SQLITE_NUMBERING = """
CREATE TRIGGER notices_number_at_commit AFTER INSERT ON notices
BEGIN
    UPDATE notices SET seq = NEW.id WHERE id = NEW.id;
END
"""


def upgrade() -> None:
    postgres = op.get_bind().dialect.name == "postgresql"
    with op.batch_alter_table("notices", schema=None) as batch_op:
        batch_op.add_column(sa.Column("seq", sa.BigInteger(), nullable=True))
    op.execute("UPDATE notices SET seq = id")
    with op.batch_alter_table("notices", schema=None) as batch_op:
        batch_op.drop_index("ix_notices_recipient_id_id")
        batch_op.create_index("ix_notices_recipient_id_seq", ["recipient_id", "seq"], unique=False)
        batch_op.create_index(batch_op.f("ix_notices_seq"), ["seq"], unique=True)
    # None of these rebuild SQLite's table, which would drop its trigger and its AUTOINCREMENT.
    if postgres:
        op.execute(POSTGRES_NUMBERING)
    else:
        op.execute(SQLITE_NUMBERING)
    op.drop_index(op.f("ix_notice_deliveries_notice_seq"), table_name="notice_deliveries")
    with op.batch_alter_table("notice_deliveries", schema=None) as batch_op:
        batch_op.alter_column("notice_seq", new_column_name="notice_pk")
    op.create_index(op.f("ix_notice_deliveries_notice_pk"), "notice_deliveries", ["notice_pk"], unique=False)
    if postgres:
        op.execute(
            "ALTER TABLE notice_deliveries RENAME CONSTRAINT fk_notice_deliveries_notice_seq_notices "
            "TO fk_notice_deliveries_notice_pk_notices"
        )


def downgrade() -> None:
    postgres = op.get_bind().dialect.name == "postgresql"
    if postgres:
        op.execute(
            "ALTER TABLE notice_deliveries RENAME CONSTRAINT fk_notice_deliveries_notice_pk_notices "
            "TO fk_notice_deliveries_notice_seq_notices"
        )
    op.drop_index(op.f("ix_notice_deliveries_notice_pk"), table_name="notice_deliveries")
    with op.batch_alter_table("notice_deliveries", schema=None) as batch_op:
        batch_op.alter_column("notice_pk", new_column_name="notice_seq")
    op.create_index(op.f("ix_notice_deliveries_notice_seq"), "notice_deliveries", ["notice_seq"], unique=False)
    op.execute("DROP TRIGGER notices_number_at_commit" + (" ON notices" if postgres else ""))
    if postgres:
        op.execute("DROP FUNCTION notices_number_at_commit()")
    with op.batch_alter_table("notices", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_notices_seq"))
        batch_op.drop_index("ix_notices_recipient_id_seq")
        batch_op.create_index("ix_notices_recipient_id_id", ["recipient_id", "id"], unique=False)
        batch_op.drop_column("seq")
