"""Sign-in sessions (refresh-token families) and their rotating refresh tokens."""

from __future__ import annotations

import enum
import uuid
from datetime import datetime

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.common import clock
from app.db import Base, BigIntPK, enum_type
from app.users.models import User


class RevokeReason(enum.StrEnum):
    LOGOUT = "logout"
    REFRESH_TOKEN_REUSED = "refresh_token_reused"
    PASSWORD_CHANGED = "password_changed"
    PASSWORD_RESET = "password_reset"
    ACCOUNT_DISABLED = "account_disabled"
    # The user ended it from another of their sign-ins (a lost phone, a shared desk).
    ENDED_ELSEWHERE = "ended_elsewhere"
    # A console sign-in unused for CONSOLE_IDLE_MINUTES (a desk left signed in).
    IDLE = "idle"


class AuthSession(Base):
    """One sign-in on one device: every refresh token it rotates through shares this family."""

    __tablename__ = "auth_sessions"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(default=clock.utcnow)
    last_refreshed_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]
    revoke_reason: Mapped[RevokeReason | None] = mapped_column(enum_type(RevokeReason))
    client_addr: Mapped[str | None] = mapped_column(String(45))
    user_agent: Mapped[str | None] = mapped_column(String(200))
    # Where its latest refresh came from (the phone moves between networks); the sign-in's own address stays above.
    last_client_addr: Mapped[str | None] = mapped_column(String(45))

    user: Mapped[User] = relationship()

    @property
    def is_revoked(self) -> bool:
        return self.revoked_at is not None


class RefreshToken(Base):
    """Only the SHA-256 of the token is kept: a database leak must not hand out sessions."""

    __tablename__ = "refresh_tokens"

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    session_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("auth_sessions.id"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    issued_at: Mapped[datetime] = mapped_column(default=clock.utcnow)
    expires_at: Mapped[datetime]
    # Set when the token is exchanged; a second exchange is a replay.
    used_at: Mapped[datetime | None]

    session: Mapped[AuthSession] = relationship(lazy="joined")


class ApiKey(Base):
    """A machine account's credential (customs gateway, camera system): shown once, kept only as its SHA-256.

    A key is 32 random bytes, so a plain hash is as safe as a slow one here and costs one indexed lookup per request.
    """

    __tablename__ = "api_keys"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    # The key's first characters, so admins and logs can tell keys apart without holding one.
    prefix: Mapped[str] = mapped_column(String(16))
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=clock.utcnow)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    last_used_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]

    user: Mapped[User] = relationship(foreign_keys=[user_id], lazy="joined")

    @property
    def is_revoked(self) -> bool:
        return self.revoked_at is not None


class PasswordResetCode(Base):
    """A code texted to a user who forgot their password: kept only as a keyed hash, short-lived, few tries."""

    __tablename__ = "password_reset_codes"

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    # HMAC-SHA-256 under the server's secret: six digits hashed plainly fall to a million guesses offline.
    code_hash: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=clock.utcnow)
    expires_at: Mapped[datetime]
    failed_attempts: Mapped[int] = mapped_column(default=0)
    # Set when the code is spent, or retired by a newer code or by too many wrong tries.
    used_at: Mapped[datetime | None]
    client_addr: Mapped[str | None] = mapped_column(String(45))
