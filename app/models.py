"""Every domain's models, imported so Alembic and the mappers see the whole schema."""

from app.audit.models import AuditEvent
from app.auth.models import AuthSession, RefreshToken
from app.db import Base
from app.enterprises.models import Enterprise, EnterpriseKindLink
from app.users.models import User

__all__ = ["AuditEvent", "AuthSession", "Base", "Enterprise", "EnterpriseKindLink", "RefreshToken", "User"]
