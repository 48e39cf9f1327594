"""Users, their API tokens and sessions (as digests), sign-in failures, the audit log."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from monitor.dates import from_db, to_db
from monitor.store.base import StoreBase

ROLES = ("admin", "office", "unit")


@dataclass(frozen=True, slots=True)
class UserRow:
    """A user: role, the units a unit user is limited to, whether it can sign in."""

    id: int
    name: str
    role: str
    units: tuple[str, ...]
    password_hash: str | None
    created_at: datetime
    disabled_at: datetime | None
    tokens: int = 0

    @property
    def active(self) -> bool:
        return self.disabled_at is None


@dataclass(frozen=True, slots=True)
class SessionRow:
    """A signed-in browser: whose, its CSRF token, until when."""

    user: UserRow
    csrf: str
    expires_at: datetime


@dataclass(frozen=True, slots=True)
class AuditRow:
    id: int
    at: datetime
    who: str
    role: str | None
    address: str | None
    action: str
    status: int | None
    detail: dict[str, Any]


_USER_COLUMNS = (
    "u.id, u.name, u.role, u.units, u.password_hash, u.created_at, u.disabled_at, "
    "(SELECT COUNT(*) FROM api_tokens t WHERE t.user = u.id)"
)


def _user(row: Any) -> UserRow:
    created = from_db(row[5])
    assert created is not None
    return UserRow(
        id=int(row[0]),
        name=row[1],
        role=row[2],
        units=tuple(json.loads(row[3])),
        password_hash=row[4],
        created_at=created,
        disabled_at=from_db(row[6]),
        tokens=int(row[7]),
    )


class UserTables(StoreBase):
    """Users and what authenticates them; failures that lock sign-in; the audit log."""

    # -- users ---------------------------------------------------------------------

    def add_user(
        self,
        name: str,
        role: str,
        units: tuple[str, ...],
        password_hash: str | None,
        now: datetime,
    ) -> int:
        cur = self.conn.execute(
            "INSERT INTO users (name, role, units, password_hash, created_at) "
            "VALUES (?, ?, ?, ?, ?)",
            (name, role, json.dumps(list(units), ensure_ascii=False), password_hash, to_db(now)),
        )
        return int(cur.lastrowid or 0)

    def user(self, name: str) -> UserRow | None:
        row = self.conn.execute(
            f"SELECT {_USER_COLUMNS} FROM users u WHERE u.name = ?", (name,)
        ).fetchone()
        return _user(row) if row else None

    def users(self) -> list[UserRow]:
        rows = self.conn.execute(f"SELECT {_USER_COLUMNS} FROM users u ORDER BY u.id")
        return [_user(r) for r in rows]

    def has_active_users(self) -> bool:
        row = self.conn.execute("SELECT 1 FROM users WHERE disabled_at IS NULL LIMIT 1")
        return row.fetchone() is not None

    def disable_user(self, name: str, now: datetime) -> bool:
        """Disable a user and end its sessions and tokens; False when there is no such user."""
        user = self.user(name)
        if user is None:
            return False
        self.conn.execute(
            "UPDATE users SET disabled_at = COALESCE(disabled_at, ?) WHERE id = ?",
            (to_db(now), user.id),
        )
        self.conn.execute("DELETE FROM api_tokens WHERE user = ?", (user.id,))
        self.conn.execute("DELETE FROM sessions WHERE user = ?", (user.id,))
        return True

    # -- API tokens ----------------------------------------------------------------

    def replace_token(self, user_id: int, digest: str, now: datetime) -> None:
        """The user's one API token from now on (a previous one stops working)."""
        self.conn.execute("DELETE FROM api_tokens WHERE user = ?", (user_id,))
        self.conn.execute(
            "INSERT INTO api_tokens (digest, user, created_at) VALUES (?, ?, ?)",
            (digest, user_id, to_db(now)),
        )

    def user_by_token(self, digest: str) -> UserRow | None:
        row = self.conn.execute(
            f"SELECT {_USER_COLUMNS} FROM api_tokens t JOIN users u ON u.id = t.user "
            "WHERE t.digest = ? AND u.disabled_at IS NULL",
            (digest,),
        ).fetchone()
        return _user(row) if row else None

    # -- sessions ------------------------------------------------------------------

    def add_session(
        self,
        digest: str,
        user_id: int,
        csrf: str,
        now: datetime,
        expires_at: datetime,
        address: str | None,
    ) -> None:
        self.conn.execute(
            "INSERT INTO sessions (digest, user, csrf, created_at, expires_at, address) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            (digest, user_id, csrf, to_db(now), to_db(expires_at), address),
        )

    def session(self, digest: str, now: datetime) -> SessionRow | None:
        """The live session with this digest (its user active), or None."""
        row = self.conn.execute(
            f"SELECT {_USER_COLUMNS}, s.csrf, s.expires_at FROM sessions s "
            "JOIN users u ON u.id = s.user "
            "WHERE s.digest = ? AND s.expires_at > ? AND u.disabled_at IS NULL",
            (digest, to_db(now)),
        ).fetchone()
        if row is None:
            return None
        expires = from_db(row[9])
        assert expires is not None
        return SessionRow(_user(row[:8]), row[8], expires)

    def end_session(self, digest: str) -> None:
        self.conn.execute("DELETE FROM sessions WHERE digest = ?", (digest,))

    def end_expired_sessions(self, now: datetime) -> int:
        cur = self.conn.execute("DELETE FROM sessions WHERE expires_at <= ?", (to_db(now),))
        return cur.rowcount

    # -- sign-in failures ----------------------------------------------------------

    def locked_until(self, key: str, now: datetime) -> datetime | None:
        """When the lock on `key` (a user name or an address) ends, if it is locked now."""
        row = self.conn.execute(
            "SELECT locked_until FROM login_failures WHERE key = ? AND locked_until > ?",
            (key, to_db(now)),
        ).fetchone()
        return from_db(row[0]) if row else None

    def count_failure(
        self, key: str, now: datetime, *, lock_after: int, lock_for_s: float, forget_after_s: float
    ) -> int:
        """Count one failed sign-in for `key`; lock it at `lock_after` failures in a row.

        Failures older than `forget_after_s` start the count afresh. Returns the count.
        """
        from datetime import timedelta

        row = self.conn.execute(
            "SELECT failures, last_at FROM login_failures WHERE key = ?", (key,)
        ).fetchone()
        failures = 1
        if row is not None:
            last = from_db(row[1])
            if last is not None and (now - last).total_seconds() <= forget_after_s:
                failures = int(row[0]) + 1
        locked = to_db(now + timedelta(seconds=lock_for_s)) if failures >= lock_after else None
        if locked is not None:
            failures = 0  # after the lock, a new run of failures is needed for the next one
        self.conn.execute(
            "INSERT INTO login_failures (key, failures, last_at, locked_until) "
            "VALUES (?, ?, ?, ?) ON CONFLICT(key) DO UPDATE SET failures = excluded.failures, "
            "last_at = excluded.last_at, "
            "locked_until = COALESCE(excluded.locked_until, login_failures.locked_until)",
            (key, failures, to_db(now), locked),
        )
        return lock_after if locked is not None else failures

    def clear_failures(self, key: str) -> None:
        self.conn.execute("DELETE FROM login_failures WHERE key = ?", (key,))

    # -- audit ---------------------------------------------------------------------

    def audit(
        self,
        now: datetime,
        who: str,
        action: str,
        *,
        role: str | None = None,
        address: str | None = None,
        status: int | None = None,
        detail: dict[str, Any] | None = None,
    ) -> None:
        """Append one entry to the audit log."""
        self.conn.execute(
            "INSERT INTO audit (at, who, role, address, action, status, detail) "
            "VALUES (?, ?, ?, ?, ?, ?, ?)",
            (
                to_db(now),
                who,
                role,
                address,
                action,
                status,
                json.dumps(detail or {}, ensure_ascii=False),
            ),
        )

    def audit_entries(
        self, *, limit: int = 100, offset: int = 0, who: str | None = None
    ) -> tuple[list[AuditRow], int]:
        """Audit entries (of one user, or all), newest first, and how many there are."""
        where, args = ("WHERE who = ?", [who]) if who is not None else ("", [])
        total = int(self.conn.execute(f"SELECT COUNT(*) FROM audit {where}", args).fetchone()[0])
        rows = self.conn.execute(
            "SELECT id, at, who, role, address, action, status, detail FROM audit "
            f"{where} ORDER BY id DESC LIMIT ? OFFSET ?",
            [*args, limit, offset],
        )
        out = []
        for r in rows:
            at = from_db(r[1])
            assert at is not None
            out.append(AuditRow(int(r[0]), at, r[2], r[3], r[4], r[5], r[6], json.loads(r[7])))
        return out, total
