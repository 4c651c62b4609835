"""Inspection sites, their 7×24 appointment slots, inspection tasks (查验指令) and their photos."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, Index, String, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.common import clock
from app.db import Base, BigIntPK, enum_type
from app.declarations.models import Declaration


class TaskSource(enum.StrEnum):
    RECEIPT_500 = "receipt_500"  # CEB622 status 500
    SAS224 = "sas224"  # gate-pass inspection receipt
    RISK_ALERT = "risk_alert"
    MANUAL = "manual"  # an officer targets the goods
    LINE_DIVERT = "line_divert"  # the export X-ray line diverted a parcel for open-box recheck


class InspectionMethod(enum.StrEnum):
    MACHINE = "machine"  # on-line X-ray (上线查验)
    OPEN_BOX = "open_box"  # open-box re-inspection (开箱复验)
    SEAL_CHECK = "seal_check"
    DOCUMENT = "document"


class TaskStatus(enum.StrEnum):
    ISSUED = "issued"
    NOTIFIED = "notified"
    APPOINTED = "appointed"
    GOODS_READY = "goods_ready"
    IN_PROGRESS = "in_progress"
    RECHECK = "recheck"
    RESULT_NORMAL = "result_normal"
    # An abnormal result always comes with its disposal, so a task passes through this
    # status inside one request and rests in DISPOSED; result_at records the passage.
    RESULT_ABNORMAL = "result_abnormal"
    DISPOSED = "disposed"
    CLOSED = "closed"


class InspectionResult(enum.StrEnum):
    NORMAL = "normal"
    ABNORMAL = "abnormal"


class Disposal(enum.StrEnum):
    RELEASE = "release"
    AMEND = "amend"
    TAX = "tax"
    SHIP_BACK = "ship_back"
    DETAIN_TRANSFER = "detain_transfer"


class InspectionSite(Base):
    """A place where customs inspects goods (查验场地), run by one customs office."""

    __tablename__ = "inspection_sites"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(20), unique=True)
    name: Mapped[str] = mapped_column(String(100))
    customs_code: Mapped[str] = mapped_column(String(4), index=True)
    location: Mapped[str | None] = mapped_column(String(200))
    is_active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(default=clock.utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=clock.utcnow, onupdate=clock.utcnow)


class InspectionSlot(Base):
    """A bookable period at a site; `booked` only moves by conditional UPDATEs (see service)."""

    __tablename__ = "inspection_slots"
    __table_args__ = (
        # Also the index behind "a site's slots in a time window".
        UniqueConstraint("site_id", "starts_at"),
        CheckConstraint("booked >= 0 AND booked <= capacity", name="booked_within_capacity"),
        CheckConstraint("capacity > 0", name="capacity_positive"),
        CheckConstraint("ends_at > starts_at", name="ends_after_start"),
    )

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    site_id: Mapped[int] = mapped_column(ForeignKey("inspection_sites.id"))
    starts_at: Mapped[datetime]
    ends_at: Mapped[datetime]
    capacity: Mapped[int]
    booked: Mapped[int] = mapped_column(default=0)

    site: Mapped[InspectionSite] = relationship(lazy="joined")

    @property
    def remaining(self) -> int:
        return self.capacity - self.booked


class InspectionTask(Base):
    """One inspection instruction for one declaration, from issue to close (DOMAIN.md §3.2)."""

    __tablename__ = "inspection_tasks"
    __table_args__ = (
        # At most one open task per declaration: a repeated 500 receipt finds the open one.
        Index(
            "uq_inspection_tasks_open_declaration",
            "declaration_id",
            unique=True,
            sqlite_where=text("status != 'closed'"),
            postgresql_where=text("status != 'closed'"),
        ),
        # The officer's queue: one site's tasks by appointment time.
        Index("ix_inspection_tasks_site_appointment", "site_id", "appointment_at"),
        # The no-show sweep: appointed tasks whose time has passed.
        Index("ix_inspection_tasks_status_appointment", "status", "appointment_at"),
        # Today's queues at every site, counted for an officer's home from this index alone (migration 0027).
        Index(
            "ix_inspection_tasks_open_queue",
            "appointment_at",
            "site_id",
            "status",
            sqlite_where=text("status != 'closed'"),
            postgresql_where=text("status != 'closed'"),
        ),
        # A party's open tasks for the home screen, counted from these alone (migration 0024).
        *(
            Index(
                f"ix_inspection_tasks_open_{party}",
                f"{party}_enterprise_id",
                "status",
                "appointment_at",
                sqlite_where=text("status != 'closed'"),
                postgresql_where=text("status != 'closed'"),
            )
            for party in ("declaring", "warehouse")
        ),
    )

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    task_no: Mapped[str] = mapped_column(String(32), unique=True)
    declaration_id: Mapped[int] = mapped_column(ForeignKey("declarations.id"), index=True)
    # The declaration's parties, copied when the task is issued (a list never changes them): who may see a task is
    # then read off the task, not off a join with the tens of thousands of lists a large enterprise holds.
    declaring_enterprise_id: Mapped[int] = mapped_column(ForeignKey("enterprises.id"))
    warehouse_enterprise_id: Mapped[int] = mapped_column(ForeignKey("enterprises.id"))
    source: Mapped[TaskSource] = mapped_column(enum_type(TaskSource))
    method: Mapped[InspectionMethod] = mapped_column(enum_type(InspectionMethod))
    status: Mapped[TaskStatus] = mapped_column(enum_type(TaskStatus), default=TaskStatus.ISSUED)
    reason: Mapped[str | None] = mapped_column(String(500))
    receipt_id: Mapped[int | None] = mapped_column(ForeignKey("customs_receipts.id"))
    issued_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))

    site_id: Mapped[int | None] = mapped_column(ForeignKey("inspection_sites.id"))
    slot_id: Mapped[int | None] = mapped_column(ForeignKey("inspection_slots.id"), index=True)
    appointment_at: Mapped[datetime | None]
    booked_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    no_show_count: Mapped[int] = mapped_column(default=0)

    officer_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    result: Mapped[InspectionResult | None] = mapped_column(enum_type(InspectionResult))
    result_notes: Mapped[str | None] = mapped_column(String(2000))
    disposal: Mapped[Disposal | None] = mapped_column(enum_type(Disposal))

    issued_at: Mapped[datetime]
    notified_at: Mapped[datetime | None]
    appointed_at: Mapped[datetime | None]
    goods_ready_at: Mapped[datetime | None]
    started_at: Mapped[datetime | None]
    recheck_at: Mapped[datetime | None]
    result_at: Mapped[datetime | None]
    disposed_at: Mapped[datetime | None]
    closed_at: Mapped[datetime | None]
    updated_at: Mapped[datetime] = mapped_column(default=clock.utcnow, onupdate=clock.utcnow)

    declaration: Mapped[Declaration] = relationship()
    site: Mapped[InspectionSite | None] = relationship()
    slot: Mapped[InspectionSlot | None] = relationship()

    @property
    def is_open(self) -> bool:
        return self.status is not TaskStatus.CLOSED


class InspectionPhoto(Base):
    """A photo an officer took; the file lives under Settings.upload_dir by a random name."""

    __tablename__ = "inspection_photos"
    __table_args__ = (UniqueConstraint("task_id", "sha256"),)

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    task_id: Mapped[int] = mapped_column(ForeignKey("inspection_tasks.id"))
    stored_name: Mapped[str] = mapped_column(String(64), unique=True)
    content_type: Mapped[str] = mapped_column(String(20))
    size: Mapped[int]
    sha256: Mapped[str] = mapped_column(String(64))
    uploaded_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    uploaded_at: Mapped[datetime] = mapped_column(default=clock.utcnow)
