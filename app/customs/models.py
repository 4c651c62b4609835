"""Customs receipts (CEB622 回执) exactly as they arrived, and what became of each."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column

from app.common import clock
from app.db import Base, BigIntPK, enum_type


class ReceiptOutcome(enum.StrEnum):
    APPLIED = "applied"
    DUPLICATE = "duplicate"
    STALE = "stale"
    UNKNOWN_DECLARATION = "unknown_declaration"


BACKLOG_SQL = "outcome = 'unknown_declaration' AND resolved_at IS NULL"


class ReceiptFormat(enum.StrEnum):
    JSON = "json"
    XML = "xml"


class Receipt(Base):
    __tablename__ = "customs_receipts"
    __table_args__ = (
        # The admin's review queue: receipts that matched no declaration.
        Index("ix_customs_receipts_outcome_id", "outcome", "id"),
        # Of those, the ones nobody has dealt with yet (the console's backlog and its count): only they, not every
        # unknown receipt ever resolved (migration 0026).
        Index("ix_customs_receipts_backlog", "id", sqlite_where=text(BACKLOG_SQL), postgresql_where=text(BACKLOG_SQL)),
    )

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    # Same declaration, code, time and message: the same receipt, however often it arrives.
    fingerprint: Mapped[str] = mapped_column(String(64), unique=True)
    declaration_id: Mapped[int | None] = mapped_column(ForeignKey("declarations.id"), index=True)
    guid: Mapped[str | None] = mapped_column(String(36))
    cop_no: Mapped[str | None] = mapped_column(String(20))
    invt_no: Mapped[str | None] = mapped_column(String(18))
    status_code: Mapped[int]
    return_time: Mapped[datetime]
    return_info: Mapped[str | None] = mapped_column(String(1000))
    format: Mapped[ReceiptFormat] = mapped_column(enum_type(ReceiptFormat))
    raw_body: Mapped[str] = mapped_column(Text)
    outcome: Mapped[ReceiptOutcome] = mapped_column(enum_type(ReceiptOutcome))
    received_at: Mapped[datetime] = mapped_column(default=clock.utcnow)
    received_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    resolved_at: Mapped[datetime | None]
