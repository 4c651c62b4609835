"""The append-only audit trail: every entry chained to the one before it by a hash, in commit order.

How the chain is kept without one lock held across each writer's transaction:

* The application computes `digest`, SHA-256 over the entry's own content (canonical JSON), when it records it,
  and INSERTs the row without a place in the chain: no lock, no read of the tail, no extra round trip.
* On PostgreSQL a deferred constraint trigger (migration 0013) gives the row its place inside COMMIT: it locks
  the single `audit_chain_head` row, takes the next `seq` and sets `prev_hash` to the head's hash and
  `hash = sha256(prev_hash || digest)`, then moves the head. The head's row lock is held only from there to the
  end of COMMIT, never across a round trip to the application, so writers queue for microseconds (the pattern
  migration 0011 uses to number notices). The head is updated inside the same transaction as the entry, so a
  rolled-back transaction leaves no gap, and the next committer's SELECT ... FOR UPDATE sees the committed head.
* On SQLite writers already take turns (BEGIN IMMEDIATE), so `app.audit.service` does the same in Python at once.

Verification walks the entries by `seq`: each must be the next number, link to the previous entry's hash, and
hash to what its content says. An edited entry fails its own hash; a re-hashed one breaks the next link; a
deleted one leaves a gap in `seq` (and a broken link); reordering `seq` breaks the links; deleting the newest
entries leaves the head pointing past the last one. Rows written before 0013 keep their original hash
(`legacy_hash`: prev_hash inside the hashed content) and got `seq` in id order.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from datetime import datetime
from typing import Any, ClassVar

from sqlalchemy import JSON, BigInteger, FetchedValue, ForeignKey, Index, Integer, String, text
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base, BigIntPK

GENESIS_HASH = "0" * 64


class AuditEvent(Base):
    __tablename__ = "audit_events"
    __table_args__ = (
        Index("ix_audit_events_target", "target_type", "target_id"),
        # What the chaining trigger looks for at COMMIT: the committing transaction's own entries (migration 0017).
        Index(
            "ix_audit_events_unchained", "id", sqlite_where=text("seq IS NULL"), postgresql_where=text("seq IS NULL")
        ),
    )
    # Not fetched with the INSERT's RETURNING, which runs before the chaining trigger: expired, read when used.
    __mapper_args__: ClassVar[dict[str, Any]] = {"eager_defaults": False}

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    occurred_at: Mapped[datetime]
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    # Kept as written at the time: a later rename must not rewrite history.
    actor_username: Mapped[str | None] = mapped_column(String(64))
    action: Mapped[str] = mapped_column(String(64), index=True)
    target_type: Mapped[str | None] = mapped_column(String(32))
    target_id: Mapped[str | None] = mapped_column(String(64))
    client_addr: Mapped[str | None] = mapped_column(String(45))
    details: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    # SHA-256 of the content alone; null on rows from before migration 0013.
    digest: Mapped[str | None] = mapped_column(String(64))
    # Place in the chain; set at COMMIT by the database on PostgreSQL (FetchedValue: reloaded when read).
    seq: Mapped[int | None] = mapped_column(
        BigInteger, unique=True, index=True, server_default=FetchedValue(), server_onupdate=FetchedValue()
    )
    prev_hash: Mapped[str | None] = mapped_column(
        String(64), server_default=FetchedValue(), server_onupdate=FetchedValue()
    )
    hash: Mapped[str | None] = mapped_column(String(64), server_default=FetchedValue(), server_onupdate=FetchedValue())

    def content(self) -> dict[str, Any]:
        return content_of({name: getattr(self, name) for name in CONTENT_FIELDS})

    def content_digest(self) -> str:
        """SHA-256 over the entry's own content, canonical JSON."""
        return digest_of(self.content())

    def content_hash(self) -> str:
        """The hash this row must carry given its content and its prev_hash."""
        if self.digest is None:
            return _sha256(_canonical({**self.content(), "prev_hash": self.prev_hash}))
        return link_hash(self.prev_hash or "", self.content_digest())


class AuditChainHead(Base):
    """The newest entry's place and hash: one row, the lock writers queue on inside COMMIT."""

    __tablename__ = "audit_chain_head"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    seq: Mapped[int] = mapped_column(BigInteger)
    hash: Mapped[str] = mapped_column(String(64))


# What an entry's digest covers: everything but its id and its place in the chain.
CONTENT_FIELDS = (
    "occurred_at",
    "actor_id",
    "actor_username",
    "action",
    "target_type",
    "target_id",
    "client_addr",
    "details",
)


def content_of(values: Mapping[str, Any]) -> dict[str, Any]:
    """An entry's content as its digest covers it, from its column values (an entity's or a row's)."""
    content = {name: values[name] for name in CONTENT_FIELDS}
    content["occurred_at"] = content["occurred_at"].isoformat(timespec="microseconds")
    return content


def digest_of(content: dict[str, Any]) -> str:
    """SHA-256 over an entry's content (`content_of`), canonical JSON."""
    return _sha256(_canonical(content))


def link_hash(prev_hash: str, digest: str) -> str:
    """sha256(prev_hash || digest) over the hex strings; the trigger of migration 0013 computes the same."""
    return _sha256(prev_hash + digest)


def _canonical(content: dict[str, Any]) -> str:
    return json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def _sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()
