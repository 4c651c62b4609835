"""Authentication failures. Their codes are part of the API."""

from app.errors import Conflict, DomainError, PermissionDenied, Unauthorized


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


class SignInIdle(SessionRevoked):
    code, title = "sign_in_idle", "Sign-in idle too long"


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


class LoginThrottled(DomainError):
    """Too many failed sign-ins for this account from this address (or, from unknown addresses, at all)."""

    status, code, title = 429, "login_throttled", "Too many failed sign-ins"


class ApiKeyInvalid(Unauthorized):
    code, title = "api_key_invalid", "Invalid API key"

    def __init__(self, detail: str) -> None:
        super().__init__(detail, headers={"WWW-Authenticate": 'ApiKey realm="smart-park"'})


class NotAMachineAccount(Conflict):
    code, title = "not_a_machine_account", "Not a machine account"


class ApiKeyLimitReached(Conflict):
    code, title = "api_key_limit_reached", "Too many API keys"
