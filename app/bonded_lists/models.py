"""Bonded verification lists (核注清单, INV101) and their goods lines."""

from __future__ import annotations

import enum
from datetime import datetime
from decimal import Decimal

from sqlalchemy import ForeignKey, Index, Numeric, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.common import clock
from app.db import Base, BigIntPK, enum_type
from app.enterprises.models import Enterprise

WEIGHT = Numeric(14, 4)


class ImpExp(enum.StrEnum):
    """INV101 impexp_markcd: goods entering (I) or leaving (E) the zone."""

    IMPORT = "I"
    EXPORT = "E"


class InvtStatus(enum.StrEnum):
    """INV101/INV201 invt_stucd: 1 declared, 0 approved, 2 rejected, 3 deleted."""

    DECLARED = "declared"
    APPROVED = "approved"
    REJECTED = "rejected"
    DELETED = "deleted"


class ApprovalResult(enum.StrEnum):
    """What customs' INV201 receipt decided."""

    APPROVED = "approved"
    REJECTED = "rejected"


class EntryStatus(enum.StrEnum):
    """entry_stucd of the customs declaration (报关单) a list needs when dclcus_flag is set."""

    NOT_RELEASED = "not_released"
    RELEASED = "released"


class DeductionMark(enum.StrEnum):
    """The account-book deduction (核扣, INV211); pre-deduction and write-off are not modelled yet."""

    NOT_DEDUCTED = "not_deducted"
    DEDUCTED = "deducted"


class BondedList(Base):
    __tablename__ = "bonded_lists"
    __table_args__ = (
        # The list view: one enterprise's lists, newest first, optionally by status.
        Index("ix_bonded_lists_enterprise", "declaring_enterprise_id", "id"),
        Index("ix_bonded_lists_enterprise_status", "declaring_enterprise_id", "invt_stucd", "id"),
    )

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    bond_invt_no: Mapped[str] = mapped_column(String(18), unique=True)
    putrec_no: Mapped[str] = mapped_column(String(12), index=True)
    customs_code: Mapped[str] = mapped_column(String(4))
    impexp_markcd: Mapped[ImpExp] = mapped_column(enum_type(ImpExp))
    supv_mode: Mapped[str] = mapped_column(String(4))
    dclcus_flag: Mapped[bool]
    entry_no: Mapped[str | None] = mapped_column(String(18))
    invt_stucd: Mapped[InvtStatus] = mapped_column(enum_type(InvtStatus), default=InvtStatus.DECLARED)
    # None when the goods need no customs declaration (dclcus_flag false).
    entry_stucd: Mapped[EntryStatus | None] = mapped_column(enum_type(EntryStatus))
    deduction_mark: Mapped[DeductionMark] = mapped_column(enum_type(DeductionMark), default=DeductionMark.NOT_DEDUCTED)
    return_info: Mapped[str | None] = mapped_column(String(1000))
    declaring_enterprise_id: Mapped[int] = mapped_column(ForeignKey("enterprises.id"))
    declared_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    declared_at: Mapped[datetime] = mapped_column(default=clock.utcnow)
    decided_at: Mapped[datetime | None]
    entry_released_at: Mapped[datetime | None]
    deducted_at: Mapped[datetime | None]
    deleted_at: Mapped[datetime | None]
    updated_at: Mapped[datetime] = mapped_column(default=clock.utcnow, onupdate=clock.utcnow)

    lines: Mapped[list[BondedListLine]] = relationship(
        back_populates="bonded_list", cascade="all, delete-orphan", order_by="BondedListLine.gnum"
    )
    declaring_enterprise: Mapped[Enterprise] = relationship()


class BondedListLine(Base):
    __tablename__ = "bonded_list_lines"
    __table_args__ = (UniqueConstraint("bonded_list_id", "gnum"),)

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    bonded_list_id: Mapped[int] = mapped_column(ForeignKey("bonded_lists.id", ondelete="CASCADE"))
    gnum: Mapped[int]
    gds_mtno: Mapped[str] = mapped_column(String(32))
    hs_code: Mapped[str] = mapped_column(String(10))
    name: Mapped[str] = mapped_column(String(250))
    qty: Mapped[Decimal] = mapped_column(Numeric(18, 4))
    unit: Mapped[str] = mapped_column(String(3))
    gross_wt: Mapped[Decimal] = mapped_column(WEIGHT)
    net_wt: Mapped[Decimal] = mapped_column(WEIGHT)

    bonded_list: Mapped[BondedList] = relationship(back_populates="lines")
