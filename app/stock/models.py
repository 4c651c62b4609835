"""Stock per bonded warehouse and product, and every movement that changed it."""

from __future__ import annotations

import enum
from datetime import datetime
from decimal import Decimal

from sqlalchemy import ForeignKey, Index, Numeric, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from app.common import clock
from app.db import Base, BigIntPK, enum_type


class MovementKind(enum.StrEnum):
    SCAN_IN = "scan_in"
    # A released 1210 list takes its goods out of bonded stock (核扣).
    RELEASE_OUT = "release_out"


class StockLevel(Base):
    __tablename__ = "stock_levels"
    __table_args__ = (UniqueConstraint("warehouse_enterprise_id", "gtin"),)

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    warehouse_enterprise_id: Mapped[int] = mapped_column(ForeignKey("enterprises.id"))
    gtin: Mapped[str] = mapped_column(String(14))
    quantity: Mapped[Decimal] = mapped_column(Numeric(18, 4))
    updated_at: Mapped[datetime] = mapped_column(default=clock.utcnow, onupdate=clock.utcnow)


class StockMovement(Base):
    __tablename__ = "stock_movements"
    __table_args__ = (Index("ix_stock_movements_warehouse_enterprise_id_id", "warehouse_enterprise_id", "id"),)

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    warehouse_enterprise_id: Mapped[int] = mapped_column(ForeignKey("enterprises.id"))
    gtin: Mapped[str] = mapped_column(String(14))
    kind: Mapped[MovementKind] = mapped_column(enum_type(MovementKind))
    # Signed: positive in, negative out.
    quantity: Mapped[Decimal] = mapped_column(Numeric(18, 4))
    # What a release wanted to take but the stock did not hold; customs' release stands regardless.
    shortfall: Mapped[Decimal] = mapped_column(Numeric(18, 4), default=Decimal(0))
    seal_no: Mapped[str | None] = mapped_column(String(40))
    declaration_id: Mapped[int | None] = mapped_column(ForeignKey("declarations.id"), index=True)
    recorded_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    occurred_at: Mapped[datetime] = mapped_column(default=clock.utcnow)
