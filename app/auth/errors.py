"""Authentication failures. Their codes are part of the API."""

from app.errors import Conflict, DomainError, PermissionDenied, Unauthorized
from app.i18n import _l


class AuthenticationRequired(Unauthorized):
    code, title = "authentication_required", _l("Authentication required")


class InvalidCredentials(Unauthorized):
    code, title = "invalid_credentials", _l("Invalid credentials")
    # The failed-attempt counter and the audit row must survive the 401.
    keeps_changes = True


class TokenInvalid(Unauthorized):
    code, title = "token_invalid", _l("Invalid token")


class TokenExpired(Unauthorized):
    code, title = "token_expired", _l("Token expired")


class SessionRevoked(Unauthorized):
    code, title = "session_revoked", _l("Session ended")


class SignInIdle(SessionRevoked):
    code, title = "sign_in_idle", "Sign-in idle too long"


class AccountDisabled(Unauthorized):
    code, title = "account_disabled", _l("Account disabled")


class RefreshTokenInvalid(Unauthorized):
    code, title = "refresh_token_invalid", _l("Invalid refresh token")


class RefreshTokenReused(Unauthorized):
    code, title = "refresh_token_reused", _l("Refresh token reused")
    # Revoking the family is the point of detecting reuse; it must not roll back.
    keeps_changes = True


class PasswordChangeRequired(PermissionDenied):
    code, title = "password_change_required", _l("Password change required")


class LoginThrottled(DomainError):
    """Too many failed sign-ins for this account from this address (or, from unknown addresses, at all)."""

    status, code, title = 429, "login_throttled", _l("Too many failed sign-ins")


class ApiKeyInvalid(Unauthorized):
    code, title = "api_key_invalid", _l("Invalid API key")

    def __init__(self, detail: str) -> None:
        super().__init__(detail, headers={"WWW-Authenticate": 'ApiKey realm="smart-park"'})


class NotAMachineAccount(Conflict):
    code, title = "not_a_machine_account", _l("Not a machine account")


class ApiKeyLimitReached(Conflict):
    code, title = "api_key_limit_reached", _l("Too many API keys")
