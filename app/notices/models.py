"""Notices to users: one row per recipient, written in the same transaction as the event."""

from __future__ import annotations

import enum
import uuid
from datetime import datetime

from sqlalchemy import ForeignKey, Index, String
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


class Notice(Base):
    __tablename__ = "notices"
    __table_args__ = (Index("ix_notices_recipient_id_id", "recipient_id", "id"),)

    # The sequence a client catches up by: "everything after the last id I saw".
    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    notice_id: Mapped[uuid.UUID] = mapped_column(unique=True, default=uuid.uuid4)
    recipient_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    kind: Mapped[NoticeKind] = mapped_column(enum_type(NoticeKind))
    title: Mapped[str] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(String(1000))
    link: Mapped[str | None] = mapped_column(String(200))
    declaration_id: Mapped[int | None] = mapped_column(ForeignKey("declarations.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(default=clock.utcnow)
    read_at: Mapped[datetime | None]
