"""Audit entries are chained and notices numbered once per committing transaction, not once per row.

Both deferred triggers (0011, 0013) did their work row by row inside COMMIT, under a lock every writer shares (the
notices' advisory lock, the audit chain head's row lock). A customs document releasing 100 lists writes 400 audit
entries and 100 notices: 400 updates of the one head row inside one transaction, each following the chain of row
versions the ones before it left, all while every other committer waited. Now the first row's trigger takes the
lock once and does the whole transaction's rows in one pass (found by the partial indexes on the rows not done
yet: only the committing transaction's own are visible); the other rows' triggers find theirs done. The order is
the same (id order within a transaction, transactions in commit order) and so is what `flask audit verify` checks.
Both triggers now take the notices' lock first, so a transaction that wrote notices before its audit entries and
one that wrote them the other way round cannot deadlock inside COMMIT.

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-07 02:40:00
"""

from collections.abc import Sequence

from alembic import op
from sqlalchemy import text

revision: str = "0017"
down_revision: str | None = "0016"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SEQ_LOCK_KEY = 0x4E07_1CE5  # as in 0011

PER_TRANSACTION = f"""
CREATE OR REPLACE FUNCTION notices_number_at_commit() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    last_id BIGINT;
BEGIN
    IF NEW.id <= nullif(current_setting('smartpark.notices_numbered_upto', true), '')::bigint THEN
        RETURN NULL;  -- numbered with the rest of its transaction's notices
    END IF;
    -- Deferred to COMMIT, and the lock is released only after the commit is visible: the next
    -- committer's numbers are higher than every number a reader can already see.
    PERFORM pg_advisory_xact_lock({SEQ_LOCK_KEY});
    WITH numbered AS (
        UPDATE notices SET seq = unnumbered.seq
        FROM (SELECT id, nextval('notices_seq_seq') AS seq
              FROM (SELECT id FROM notices WHERE seq IS NULL ORDER BY id) AS ordered) AS unnumbered
        WHERE notices.id = unnumbered.id
        RETURNING notices.id
    )
    SELECT max(id) INTO last_id FROM numbered;
    PERFORM set_config('smartpark.notices_numbered_upto', last_id::text, true);
    RETURN NULL;
END $$;

CREATE OR REPLACE FUNCTION audit_events_chain_at_commit() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    head_seq BIGINT;
    head_hash TEXT;
    entry RECORD;
    ids BIGINT[] := '{{}}';
    seqs BIGINT[] := '{{}}';
    prevs TEXT[] := '{{}}';
    hashes TEXT[] := '{{}}';
BEGIN
    IF NEW.id <= nullif(current_setting('smartpark.audit_chained_upto', true), '')::bigint THEN
        RETURN NULL;  -- chained with the rest of its transaction's entries
    END IF;
    -- Deferred to COMMIT, and the head's row lock is released only once this commit is visible: the next
    -- committer reads this head, so the entries line up in commit order with no gaps. The notices' lock first,
    -- whichever trigger fires first: two transactions taking the two locks in opposite orders would deadlock.
    PERFORM pg_advisory_xact_lock({SEQ_LOCK_KEY});
    SELECT seq, hash INTO head_seq, head_hash FROM audit_chain_head WHERE id = 1 FOR UPDATE;
    FOR entry IN SELECT id, digest FROM audit_events WHERE seq IS NULL ORDER BY id LOOP
        ids := ids || entry.id;
        prevs := prevs || head_hash;
        head_seq := head_seq + 1;
        head_hash := encode(sha256(convert_to(head_hash || entry.digest, 'UTF8')), 'hex');
        seqs := seqs || head_seq;
        hashes := hashes || head_hash;
    END LOOP;
    UPDATE audit_events SET seq = chained.seq, prev_hash = chained.prev_hash, hash = chained.hash
    FROM unnest(ids, seqs, prevs, hashes) AS chained(id, seq, prev_hash, hash)
    WHERE audit_events.id = chained.id;
    UPDATE audit_chain_head SET seq = head_seq, hash = head_hash WHERE id = 1;
    PERFORM set_config('smartpark.audit_chained_upto', ids[array_upper(ids, 1)]::text, true);
    RETURN NULL;
END $$;
"""

PER_ROW = f"""
CREATE OR REPLACE FUNCTION notices_number_at_commit() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_advisory_xact_lock({SEQ_LOCK_KEY});
    UPDATE notices SET seq = nextval('notices_seq_seq') WHERE id = NEW.id;
    RETURN NULL;
END $$;

CREATE OR REPLACE FUNCTION audit_events_chain_at_commit() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    head_seq BIGINT;
    head_hash TEXT;
    new_hash TEXT;
BEGIN
    SELECT seq, hash INTO head_seq, head_hash FROM audit_chain_head WHERE id = 1 FOR UPDATE;
    new_hash := encode(sha256(convert_to(head_hash || NEW.digest, 'UTF8')), 'hex');
    UPDATE audit_chain_head SET seq = head_seq + 1, hash = new_hash WHERE id = 1;
    UPDATE audit_events SET seq = head_seq + 1, prev_hash = head_hash, hash = new_hash WHERE id = NEW.id;
    RETURN NULL;
END $$;
"""


def upgrade() -> None:
    # What the triggers look for; empty but for the transactions committing right now (on SQLite always empty:
    # its writers take turns and number at INSERT).
    op.create_index(
        "ix_notices_unnumbered",
        "notices",
        ["id"],
        sqlite_where=text("seq IS NULL"),
        postgresql_where=text("seq IS NULL"),
    )
    op.create_index(
        "ix_audit_events_unchained",
        "audit_events",
        ["id"],
        sqlite_where=text("seq IS NULL"),
        postgresql_where=text("seq IS NULL"),
    )
    if op.get_bind().dialect.name == "postgresql":
        op.execute(PER_TRANSACTION)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(PER_ROW)
    op.drop_index("ix_audit_events_unchained", table_name="audit_events")
    op.drop_index("ix_notices_unnumbered", table_name="notices")
