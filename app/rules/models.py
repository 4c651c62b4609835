"""The admin's overrides of the run-time rules: one row per rule that differs from its default."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.db import Base
from app.users.models import User


class RuleSetting(Base):
    __tablename__ = "rule_settings"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    # As text, exact ("3.5"): the catalog (app/rules/catalog.py) knows each rule's type.
    value: Mapped[str] = mapped_column(String(32))
    updated_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    updated_at: Mapped[datetime] = mapped_column()

    updated_by: Mapped[User | None] = relationship(lazy="joined")
