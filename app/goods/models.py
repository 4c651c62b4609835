"""The product master: one row per GTIN, registered by bonded-warehouse operators."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from app.common import clock
from app.db import Base, BigIntPK

# The fields a registration or an import row may set; gtin names the product and never changes.
EDITABLE_FIELDS = ("name_zh", "name_en", "brand", "specification", "origin_country", "hs_code", "unit")


class Product(Base):
    __tablename__ = "products"

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    gtin: Mapped[str] = mapped_column(String(14), unique=True)
    name_zh: Mapped[str] = mapped_column(String(200), index=True)
    name_en: Mapped[str | None] = mapped_column(String(200))
    brand: Mapped[str] = mapped_column(String(100))
    specification: Mapped[str | None] = mapped_column(String(200))
    # ISO 3166-1 alpha-2 (JP) or the 3-digit customs country code (116) declarations carry.
    origin_country: Mapped[str] = mapped_column(String(3))
    hs_code: Mapped[str] = mapped_column(String(13))
    unit: Mapped[str] = mapped_column(String(3))
    # The bonded-warehouse enterprise that registered it; None for park base data loaded by an operator.
    enterprise_id: Mapped[int | None] = mapped_column(ForeignKey("enterprises.id"), index=True)
    registered_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(default=clock.utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=clock.utcnow, onupdate=clock.utcnow)
