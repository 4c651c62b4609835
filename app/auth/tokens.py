"""Access tokens (short-lived JWTs) and opaque refresh tokens."""

from __future__ import annotations

import functools
import hashlib
import secrets
import time
import uuid
from dataclasses import dataclass
from datetime import datetime

import jwt

from app.auth.errors import TokenExpired, TokenInvalid
from app.config import Settings, SettingsError
from app.i18n import _

# Pinned: the verifier never lets the token choose its own algorithm ("alg": "none", RS/HS confusion).
ALGORITHM = "HS256"
REQUIRED_CLAIMS = ["exp", "iat", "sub", "sid", "jti", "iss", "aud"]


@dataclass(frozen=True)
class AccessClaims:
    user_id: int
    session_id: uuid.UUID
    role: str
    enterprise_id: int | None


def encode_access_token(
    settings: Settings,
    *,
    user_id: int,
    session_id: uuid.UUID,
    role: str,
    enterprise_id: int | None,
    now: datetime,
) -> str:
    claims = {
        "iss": settings.jwt_issuer,
        "aud": settings.jwt_audience,
        "sub": str(user_id),
        "sid": str(session_id),
        "role": role,
        "ent": enterprise_id,
        "jti": uuid.uuid4().hex,
        "iat": int(now.timestamp()),
        "exp": int((now + settings.access_token_ttl).timestamp()),
    }
    return jwt.encode(claims, _secret(settings), algorithm=ALGORITHM)


def decode_access_token(settings: Settings, token: str) -> AccessClaims:
    claims, expires_at = _verified(_secret(settings), settings.jwt_audience, settings.jwt_issuer, token)
    # The same test PyJWT makes (no leeway), on every use: only the signature check is remembered.
    if expires_at <= time.time():
        raise TokenExpired(_("The access token has expired; refresh it."))
    return claims


def _secret(settings: Settings) -> str:
    # Offline commands start without JWT_SECRET (app/cli.py); one that reaches for a token stops here, plainly.
    if settings.jwt_secret is None:
        raise SettingsError("JWT_SECRET must be set to issue or check tokens; this process was started without it.")
    return settings.jwt_secret


# An app sends the same token for its whole 15 minutes: check its signature and claims once. What a token says
# never changes, and whether its sign-in still holds is asked of the database on every request anyway.
@functools.lru_cache(maxsize=8192)
def _verified(secret: str, audience: str, issuer: str, token: str) -> tuple[AccessClaims, int]:
    try:
        claims = jwt.decode(
            token,
            secret,
            algorithms=[ALGORITHM],
            audience=audience,
            issuer=issuer,
            options={"require": REQUIRED_CLAIMS},
        )
        return (
            AccessClaims(
                user_id=int(claims["sub"]),
                session_id=uuid.UUID(claims["sid"]),
                role=str(claims.get("role")),
                enterprise_id=claims.get("ent"),
            ),
            int(claims["exp"]),
        )
    except jwt.ExpiredSignatureError:
        raise TokenExpired(_("The access token has expired; refresh it.")) from None
    except (jwt.InvalidTokenError, ValueError, TypeError):
        raise TokenInvalid(_("The access token is not valid.")) from None


def new_refresh_token() -> str:
    return secrets.token_urlsafe(32)


def hash_refresh_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()
