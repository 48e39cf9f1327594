"""Passwords (argon2id), API tokens and session ids: made here, stored only as hashes."""

from __future__ import annotations

import hashlib
import secrets

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

MIN_PASSWORD_LENGTH = 10
_hasher = PasswordHasher()
# A hash of a password nobody has: verified against when the user does not exist, so a
# wrong name costs the same time as a wrong password (no probing of names by timing).
_DUMMY_HASH = _hasher.hash(secrets.token_urlsafe(16))


class PasswordProblem(ValueError):
    """A password that cannot be accepted (too short, not one line)."""


def check_password_rules(password: str) -> None:
    """Refuse passwords that are too short or that are not one line of text."""
    if len(password) < MIN_PASSWORD_LENGTH:
        raise PasswordProblem(f"the password needs at least {MIN_PASSWORD_LENGTH} characters")
    if any(c in password for c in "\r\n\x00"):
        raise PasswordProblem("the password must be one line")


def hash_password(password: str) -> str:
    """The argon2id hash (with its salt and parameters) to store."""
    return _hasher.hash(password)


def verify_password(stored: str | None, given: str) -> bool:
    """Whether `given` matches the stored hash; a missing hash costs the same time and fails."""
    try:
        return _hasher.verify(stored or _DUMMY_HASH, given) and stored is not None
    except (VerificationError, InvalidHashError):
        return False


def new_secret() -> str:
    """A random, URL-safe secret (API token, session id, CSRF token): 256 bits."""
    return secrets.token_urlsafe(32)


def digest(secret: str) -> str:
    """What is stored of a token or session id: its SHA-256 (the secret itself is random)."""
    return hashlib.sha256(secret.encode()).hexdigest()
