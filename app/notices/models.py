"""Notices to users: one row per recipient, written in the same transaction as the decision."""

from __future__ import annotations

import enum
import uuid
from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from app.common import clock
from app.db import Base, BigIntPK, enum_type


class NoticeKind(enum.StrEnum):
    DECLARATION_ACCEPTED = "declaration.accepted"
    DECLARATION_REJECTED = "declaration.rejected"
    INSPECTION_ISSUED = "inspection.issued"
    INSPECTION_SCHEDULED = "inspection.scheduled"
    INSPECTION_RESULT = "inspection.result"
    DECLARATION_RELEASED = "declaration.released"
    DECLARATION_DETAINED = "declaration.detained"
    GATE_PASSED = "gate.passed"
    GATE_REFERRED = "gate.referred"


class NoticePriority(enum.StrEnum):
    NORMAL = "normal"
    # Somebody must act now (an inspection to book or attend): pushed again if unacknowledged.
    HIGH = "high"


class Notice(Base):
    __tablename__ = "notices"
    __table_args__ = (
        # The same source event (one customs receipt, one booking) notifies a person once.
        UniqueConstraint("recipient_id", "source_key"),
        Index("ix_notices_recipient_id_id", "recipient_id", "id"),
        # SQLite would otherwise reuse the highest id after a purge, and a reused seq is a lost notice.
        {"sqlite_autoincrement": True},
    )

    # `seq` on the wire: what a client catches up by ("everything after the last seq I saw").
    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    notice_id: Mapped[uuid.UUID] = mapped_column(unique=True, default=uuid.uuid4)
    recipient_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    kind: Mapped[NoticeKind] = mapped_column(enum_type(NoticeKind))
    priority: Mapped[NoticePriority] = mapped_column(enum_type(NoticePriority), default=NoticePriority.NORMAL)
    source_key: Mapped[str] = mapped_column(String(120))
    title: Mapped[str] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(String(1000))
    link: Mapped[str | None] = mapped_column(String(200))
    declaration_id: Mapped[int | None] = mapped_column(ForeignKey("declarations.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(default=clock.utcnow)
    acknowledged_at: Mapped[datetime | None]
    read_at: Mapped[datetime | None]


class NoticePurge(Base):
    """Each retention purge, so a cursor from before it is told to reload instead of silently skipping."""

    __tablename__ = "notice_purges"

    id: Mapped[int] = mapped_column(primary_key=True)
    purged_through_seq: Mapped[int] = mapped_column(BigInteger)
    purged_count: Mapped[int]
    purged_at: Mapped[datetime] = mapped_column(default=clock.utcnow)
