"""Notices to users: one row per recipient, written in the same transaction as the decision."""

from __future__ import annotations

import enum
import uuid
from datetime import datetime, time
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    BigInteger,
    FetchedValue,
    ForeignKey,
    Index,
    LargeBinary,
    String,
    Time,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

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
    GATE_HELD = "gate.held"
    # Export (app/exports): one per decision on a list's parcels.
    EXPORT_DIVERTED = "export.diverted"
    EXPORT_RECHECKED = "export.rechecked"
    EXPORT_LEFT_ZONE = "export.left_zone"
    EXPORT_DEPARTED = "export.departed"
    # Customs asks for more on a list (app/attachments/questions.py).
    QUESTION_ASKED = "question.asked"
    # To the customs officers on duty (app/notices/officers.py): what needs one of them now.
    OFFICER_RISK_WARNING = "officer.risk_warning"
    OFFICER_PARCEL_DIVERTED = "officer.parcel_diverted"
    OFFICER_VEHICLE_HELD = "officer.vehicle_held"


class NoticePriority(enum.StrEnum):
    NORMAL = "normal"
    # Somebody must act now (an inspection to book or attend): pushed again if unacknowledged.
    HIGH = "high"


class Notice(Base):
    __tablename__ = "notices"
    __table_args__ = (
        # The same source event (one customs receipt, one booking) notifies a person once.
        UniqueConstraint("recipient_id", "source_key"),
        Index("ix_notices_recipient_id_seq", "recipient_id", "seq"),
        # The dispatcher's reminder sweep looks only at urgent notices nobody has acknowledged yet.
        Index(
            "ix_notices_unacknowledged_urgent",
            "created_at",
            sqlite_where=text("priority = 'high' AND acknowledged_at IS NULL"),
            postgresql_where=text("priority = 'high' AND acknowledged_at IS NULL"),
        ),
        # The home screen's counts: a person's unread notices (and, as reading acknowledges, their unacknowledged
        # ones among them), however many they have read.
        Index(
            "ix_notices_unread",
            "recipient_id",
            "acknowledged_at",
            sqlite_where=text("read_at IS NULL"),
            postgresql_where=text("read_at IS NULL"),
        ),
        # What the numbering trigger looks for at COMMIT: the committing transaction's own notices (migration 0017).
        Index("ix_notices_unnumbered", "id", sqlite_where=text("seq IS NULL"), postgresql_where=text("seq IS NULL")),
        # SQLite would otherwise reuse the highest id after a purge, and a reused seq is a lost notice.
        {"sqlite_autoincrement": True},
    )
    # seq is written by the database after the INSERT (below): read it back when asked, not from the INSERT.
    __mapper_args__: ClassVar[dict[str, Any]] = {"eager_defaults": False}

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    # What a client catches up by ("everything after the last seq I saw"), so seq order must be commit order: a
    # number handed out at INSERT could commit after a client had caught up past it, and that notice would never
    # be seen. The database numbers each notice as its transaction commits (migration 0011): on PostgreSQL a
    # deferred trigger under a lock held only inside COMMIT, never across a round trip to the application; on
    # SQLite, whose writers take turns, a trigger copies the id. NULL only until the commit.
    seq: Mapped[int | None] = mapped_column(BigInteger, index=True, unique=True, server_default=FetchedValue())
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
    # When a push provider first accepted a push of it (the app may still be asleep).
    first_sent_at: Mapped[datetime | None]
    acknowledged_at: Mapped[datetime | None]
    read_at: Mapped[datetime | None]
    # How many reminder steps (push again, push again, SMS) the dispatcher has taken for it.
    reminders_sent: Mapped[int] = mapped_column(default=0, server_default="0")


class NoticePurge(Base):
    """Each retention purge, so a cursor from before it is told to reload instead of silently skipping."""

    __tablename__ = "notice_purges"

    id: Mapped[int] = mapped_column(primary_key=True)
    purged_through_seq: Mapped[int] = mapped_column(BigInteger)
    purged_count: Mapped[int]
    purged_at: Mapped[datetime] = mapped_column(default=clock.utcnow)


class DeliveryChannel(enum.StrEnum):
    PUSH = "push"
    SMS = "sms"


class DeliveryPurpose(enum.StrEnum):
    NOTICE = "notice"
    REMINDER = "reminder"
    # Read on another device: take it out of this phone's notification tray.
    CLEAR = "clear"


class DeliveryState(enum.StrEnum):
    PENDING = "pending"
    SENT = "sent"
    # The app acknowledged the notice before the push went out: no need to wake the phone.
    SKIPPED = "skipped"
    INVALID_TOKEN = "invalid_token"
    FAILED = "failed"


class Delivery(Base):
    """One push to one device (or one SMS): the outbox row, written with the notice it carries."""

    __tablename__ = "notice_deliveries"
    __table_args__ = (
        # What the dispatcher claims: pending rows whose time has come.
        Index(
            "ix_notice_deliveries_due",
            "next_attempt_at",
            sqlite_where=text("state = 'pending'"),
            postgresql_where=text("state = 'pending'"),
        ),
    )

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    notice_pk: Mapped[int] = mapped_column(ForeignKey("notices.id", ondelete="CASCADE"), index=True)
    # Set when queued with a notice not yet inserted: the unit of work writes the notices first, then these rows
    # with their ids, each as one batched INSERT (no flush per notice).
    notice: Mapped[Notice] = relationship(lazy="raise")
    channel: Mapped[DeliveryChannel] = mapped_column(enum_type(DeliveryChannel))
    purpose: Mapped[DeliveryPurpose] = mapped_column(enum_type(DeliveryPurpose))
    device_id: Mapped[int | None] = mapped_column(ForeignKey("devices.id"), index=True)
    state: Mapped[DeliveryState] = mapped_column(enum_type(DeliveryState), default=DeliveryState.PENDING)
    attempts: Mapped[int] = mapped_column(default=0)
    # Also the claim: a dispatcher moves it a lease ahead before sending, so a dispatcher that
    # dies mid-send leaves the row due again once the lease runs out.
    next_attempt_at: Mapped[datetime] = mapped_column(default=clock.utcnow)
    last_error: Mapped[str | None] = mapped_column(String(300))
    provider_message_id: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(default=clock.utcnow)
    sent_at: Mapped[datetime | None]


class StreamTicket(Base):
    """A short-lived, single-use credential for the event stream (EventSource cannot send headers)."""

    __tablename__ = "stream_tickets"

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    # SHA-256 of the ticket; the ticket itself is shown once.
    ticket_hash: Mapped[bytes] = mapped_column(LargeBinary(32), unique=True)
    auth_session_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("auth_sessions.id", ondelete="CASCADE"))
    expires_at: Mapped[datetime]
    used_at: Mapped[datetime | None]


DEFAULT_TIME_ZONE = "Asia/Shanghai"


class NotificationSettings(Base):
    """What a user wants pushed, and when not: quiet hours in their time zone, kinds switched off.

    A user without a row has the defaults: everything pushed at any hour. Settings govern pushes only; every
    notice is still stored, streamed and caught up.
    """

    __tablename__ = "notification_settings"

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), primary_key=True)
    time_zone: Mapped[str] = mapped_column(String(64), default=DEFAULT_TIME_ZONE)
    # Local times; both set or both empty. A start after the end spans midnight (22:00-07:00).
    quiet_start: Mapped[time | None] = mapped_column(Time)
    quiet_end: Mapped[time | None] = mapped_column(Time)
    # NoticeKind values never pushed to this user.
    muted_kinds: Mapped[list[str]] = mapped_column(JSON, default=list)
    # An officer's customs office (关区代码): with no roster yet, what "on duty for this site" means.
    customs_code: Mapped[str | None] = mapped_column(String(4))
    updated_at: Mapped[datetime] = mapped_column(default=clock.utcnow, onupdate=clock.utcnow)
