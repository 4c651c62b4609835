"""Accounts of park staff, enterprise users and the customs gateway."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.common import clock
from app.db import Base, enum_type


class Role(enum.StrEnum):
    DECLARANT = "declarant"
    WAREHOUSE_OPERATOR = "warehouse_operator"
    CUSTOMS_OFFICER = "customs_officer"
    GATE_OPERATOR = "gate_operator"
    ADMIN = "admin"
    # The service account through which customs receipts arrive; never a person.
    CUSTOMS_GATEWAY = "customs_gateway"
    # A camera system's service account: it may report video events and nothing else.
    VIDEO_ANALYTICS = "video_analytics"
    # An export X-ray line's controller, of the warehouse it stands in: it may post scans and nothing else.
    XRAY_LINE = "xray_line"


# Systems, not people: they authenticate with API keys (app/auth/api_keys.py) and carry no phone.
MACHINE_ROLES = frozenset({Role.CUSTOMS_GATEWAY, Role.VIDEO_ANALYTICS, Role.XRAY_LINE})


class Language(enum.StrEnum):
    """What notices are written in for this user; Chinese unless they chose English."""

    ZH = "zh"
    EN = "en"


class User(Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    display_name: Mapped[str] = mapped_column(String(100))
    phone: Mapped[str | None] = mapped_column(String(20))
    language: Mapped[Language] = mapped_column(enum_type(Language), default=Language.ZH)
    role: Mapped[Role] = mapped_column(enum_type(Role), index=True)
    enterprise_id: Mapped[int | None] = mapped_column(ForeignKey("enterprises.id"), index=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    must_change_password: Mapped[bool] = mapped_column(default=False)
    is_active: Mapped[bool] = mapped_column(default=True)
    # An admin's lock lasts until an admin lifts it; a lockout after failed logins expires.
    is_locked: Mapped[bool] = mapped_column(default=False)
    failed_login_count: Mapped[int] = mapped_column(default=0)
    lockout_until: Mapped[datetime | None]
    last_login_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=clock.utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=clock.utcnow, onupdate=clock.utcnow)

    # Named, not imported: enterprises sit above users (their service records audit entries, which name a user).
    enterprise = relationship("Enterprise", lazy="joined")

    def is_locked_out(self, now: datetime) -> bool:
        return self.lockout_until is not None and self.lockout_until > now

    @property
    def may_sign_in(self) -> bool:
        enterprise_active = self.enterprise is None or self.enterprise.is_active
        return self.is_active and not self.is_locked and enterprise_active
