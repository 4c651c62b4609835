"""Inventory lists (申报清单), their goods lines and the clearance timeline."""

from __future__ import annotations

import enum
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, Numeric, String, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.common import clock
from app.db import Base, BigIntPK, enum_type
from app.enterprises.models import Enterprise


class DeclarationKind(enum.StrEnum):
    # CEB621: cross-border e-commerce import inventory list, 1210 bonded import.
    IMPORT_INVENTORY = "import_inventory"
    # CEB603: cross-border e-commerce export list (9610, 9710, 9810, 1210 bonded export); its own head is in
    # app/exports/models.py.
    EXPORT_INVENTORY = "export_inventory"


class DeclarationStatus(enum.StrEnum):
    SUBMITTED = "submitted"
    SEND_FAILED = "send_failed"
    ACCEPTED = "accepted"
    MANUAL_REVIEW = "manual_review"
    AUDITED = "audited"
    INSPECTION = "inspection"
    REJECTED = "rejected"
    DETAINED = "detained"
    SHIPPED_BACK = "shipped_back"
    RELEASED = "released"
    CLOSED = "closed"
    CANCELLED = "cancelled"


# Lists still in play: with customs, or sent back to the declarant to act on (a rejection, a failed send). The
# rest (released, closed, cancelled, shipped back) is history, which grows without end; the home screen counts
# only these, through partial indexes that hold only them.
IN_PLAY = (
    DeclarationStatus.SUBMITTED,
    DeclarationStatus.SEND_FAILED,
    DeclarationStatus.ACCEPTED,
    DeclarationStatus.MANUAL_REVIEW,
    DeclarationStatus.AUDITED,
    DeclarationStatus.INSPECTION,
    DeclarationStatus.REJECTED,
    DeclarationStatus.DETAINED,
)
IN_PLAY_SQL = "status IN (" + ", ".join(f"'{status.value}'" for status in IN_PLAY) + ")"


class ReleaseSource(enum.StrEnum):
    RECEIPT_800 = "receipt_800"
    OFFICER = "officer"


class BizStep(enum.StrEnum):
    """CBV 2.0 business steps the timeline uses, so events map onto EPCIS ObjectEvents."""

    ARRIVING = "arriving"
    RECEIVING = "receiving"
    COMMISSIONING = "commissioning"
    PACKING = "packing"
    LOADING = "loading"
    ACCEPTING = "accepting"
    HOLDING = "holding"
    INSPECTING = "inspecting"
    DEPARTING = "departing"
    SHIPPING = "shipping"
    OTHER = "other"


class Disposition(enum.StrEnum):
    """CBV 2.0 dispositions the timeline uses."""

    IN_PROGRESS = "in_progress"
    ACTIVE = "active"
    CONTAINER_CLOSED = "container_closed"
    IN_TRANSIT = "in_transit"
    CONFORMANT = "conformant"
    NON_CONFORMANT = "non_conformant"
    SELLABLE_NOT_ACCESSIBLE = "sellable_not_accessible"
    SELLABLE_ACCESSIBLE = "sellable_accessible"
    RETURNED = "returned"
    INACTIVE = "inactive"
    UNKNOWN = "unknown"


class Declaration(Base):
    __tablename__ = "declarations"
    __table_args__ = (
        # A rejected list may be re-declared under the same enterprise reference.
        Index(
            "uq_declarations_live_cop_no",
            "agent_code",
            "cop_no",
            unique=True,
            sqlite_where=text("status != 'rejected'"),
            postgresql_where=text("status != 'rejected'"),
        ),
        # The list views: one enterprise's import or export lists, newest first, optionally by status.
        Index("ix_declarations_declaring_enterprise", "declaring_enterprise_id", "kind", "id"),
        Index("ix_declarations_declaring_enterprise_status", "declaring_enterprise_id", "status", "id"),
        Index("ix_declarations_warehouse_enterprise", "warehouse_enterprise_id", "kind", "id"),
        # The admin figures: one kind's lists submitted in a period.
        Index("ix_declarations_kind_submitted_at", "kind", "submitted_at"),
        # The home screen's counts of lists in play, by kind and status: the park's, a declarant's, a warehouse's.
        *(
            Index(
                f"ix_declarations_in_play{suffix}",
                *columns,
                "kind",
                "status",
                sqlite_where=text(IN_PLAY_SQL),
                postgresql_where=text(IN_PLAY_SQL),
            )
            for suffix, columns in (
                ("", ()),
                ("_declaring", ("declaring_enterprise_id",)),
                ("_warehouse", ("warehouse_enterprise_id",)),
            )
        ),
    )

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    kind: Mapped[DeclarationKind] = mapped_column(enum_type(DeclarationKind), default=DeclarationKind.IMPORT_INVENTORY)
    guid: Mapped[str] = mapped_column(String(36), unique=True)
    status: Mapped[DeclarationStatus] = mapped_column(enum_type(DeclarationStatus), default=DeclarationStatus.SUBMITTED)
    cop_no: Mapped[str] = mapped_column(String(20), index=True)
    pre_no: Mapped[str | None] = mapped_column(String(18))
    invt_no: Mapped[str | None] = mapped_column(String(18), unique=True)
    order_no: Mapped[str] = mapped_column(String(60), index=True)
    logistics_no: Mapped[str] = mapped_column(String(60), index=True)

    ebp_code: Mapped[str] = mapped_column(String(10))
    ebp_name: Mapped[str] = mapped_column(String(200))
    ebc_code: Mapped[str] = mapped_column(String(10))
    ebc_name: Mapped[str] = mapped_column(String(200))
    agent_code: Mapped[str] = mapped_column(String(10))
    agent_name: Mapped[str] = mapped_column(String(200))
    area_code: Mapped[str] = mapped_column(String(10))
    area_name: Mapped[str] = mapped_column(String(200))
    assure_code: Mapped[str | None] = mapped_column(String(10))
    ems_no: Mapped[str | None] = mapped_column(String(30))
    trade_mode: Mapped[str] = mapped_column(String(4))
    customs_code: Mapped[str] = mapped_column(String(4))
    port_code: Mapped[str] = mapped_column(String(4))

    # The buyer (订购人) of an import list; an export list has none (its consignee abroad is on its export head).
    buyer_id_type: Mapped[str | None] = mapped_column(String(1))
    buyer_id_number: Mapped[str | None] = mapped_column(String(18), index=True)
    buyer_name: Mapped[str | None] = mapped_column(String(60))
    buyer_telephone: Mapped[str | None] = mapped_column(String(30))
    consignee_address: Mapped[str | None] = mapped_column(String(200))

    currency: Mapped[str] = mapped_column(String(3))
    freight: Mapped[Decimal] = mapped_column(Numeric(14, 2))
    insured_fee: Mapped[Decimal] = mapped_column(Numeric(14, 2))
    goods_value: Mapped[Decimal] = mapped_column(Numeric(14, 2))
    gross_weight: Mapped[Decimal] = mapped_column(Numeric(14, 4))
    net_weight: Mapped[Decimal] = mapped_column(Numeric(14, 4))

    declaring_enterprise_id: Mapped[int] = mapped_column(ForeignKey("enterprises.id"))
    warehouse_enterprise_id: Mapped[int] = mapped_column(ForeignKey("enterprises.id"))
    submitted_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    corrects_id: Mapped[int | None] = mapped_column(ForeignKey("declarations.id"), unique=True)

    return_info: Mapped[str | None] = mapped_column(String(1000))
    submitted_at: Mapped[datetime] = mapped_column(default=clock.utcnow, index=True)
    released_at: Mapped[datetime | None]
    release_source: Mapped[ReleaseSource | None] = mapped_column(enum_type(ReleaseSource))
    updated_at: Mapped[datetime] = mapped_column(default=clock.utcnow, onupdate=clock.utcnow)

    lines: Mapped[list[DeclarationLine]] = relationship(
        back_populates="declaration", cascade="all, delete-orphan", order_by="DeclarationLine.gnum"
    )
    declaring_enterprise: Mapped[Enterprise] = relationship(foreign_keys=[declaring_enterprise_id])
    warehouse_enterprise: Mapped[Enterprise] = relationship(foreign_keys=[warehouse_enterprise_id])

    @property
    def total_value(self) -> Decimal:
        """What the 1210 single-order limit applies to: goods, freight and insurance."""
        return self.goods_value + self.freight + self.insured_fee


class DeclarationLine(Base):
    __tablename__ = "declaration_lines"
    __table_args__ = (UniqueConstraint("declaration_id", "gnum"),)

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    declaration_id: Mapped[int] = mapped_column(ForeignKey("declarations.id", ondelete="CASCADE"))
    gnum: Mapped[int]
    item_record_no: Mapped[str | None] = mapped_column(String(30))
    item_no: Mapped[str] = mapped_column(String(30))
    item_name: Mapped[str] = mapped_column(String(250))
    g_model: Mapped[str | None] = mapped_column(String(250))
    hs_code: Mapped[str] = mapped_column(String(10))
    gtin: Mapped[str | None] = mapped_column(String(14), index=True)  # optional on export lines (CEB603 barCode)
    country: Mapped[str] = mapped_column(String(3))
    qty: Mapped[Decimal] = mapped_column(Numeric(18, 4))
    unit: Mapped[str] = mapped_column(String(3))
    price: Mapped[Decimal] = mapped_column(Numeric(18, 4))
    total_price: Mapped[Decimal] = mapped_column(Numeric(14, 2))

    declaration: Mapped[Declaration] = relationship(back_populates="lines")


class DeclarationEvent(Base):
    """One step on the clearance timeline, shaped like an EPCIS 2.0 ObjectEvent."""

    __tablename__ = "declaration_events"
    __table_args__ = (Index("ix_declaration_events_declaration_id_id", "declaration_id", "id"),)

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    declaration_id: Mapped[int] = mapped_column(ForeignKey("declarations.id", ondelete="CASCADE"))
    occurred_at: Mapped[datetime] = mapped_column(default=clock.utcnow)
    recorded_at: Mapped[datetime] = mapped_column(default=clock.utcnow)
    step: Mapped[str] = mapped_column(String(40))
    biz_step: Mapped[BizStep] = mapped_column(enum_type(BizStep))
    disposition: Mapped[Disposition] = mapped_column(enum_type(Disposition))
    status: Mapped[DeclarationStatus] = mapped_column(enum_type(DeclarationStatus))
    status_changed: Mapped[bool] = mapped_column(default=True)
    title: Mapped[str] = mapped_column(String(200))
    place: Mapped[str | None] = mapped_column(String(60))
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    receipt_id: Mapped[int | None] = mapped_column(ForeignKey("customs_receipts.id"))
    details: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
