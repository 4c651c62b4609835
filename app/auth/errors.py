"""Authentication failures. Their codes are part of the API."""

from app.errors import PermissionDenied, Unauthorized


class AuthenticationRequired(Unauthorized):
    code, title = "authentication_required", "Authentication required"


class InvalidCredentials(Unauthorized):
    code, title = "invalid_credentials", "Invalid credentials"
    # The failed-attempt counter and the audit row must survive the 401.
    keeps_changes = True


class TokenInvalid(Unauthorized):
    code, title = "token_invalid", "Invalid token"


class TokenExpired(Unauthorized):
    code, title = "token_expired", "Token expired"


class SessionRevoked(Unauthorized):
    code, title = "session_revoked", "Session ended"


class AccountDisabled(Unauthorized):
    code, title = "account_disabled", "Account disabled"


class RefreshTokenInvalid(Unauthorized):
    code, title = "refresh_token_invalid", "Invalid refresh token"


class RefreshTokenReused(Unauthorized):
    code, title = "refresh_token_reused", "Refresh token reused"
    # Revoking the family is the point of detecting reuse; it must not roll back.
    keeps_changes = True


class PasswordChangeRequired(PermissionDenied):
    code, title = "password_change_required", "Password change required"
