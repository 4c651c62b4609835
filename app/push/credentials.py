"""Provider credentials that expire: the APNs provider token and OAuth access tokens, cached per adapter.

Each cache is shared by the dispatcher's sending threads, so every read and refresh holds a lock;
a refresh happens once however many threads find the token stale at the same moment.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

import httpx
import jwt

# Apple accepts a provider token for an hour and answers TooManyProviderTokenUpdates when a
# sender signs new ones faster than every 20 minutes (appleboy/gorush#512 signed one per push).
APNS_TOKEN_REFRESH_AFTER = 50 * 60
APNS_TOKEN_MIN_AGE = 20 * 60

# Google's access tokens last an hour; renewing a minute early keeps a slow request from carrying
# a token that expires in flight.
ACCESS_TOKEN_MARGIN = 60.0
FCM_SCOPE = "https://www.googleapis.com/auth/firebase.messaging"
JWT_BEARER_GRANT = "urn:ietf:params:oauth:grant-type:jwt-bearer"
ASSERTION_LIFETIME = 3600


class CredentialError(Exception):
    """The provider would not give us a usable credential; `retryable` says whether trying later may help."""

    def __init__(self, reason: str, *, retryable: bool) -> None:
        super().__init__(reason)
        self.reason = reason
        self.retryable = retryable


class ApnsTokenSigner:
    """The ES256 provider token for one APNs key: signed once, reused for about 50 minutes."""

    def __init__(
        self, *, key_id: str, team_id: str, private_key: str, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._key_id = key_id
        self._team_id = team_id
        # Parsed now so a broken .p8 stops start-up instead of failing every push.
        self._key = jwt.algorithms.ECAlgorithm(jwt.algorithms.ECAlgorithm.SHA256).prepare_key(private_key)
        self._clock = clock
        self._lock = threading.Lock()
        self._token: str | None = None
        self._signed_at = 0.0

    def token(self) -> str:
        with self._lock:
            if self._token is None or self._clock() - self._signed_at >= APNS_TOKEN_REFRESH_AFTER:
                self._token = self._sign()
                self._signed_at = self._clock()
            return self._token

    def expire(self, token: str) -> None:
        """APNs called `token` expired: sign anew, unless that would update faster than Apple allows."""
        with self._lock:
            if token == self._token and self._clock() - self._signed_at >= APNS_TOKEN_MIN_AGE:
                self._token = None

    def _sign(self) -> str:
        return jwt.encode(
            {"iss": self._team_id, "iat": int(time.time())}, self._key, algorithm="ES256", headers={"kid": self._key_id}
        )


@dataclass(frozen=True)
class AccessToken:
    value: str
    expires_in: float


class AccessTokenCache:
    """An OAuth access token fetched on first use, reused until shortly before it expires."""

    def __init__(self, fetch: Callable[[], AccessToken], *, clock: Callable[[], float] = time.monotonic) -> None:
        self._fetch = fetch
        self._clock = clock
        self._lock = threading.Lock()
        self._token: str | None = None
        self._expires_at = 0.0

    def token(self) -> str:
        with self._lock:
            if self._token is None or self._clock() >= self._expires_at - ACCESS_TOKEN_MARGIN:
                fetched = self._fetch()
                self._token = fetched.value
                self._expires_at = self._clock() + fetched.expires_in
            return self._token

    def reject(self, token: str) -> None:
        """The provider refused `token`: the next caller fetches a new one (unless another thread already did)."""
        with self._lock:
            if token == self._token:
                self._token = None


def fcm_token_fetcher(
    client: httpx.Client, *, client_email: str, private_key: str, private_key_id: str | None, token_uri: str
) -> Callable[[], AccessToken]:
    """Google's JWT-bearer grant: a self-signed RS256 assertion traded for an access token."""
    key = jwt.algorithms.RSAAlgorithm(jwt.algorithms.RSAAlgorithm.SHA256).prepare_key(private_key)
    headers = {"kid": private_key_id} if private_key_id else None

    def fetch() -> AccessToken:
        now = int(time.time())
        assertion = jwt.encode(
            {"iss": client_email, "scope": FCM_SCOPE, "aud": token_uri, "iat": now, "exp": now + ASSERTION_LIFETIME},
            key,
            algorithm="RS256",
            headers=headers,
        )
        return _request_token(client, token_uri, {"grant_type": JWT_BEARER_GRANT, "assertion": assertion}, "FCM")

    return fetch


def huawei_token_fetcher(
    client: httpx.Client, *, oauth_url: str, client_id: str, client_secret: str
) -> Callable[[], AccessToken]:
    """Huawei's client-credentials grant."""

    def fetch() -> AccessToken:
        form = {"grant_type": "client_credentials", "client_id": client_id, "client_secret": client_secret}
        return _request_token(client, oauth_url, form, "Huawei")

    return fetch


def _request_token(client: httpx.Client, url: str, form: dict[str, str], provider: str) -> AccessToken:
    try:
        response = client.post(url, data=form)
    except httpx.HTTPError as error:
        raise CredentialError(f"{provider} token endpoint unreachable: {error!r}", retryable=True) from error
    if response.status_code == 429 or response.status_code >= 500:
        raise CredentialError(f"{provider} token endpoint answered {response.status_code}", retryable=True)
    # Any other refusal (bad key, revoked client) will not heal by retrying: an operator must act.
    try:
        body = response.json()
    except ValueError:
        body = None
    if response.status_code != 200 or not isinstance(body, dict) or not isinstance(body.get("access_token"), str):
        raise CredentialError(
            f"{provider} refused our credentials ({response.status_code}): {response.text[:200]}", retryable=False
        )
    expires_in = body.get("expires_in")
    if not isinstance(expires_in, int | float) or isinstance(expires_in, bool) or expires_in <= 0:
        expires_in = 3600
    return AccessToken(value=body["access_token"], expires_in=float(expires_in))
