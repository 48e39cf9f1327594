"""The dashboard's sign-in: signed cookies, sessions, the lock-out after failures in a row."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from monitor.credentials import digest, new_secret, verify_password
from monitor.store import Store, UserRow

SESSION_COOKIE = "monitor_login"
# Before sign-in, the sign-in form's CSRF token lives in its own cookie (double submit).
CSRF_COOKIE = "monitor_csrf"
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "x-csrf-token"
SESSION_HOURS = 12
# Failures in a row that lock a user name (and, many more, an address) for a while.
LOCK_AFTER = 5
LOCK_ADDRESS_AFTER = 20
LOCK_FOR_S = 15 * 60
FORGET_FAILURES_AFTER_S = 60 * 60


class CookieSigner:
    """Signs cookie values with a key kept in memory (derived from api.token when set).

    The key never reaches the database; without api.token it is random per process,
    so sessions end when the server restarts.
    """

    def __init__(self, token: str | None):
        self._key = (
            hmac.new(token.encode(), b"monitor-session-signing", hashlib.sha256).digest()
            if token
            else secrets.token_bytes(32)
        )

    def sign(self, value: str) -> str:
        mac = hmac.new(self._key, value.encode(), hashlib.sha256).hexdigest()
        return f"{value}.{mac}"

    def unsign(self, signed: str | None) -> str | None:
        """The value of a cookie this server signed, or None (forged, damaged or absent)."""
        if not signed or "." not in signed:
            return None
        value, _, mac = signed.rpartition(".")
        expected = hmac.new(self._key, value.encode(), hashlib.sha256).hexdigest()
        return value if hmac.compare_digest(mac.encode(), expected.encode()) else None


@dataclass(frozen=True, slots=True)
class SignIn:
    """The outcome of one attempt: the new session's id, or why there is none."""

    session_id: str | None = None
    user: UserRow | None = None
    locked_until: datetime | None = None
    failures: int = 0


def sign_in(store: Store, name: str, password: str, address: str | None, now: datetime) -> SignIn:
    """Check a name and password against the lock-out and the stored hash; open a session.

    Every attempt on a locked name or address fails without looking at the password,
    so a brute force gets at most LOCK_AFTER guesses per name per lock period.
    """
    keys = [f"user:{name}"] + ([f"address:{address}"] if address else [])
    for key in keys:
        until = store.locked_until(key, now)
        if until is not None:
            return SignIn(locked_until=until)
    user = store.user(name)
    ok = verify_password(user.password_hash if user else None, password)
    if not ok or user is None or not user.active:
        with store.transaction():
            failures = store.count_failure(
                keys[0],
                now,
                lock_after=LOCK_AFTER,
                lock_for_s=LOCK_FOR_S,
                forget_after_s=FORGET_FAILURES_AFTER_S,
            )
            if address:
                store.count_failure(
                    keys[1],
                    now,
                    lock_after=LOCK_ADDRESS_AFTER,
                    lock_for_s=LOCK_FOR_S,
                    forget_after_s=FORGET_FAILURES_AFTER_S,
                )
        locks = [u for u in (store.locked_until(k, now) for k in keys) if u is not None]
        return SignIn(locked_until=max(locks) if locks else None, failures=failures)
    session_id = new_secret()
    with store.transaction():
        store.clear_failures(keys[0])
        store.end_expired_sessions(now)
        store.add_session(
            digest(session_id),
            user.id,
            new_secret(),
            now,
            now + timedelta(hours=SESSION_HOURS),
            address,
        )
    return SignIn(session_id=session_id, user=user)
