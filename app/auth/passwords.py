"""Argon2id hashing and the password policy."""

from __future__ import annotations

import secrets
from functools import cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

MAX_LENGTH = 128

# argon2-cffi's defaults follow RFC 9106's low-memory profile.
_hasher = PasswordHasher()


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def needs_rehash(password_hash: str) -> bool:
    return _hasher.check_needs_rehash(password_hash)


@cache
def _decoy_hash() -> str:
    return _hasher.hash(secrets.token_urlsafe(16))


def spend_verification_time(password: str) -> None:
    """Verify against a decoy so an unknown username takes as long as a wrong password."""
    verify_password(_decoy_hash(), password)


def policy_problems(password: str, *, username: str, min_length: int) -> list[str]:
    """Why a new password is refused; empty when it is acceptable."""
    problems = []
    if len(password) < min_length:
        problems.append(f"Use at least {min_length} characters.")
    if len(password) > MAX_LENGTH:
        problems.append(f"Use at most {MAX_LENGTH} characters.")
    if password.strip().casefold() == username.casefold():
        problems.append("The password must not be the username.")
    return problems


def generate_temporary_password() -> str:
    return secrets.token_urlsafe(12)
