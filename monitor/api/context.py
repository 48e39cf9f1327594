"""What every request shares: settings, one Store per worker thread, the data version.

SQLite connections are cheap but not free to open (WAL pragma, schema read), so
each worker thread keeps one read/write connection for the app's lifetime instead
of opening one per request. Migrations run once, when the app is created.
"""

from __future__ import annotations

import contextlib
import os
import threading
from datetime import date, datetime

from monitor.dates import today, utcnow
from monitor.settings import Settings
from monitor.store import Store


class ApiContext:
    """Per-app state: settings, the database path and the per-thread stores."""

    def __init__(self, settings: Settings, db_path: str):
        self.settings = settings
        self.db_path = str(db_path)
        self.tz = settings.tz
        self._local = threading.local()
        self._stores: list[Store] = []
        self._lock = threading.Lock()
        # Bumped by this process's own writes, so its caches never serve stale data
        # even when the file's mtime has not moved (coarse timestamps).
        self._generation = 0

    def store(self) -> Store:
        """This thread's Store (opened on first use, without re-running migrations)."""
        store = getattr(self._local, "store", None)
        if store is None:
            store = Store.open(self.db_path, migrate=False)
            self._local.store = store
            with self._lock:
                self._stores.append(store)
        return store

    def wrote(self) -> None:
        """Record a write made through the API (invalidates derived caches)."""
        with self._lock:
            self._generation += 1

    def data_version(self) -> tuple[int, ...]:
        """Changes whenever any process commits to the database.

        In WAL mode a commit appends to `<db>-wal` (its mtime and usually its size
        move) and a checkpoint rewrites the main file; together with our own write
        counter that is a cheap, SQL-free change detector.
        """
        parts: list[int] = [self._generation]
        for path in (self.db_path, self.db_path + "-wal"):
            try:
                st = os.stat(path)
            except OSError:
                parts += [0, 0]
                continue
            parts += [st.st_mtime_ns, st.st_size]
        return tuple(parts)

    def now(self) -> datetime:
        return utcnow()

    def today(self) -> date:
        return today(self.tz)

    def close(self) -> None:
        """Close every thread's connection (at shutdown)."""
        with self._lock:
            stores, self._stores = self._stores, []
        for store in stores:
            # A connection of a finished thread may be gone already.
            with contextlib.suppress(Exception):
                store.close()
        self._local = threading.local()
