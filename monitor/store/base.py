"""The connection: opening (WAL, foreign keys), transactions, migrations, inspection."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Self

import sqlite_utils

from monitor.dates import to_db, utcnow
from monitor.links import http_link
from monitor.models import (
    identity_text,
)
from monitor.store.errors import DatabaseVersionError, StoreError
from monitor.store.schema import MIGRATIONS, _statements


class StoreBase:
    """The connection, its lifecycle, transactions and migrations; table groups build on it."""

    def __init__(self, conn: sqlite3.Connection, path: str):
        self.conn = conn
        self.path = path
        self.db = sqlite_utils.Database(conn)

    # -- lifecycle -----------------------------------------------------------

    @classmethod
    def open(cls, path: str | Path, *, migrate: bool = True) -> Self:
        """Open (creating if needed) the database, in WAL mode, with migrations applied."""
        path = str(path)
        parent = Path(path).parent
        if path != ":memory:" and not parent.exists():
            raise StoreError(f"database folder does not exist: {parent}")
        try:
            conn = sqlite3.connect(path, timeout=30, isolation_level=None, check_same_thread=False)
            conn.create_function("identity_text", 1, identity_text, deterministic=True)
            conn.create_function("http_link", 1, http_link, deterministic=True)
            conn.execute("PRAGMA busy_timeout = 30000")
            conn.execute("PRAGMA foreign_keys = ON")
            mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
            conn.execute("PRAGMA synchronous = NORMAL")
        except sqlite3.DatabaseError as exc:
            raise StoreError(f"{path}: not a usable SQLite database ({exc})") from exc
        if path != ":memory:" and str(mode).lower() != "wal":
            raise StoreError(f"{path}: could not switch to WAL mode (got {mode})")
        store = cls(conn, path)
        if migrate:
            store.migrate()
        return store

    def close(self) -> None:
        self.conn.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextmanager
    def transaction(self) -> Iterator[Self]:
        """One unit of work (BEGIN IMMEDIATE) on this store: all of it lands, or none.

        Nested uses join the outer one. It yields the store, never the connection.
        """
        if self.conn.in_transaction:
            yield self
            return
        self.conn.execute("BEGIN IMMEDIATE")
        try:
            yield self
        except BaseException:
            self.conn.execute("ROLLBACK")
            raise
        else:
            self.conn.execute("COMMIT")

    # -- migrations ----------------------------------------------------------

    def applied_migrations(self) -> list[str]:
        if "schema_migrations" not in self.db.table_names():
            return []
        return [r[0] for r in self.conn.execute("SELECT name FROM schema_migrations ORDER BY name")]

    def migrate(self, *, upto: str | None = None) -> list[str]:
        """Apply every pending migration (or those up to `upto`); returns their names."""
        known = [name for name, _ in MIGRATIONS]
        with self.transaction():
            self.conn.execute(
                "CREATE TABLE IF NOT EXISTS schema_migrations "
                "(name TEXT PRIMARY KEY, applied_at TEXT NOT NULL)"
            )
            done = set(self.applied_migrations())
            unknown = sorted(done - set(known))
            if unknown:
                raise DatabaseVersionError(
                    f"{self.path} was written by a newer monitor (migrations {', '.join(unknown)}); "
                    "upgrade the monitor before using this file"
                )
            applied = []
            for name, sql in MIGRATIONS:
                if name in done:
                    continue
                for statement in _statements(sql):
                    self.conn.execute(statement)
                self.conn.execute(
                    "INSERT INTO schema_migrations (name, applied_at) VALUES (?, ?)",
                    (name, to_db(utcnow())),
                )
                applied.append(name)
                if name == upto:
                    break
        return applied

    # -- inspection --------------------------------------------------------------

    def table_counts(self) -> dict[str, int]:
        return {t: self.db[t].count for t in self.db.table_names()}

    def dump(self) -> dict[str, list[tuple[Any, ...]]]:
        """Every row of every table, for tests that prove nothing changed."""
        return {
            t: self.conn.execute(f"SELECT * FROM [{t}] ORDER BY rowid").fetchall()
            for t in sorted(self.db.table_names())
        }
