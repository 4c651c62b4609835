"""Risk warnings (风险预警): one queue for customs officers, whatever raised them."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, String, text
from sqlalchemy.orm import Mapped, mapped_column

from app.common import clock
from app.db import Base, BigIntPK, enum_type


class WarningSource(enum.StrEnum):
    GATE = "gate"  # plate, container or weight mismatch at a gate
    VIDEO = "video"  # camera analytics
    TRACE = "trace"  # trace-code clone alarm
    INSPECTION = "inspection"  # repeated abnormal inspections of one enterprise
    OVERDUE_GATE = "overdue_gate"  # released goods that never passed a gate
    OFFICER = "officer"
    SEAL = "seal"  # a vehicle's seal found broken at a warehouse's seal check (验封)


class Severity(enum.StrEnum):
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"


SEVERITY_RANK = {Severity.LOW: 1, Severity.MEDIUM: 2, Severity.HIGH: 3}


class VideoEventType(enum.StrEnum):
    """What camera analytics report; each maps to a severity in the service."""

    FENCE_INTRUSION = "fence_intrusion"
    TAILGATING = "tailgating"  # a vehicle follows another through the barrier
    PLATE_OBSCURED = "plate_obscured"
    WRONG_WAY = "wrong_way"
    UNREGISTERED_VEHICLE = "unregistered_vehicle"
    LANE_VIOLATION = "lane_violation"
    LOITERING = "loitering"


class WarningStatus(enum.StrEnum):
    OPEN = "open"
    TAKEN = "taken"
    RESOLVED = "resolved"


class Resolution(enum.StrEnum):
    CONFIRMED = "confirmed"
    FALSE_ALARM = "false_alarm"
    NO_ACTION_NEEDED = "no_action_needed"


class RiskWarning(Base):
    __tablename__ = "risk_warnings"
    __table_args__ = (
        # Deduplication: while a warning about a subject is unresolved, repeats count on it.
        Index(
            "uq_risk_warnings_open_subject",
            "subject_key",
            unique=True,
            sqlite_where=text("status != 'resolved'"),
            postgresql_where=text("status != 'resolved'"),
        ),
        # The same lookup when the planner cannot match the partial index (a prepared generic plan).
        Index("ix_risk_warnings_subject_key", "subject_key"),
        # The officers' queue: by status (and severity), newest first.
        Index("ix_risk_warnings_status_id", "status", "id"),
        Index("ix_risk_warnings_severity_status_id", "severity", "status", "id"),
    )

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    source: Mapped[WarningSource] = mapped_column(enum_type(WarningSource))
    # What the warning is about, e.g. "vehicle:渝A12345" or "trace:<code>"; one open warning per key.
    subject_key: Mapped[str] = mapped_column(String(120))
    severity: Mapped[Severity] = mapped_column(enum_type(Severity))
    status: Mapped[WarningStatus] = mapped_column(enum_type(WarningStatus), default=WarningStatus.OPEN)
    title: Mapped[str] = mapped_column(String(200))
    details: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    occurrences: Mapped[int] = mapped_column(default=1)
    first_raised_at: Mapped[datetime] = mapped_column(default=clock.utcnow)
    last_raised_at: Mapped[datetime] = mapped_column(default=clock.utcnow)
    plate: Mapped[str | None] = mapped_column(String(10), index=True)
    declaration_id: Mapped[int | None] = mapped_column(ForeignKey("declarations.id"), index=True)
    enterprise_id: Mapped[int | None] = mapped_column(ForeignKey("enterprises.id"), index=True)
    gate_passage_id: Mapped[int | None] = mapped_column(ForeignKey("gate_passages.id"))
    assignee_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    taken_at: Mapped[datetime | None]
    resolution: Mapped[Resolution | None] = mapped_column(enum_type(Resolution))
    resolution_notes: Mapped[str | None] = mapped_column(String(2000))
    resolved_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    resolved_at: Mapped[datetime | None]
    inspection_task_id: Mapped[int | None] = mapped_column(ForeignKey("inspection_tasks.id"))
