"""Answers to writes sent with an Idempotency-Key, kept so a retry gets the first answer again."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, LargeBinary, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from app.common import clock
from app.db import Base, BigIntPK


class IdempotentRequest(Base):
    __tablename__ = "idempotent_requests"
    __table_args__ = (UniqueConstraint("user_id", "key"),)

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    key: Mapped[str] = mapped_column(String(100))
    # SHA-256 of method, path and body: the same key with another request is a client bug.
    request_hash: Mapped[str] = mapped_column(String(64))
    status_code: Mapped[int]
    # The answer as sent: [name, value] pairs (Content-Type, Location, Content-Disposition...) and the raw bytes,
    # so CSV and binary answers replay byte for byte. Answers stored before 0015 have no headers: they were JSON.
    response_headers: Mapped[list[Any]] = mapped_column(JSON, default=list, server_default="[]")
    response_body: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(default=clock.utcnow, index=True)
