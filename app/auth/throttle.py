"""Failed sign-ins slow down whoever fails, never lock out whoever knows the password.

A lockout after N failures lets any stranger lock any account (a colleague's, the customs gateway's) with N wrong
passwords. Here failures are counted twice, in fixed windows of the rate limiter (memory or Redis):

- per account and client address (LOGIN_FAILURE_LIMIT, "5 per 15 minutes"): past it, that address gets 429 with
  Retry-After for that account, even with the right password. A guesser at one address gets 20 tries an hour;
  the owner elsewhere is untouched.
- per account from all addresses (LOGIN_ACCOUNT_FAILURE_LIMIT, "20 per hour"): against guessing from many
  addresses (a botnet: at most 480 guesses a day, whatever its size). Past it, addresses the account signed in from
  in the last KNOWN_ADDRESS_DAYS are still admitted (a sign-in there is on record in auth_sessions), so the owner at
  their usual desk, gate or server cannot be denied; only new addresses wait for the window to end.

What stays possible: a stranger behind the owner's own address (one NAT) can make that pair wait out its window, up
to 15 minutes; no one can make it last longer. Machines avoid all of it with API keys (app/auth/api_keys.py).
Every failure is also audited (auth.login_failed), and the per-address LOGIN_RATE_LIMIT bounds all attempts.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from app.auth.errors import LoginThrottled
from app.i18n import _
from app.infra.ratelimit import RateLimiter

PAIR_SCOPE = "login-failures"
ACCOUNT_SCOPE = "login-failures-account"


@dataclass(frozen=True)
class LoginThrottle:
    limiter: RateLimiter
    per_address: str  # "5 per 15 minutes"
    per_account: str  # "20 per hour"

    def check(self, username: str, client_addr: str | None, *, known_address: Callable[[], bool]) -> None:
        """Refuse (429) before the password is even checked when this attempt is over a budget."""
        pair = _pair(username, client_addr)
        wait = self.limiter.retry_after(self.per_address, PAIR_SCOPE, pair)
        if wait is None:
            wait = self.limiter.retry_after(self.per_account, ACCOUNT_SCOPE, username)
            # Asked only when the account is under attack: one indexed read.
            if wait is not None and known_address():
                wait = None
        if wait is not None:
            raise LoginThrottled(
                _("Too many failed sign-ins for this account; wait before trying again."),
                headers={"Retry-After": str(wait)},
            )

    def failed(self, username: str, client_addr: str | None) -> None:
        """Count one failure against both budgets."""
        self.limiter.charge(self.per_address, PAIR_SCOPE, _pair(username, client_addr))
        self.limiter.charge(self.per_account, ACCOUNT_SCOPE, username)


def _pair(username: str, client_addr: str | None) -> str:
    return f"{client_addr or '-'}/{username}"
