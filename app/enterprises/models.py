"""Enterprises registered with customs: traders, platforms, brokers, warehouses and the rest."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.common import clock
from app.db import Base, enum_type


class EnterpriseKind(enum.StrEnum):
    """The roles an enterprise plays in a declaration (CEB621 head fields)."""

    EBC = "ebc"  # e-commerce enterprise, the trader
    EBP = "ebp"  # e-commerce platform
    AGENT = "agent"  # customs broker / declaring agent
    LOGISTICS = "logistics_enterprise"
    PAY = "pay_enterprise"
    ZONE = "zone_enterprise"  # in-zone bonded warehouse enterprise
    ASSURE = "assure_enterprise"


class CreditLevel(enum.StrEnum):
    """Customs enterprise credit categories; risk control leans on them."""

    ADVANCED_CERTIFIED = "advanced_certified"
    GENERAL = "general"
    DISHONEST = "dishonest"


class Enterprise(Base):
    __tablename__ = "enterprises"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    uscc: Mapped[str] = mapped_column(String(18), unique=True)
    customs_reg_code: Mapped[str] = mapped_column(String(10), unique=True)
    credit_level: Mapped[CreditLevel] = mapped_column(enum_type(CreditLevel), default=CreditLevel.GENERAL)
    general_taxpayer_pilot: Mapped[bool] = mapped_column(default=False)
    is_active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(default=clock.utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=clock.utcnow, onupdate=clock.utcnow)

    kind_links: Mapped[list[EnterpriseKindLink]] = relationship(
        back_populates="enterprise", cascade="all, delete-orphan", order_by="EnterpriseKindLink.kind"
    )

    @property
    def kinds(self) -> list[EnterpriseKind]:
        return sorted(link.kind for link in self.kind_links)

    def has_kind(self, kind: EnterpriseKind) -> bool:
        return kind in self.kinds


class EnterpriseKindLink(Base):
    __tablename__ = "enterprise_kinds"

    enterprise_id: Mapped[int] = mapped_column(ForeignKey("enterprises.id", ondelete="CASCADE"), primary_key=True)
    kind: Mapped[EnterpriseKind] = mapped_column(enum_type(EnterpriseKind), primary_key=True, index=True)

    enterprise: Mapped[Enterprise] = relationship(back_populates="kind_links")
