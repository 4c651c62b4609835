"""Appending to and checking the hash-chained audit trail.

Every business state change records one entry here, in the transaction that makes the change, by an explicit
call from the service that makes it. Entries take their place in the chain as their transaction commits (see
`app.audit.models`), so recording one costs an INSERT and no lock.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.orm import Session

from app.audit.models import CONTENT_FIELDS, GENESIS_HASH, AuditChainHead, AuditEvent, content_of, digest_of, link_hash
from app.common import clock
from app.common.pagination import Page, paginate, where_given
from app.users.models import User

# How many entries one verify call checks at most: about a second of hashing, so no request runs for minutes.
VERIFY_MAX_LIMIT = 100_000
VERIFY_DEFAULT_LIMIT = 10_000


@dataclass(frozen=True)
class Actor:
    """Who did it and from where: what an audit row needs to know about the caller.

    `user=None` is the system itself (a release activating codes, a weighbridge deciding on its own).
    """

    user: User | None
    client_addr: str | None


SYSTEM = Actor(user=None, client_addr=None)


def by(user: User | None) -> Actor:
    """The actor for a service that knows the user but not their address."""
    return Actor(user=user, client_addr=None) if user is not None else SYSTEM


# An entry not yet on the chain: its columns by name, the digest of its content among them.
AuditRow = dict[str, Any]


def prepare(
    *,
    action: str,
    actor: Actor,
    target: object | None = None,
    target_type: str | None = None,
    target_id: object | None = None,
    details: dict[str, Any] | None = None,
) -> AuditRow:
    """An entry not yet on the chain, with its content digest, as a plain row: give it to `record_all`.

    A row, not an entity: a customs document prepares about two entries a receipt, and building each as an
    AuditEvent (its instrumented attributes set and read back for the digest) was a tenth of the document's CPU.
    """
    row: AuditRow = {
        "occurred_at": clock.utcnow(),
        "actor_id": actor.user.id if actor.user else None,
        "actor_username": actor.user.username if actor.user else None,
        "action": action,
        "target_type": _target_type(target) if target is not None else target_type,
        "target_id": str(target.id if target is not None else target_id)  # type: ignore[attr-defined]
        if target is not None or target_id is not None
        else None,
        "client_addr": actor.client_addr,
        # As the JSON column gives it back: the digest must match what verify reads later.
        "details": json.loads(json.dumps(details or {}, default=str)),
        "seq": None,
        "prev_hash": None,
        "hash": None,
    }
    row["digest"] = digest_of(content_of(row))
    return row


def record(
    session: Session,
    *,
    action: str,
    actor: Actor,
    target: object | None = None,
    target_type: str | None = None,
    target_id: object | None = None,
    details: dict[str, Any] | None = None,
    flush: bool = True,
) -> AuditEvent:
    """Append one event to the chain, inside the caller's transaction.

    `target` is a model (its table and id name the subject), or give `target_type` and `target_id`. Hot paths
    pass `flush=False`: the row then goes out with the transaction's own flush.
    """
    row = prepare(
        action=action, actor=actor, target=target, target_type=target_type, target_id=target_id, details=details
    )
    if session.get_bind().dialect.name != "postgresql":
        _chain_now(session, [row])
    else:
        # Left out, as the database sets them at COMMIT: the entity reads them back when asked (FetchedValue).
        for name in ("seq", "prev_hash", "hash"):
            del row[name]
    event = AuditEvent(**row)
    session.add(event)
    if flush:
        session.flush()
    return event


def record_all(session: Session, rows: Sequence[AuditRow]) -> None:
    """Append prepared entries to the chain in one INSERT, for a caller that needs none of their ids back.

    The unit of work sends these rows one INSERT each on PostgreSQL (it needs each new id back): a customs
    document of 100 receipts made 50 more round trips, a quarter more statements than the document without them.
    """
    if not rows:
        return
    if session.get_bind().dialect.name != "postgresql":
        _chain_now(session, rows)
    # The table's INSERT, not the entity's: the ORM's bulk path asked for the new id back (RETURNING) and cost a single
    # row twice the CPU of this one (an X-ray line divert's entry). The NULLs the chain's columns get on PostgreSQL
    # are what its deferred trigger looks for (migration 0017), as when they were left out.
    session.execute(insert(AuditEvent.__table__), list(rows))


# Every column `record_all` sends, in order (a statement of its own, app/exports/divert_writes.py, names them).
ENTRY_COLUMNS = (*CONTENT_FIELDS, "digest", "seq", "prev_hash", "hash")


def entry_rows(rows: Sequence[AuditRow]) -> list[dict[str, Any]]:
    """`record_all`'s rows: every column the INSERT sends (on PostgreSQL the chain's are NULL until the commit)."""
    return [{name: row[name] for name in ENTRY_COLUMNS} for row in rows]


def _chain_now(session: Session, rows: Sequence[AuditRow]) -> None:
    # SQLite's writers take turns (BEGIN IMMEDIATE), so the head read here is still the head at COMMIT: the entries
    # are linked here, in order, with one read and one write of the head.
    head = session.execute(select(AuditChainHead.seq, AuditChainHead.hash).where(AuditChainHead.id == 1)).first()
    seq, prev_hash = (head.seq, head.hash) if head is not None else (0, GENESIS_HASH)
    for row in rows:
        seq += 1
        row["seq"], row["prev_hash"] = seq, prev_hash
        row["hash"] = prev_hash = link_hash(prev_hash, row["digest"] or "")
    values = {"seq": seq, "hash": prev_hash}
    if head is None:
        session.execute(insert(AuditChainHead).values(id=1, **values))
    else:
        session.execute(update(AuditChainHead).where(AuditChainHead.id == 1).values(**values))


def changes(before: dict[str, Any], after: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The fields that differ between two snapshots, as audit details: {field: {"from", "to"}}."""
    return {key: {"from": before[key], "to": after[key]} for key in after if before[key] != after[key]}


def _target_type(target: object) -> str:
    return getattr(type(target), "__tablename__", type(target).__name__.lower())


# Verifying


@dataclass(frozen=True)
class BrokenEntry:
    """Where the chain stops holding: the entry (or the place of one) and why."""

    seq: int | None
    reason: str
    event: AuditEvent | None = None

    @property
    def id(self) -> int | None:
        return self.event.id if self.event is not None else None


# Why an entry fails, in the words the API answers with.
REASONS = {
    "altered": "its content no longer matches its hash",
    "link": "it does not link to the previous entry's hash (an entry before it was altered, removed or reordered)",
    "gap": "the entry before it in the chain is missing",
    "missing": "the entry named by after_seq is missing",
    "truncated": "the newest entries are missing: the chain's head names a later entry",
    "unchained": "it has no place in the chain",
}


@dataclass(frozen=True)
class Verification:
    ok: bool
    checked: int
    after_seq: int
    last_seq: int | None
    next_after_seq: int | None
    head_seq: int
    first_broken: BrokenEntry | None


def verify(
    session: Session, *, after_seq: int = 0, limit: int = VERIFY_DEFAULT_LIMIT, batch_size: int = 1000
) -> Verification:
    """Check up to `limit` entries after `after_seq` in chain order; page on with next_after_seq until it is null."""
    # The head first: every entry up to it committed before, so all of them are visible to the reads below.
    head = session.execute(select(AuditChainHead.seq, AuditChainHead.hash).where(AuditChainHead.id == 1)).first()
    head_seq, head_hash = (head.seq, head.hash) if head is not None else (0, GENESIS_HASH)

    def result(checked: int, last_seq: int | None, broken: BrokenEntry | None, more: bool) -> Verification:
        next_after = last_seq if more and broken is None else None
        return Verification(broken is None, checked, after_seq, last_seq, next_after, head_seq, broken)

    if after_seq > head_seq:
        return result(0, None, None, False)  # nothing was committed past the head when it was read
    expected_prev = GENESIS_HASH
    if after_seq > 0:
        anchor = session.scalar(select(AuditEvent.hash).where(AuditEvent.seq == after_seq))
        if anchor is None:
            return result(0, None, BrokenEntry(after_seq, "missing"), False)
        expected_prev = anchor
    expected_seq, checked = after_seq + 1, 0
    events = session.scalars(
        select(AuditEvent)
        .where(AuditEvent.seq > after_seq, AuditEvent.seq <= head_seq)
        .order_by(AuditEvent.seq)
        .limit(limit)
        .execution_options(yield_per=batch_size)
    )
    for event in events:
        reason = None
        if event.seq != expected_seq:
            reason = "gap"
        elif event.prev_hash != expected_prev:
            reason = "link"
        elif event.hash != event.content_hash():
            reason = "altered"
        if reason is not None:
            events.close()
            return result(checked, expected_seq - 1 if checked else None, BrokenEntry(event.seq, reason, event), False)
        checked += 1
        expected_seq, expected_prev = expected_seq + 1, event.hash or ""
    last_seq = expected_seq - 1 if checked else None
    if checked == limit and expected_seq <= head_seq:
        return result(checked, last_seq, None, True)
    # The end of the chain: it must reach the head, and every entry must have a place in it.
    if expected_seq - 1 != head_seq or (head_seq > 0 and expected_prev != head_hash):
        return result(checked, last_seq, BrokenEntry(head_seq, "truncated"), False)
    unchained = session.scalar(select(AuditEvent).where(AuditEvent.seq.is_(None)).order_by(AuditEvent.id).limit(1))
    if unchained is not None:
        return result(checked, last_seq, BrokenEntry(None, "unchained", unchained), False)
    return result(checked, last_seq, None, False)


@dataclass(frozen=True)
class ChainCheck:
    """The whole chain checked: how many entries held, the head's place, and the first break if any."""

    checked: int
    head_seq: int
    first_broken: BrokenEntry | None


def check_chain(session: Session, *, batch_size: int = 1000) -> ChainCheck:
    """Verify the whole chain page by page, stopping at the first break."""
    after_seq: int | None = 0
    checked = head_seq = 0
    while after_seq is not None:
        page = verify(session, after_seq=after_seq, limit=VERIFY_MAX_LIMIT, batch_size=batch_size)
        checked, head_seq = checked + page.checked, page.head_seq
        if page.first_broken is not None:
            return ChainCheck(checked, head_seq, page.first_broken)
        session.expunge_all()  # millions of rows: keep only the current page in memory
        after_seq = page.next_after_seq
    return ChainCheck(checked, head_seq, None)


def first_broken_event(session: Session, *, batch_size: int = 1000) -> BrokenEntry | None:
    """The first place where the whole chain stops holding; None when intact."""
    return check_chain(session, batch_size=batch_size).first_broken


def list_events(
    session: Session,
    *,
    action: str | None = None,
    actor_id: int | None = None,
    target_type: str | None = None,
    target_id: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    cursor: int | None = None,
    limit: int,
) -> Page[AuditEvent]:
    """Audit events, newest first."""
    statement = where_given(
        select(AuditEvent),
        (AuditEvent.action, action),
        (AuditEvent.actor_id, actor_id),
        (AuditEvent.target_type, target_type),
        (AuditEvent.target_id, target_id),
    )
    if since:
        statement = statement.where(AuditEvent.occurred_at >= since)
    if until:
        statement = statement.where(AuditEvent.occurred_at < until)
    return paginate(session, statement, key=AuditEvent.id, cursor=cursor, limit=limit)
