"""The only package that speaks SQL: one SQLite file (WAL) behind typed methods.

`Store.open(path)` gives one store; `with store.transaction():` is a unit of work
(it yields the store, never the connection). The store is composed of one table
group per module, each with its typed rows beside its queries:

    base          connection, transactions, migrations (schema.py), inspection
    roster        units, accounts, roster versions; accounts and evidence at a moment
    observations  observations, adapters' saved state
    verdicts      current verdicts, flips
    schedule      the daemon's schedule and claims
    alerts        alerts
    cases         notices (frozen files), rectification cases, case events
    outbox        notification deliveries
    health        source health, heartbeats
    users         users, API tokens and sessions (digests), sign-in failures, audit log
    sent_checks   checks sent to fetch workers (scale out), keyed by check id
    sites         government websites, their columns, fetches of their pages

Schema changes are named migrations, applied in order inside a transaction on open
and recorded in `schema_migrations`. Timestamps are stored as fixed-width UTC ISO
strings (see `monitor.dates.to_db`), so text order is time order.

sqlite-utils does what it does well here: introspection (`table_counts`, `dump`)
and bulk writes of whole rows (`add_observations`, `save_verdicts`). Plain SQL is
kept where the query is the point: the roster in force at a moment (correlated
subqueries over versions), claims by conditional UPDATE ... RETURNING, the partial
unique indexes behind "one open alert", and the filtered, indexed verdict lists.

Errors: StoreError
          +-- DatabaseVersionError  (the file is newer than this program)
          +-- AccountLookupError    (no account, or an ambiguous one, for a query)
"""

from __future__ import annotations

from monitor.store.alerts import AlertRow, AlertTables
from monitor.store.base import StoreBase
from monitor.store.cases import CaseEvent, CaseRow, CaseTables, NoticeFile, NoticeRow
from monitor.store.errors import AccountLookupError, DatabaseVersionError, StoreError
from monitor.store.health import HealthTables, SourceHealth
from monitor.store.observations import ObservationTables, SourceState
from monitor.store.outbox import DeliveryRow, OutboxTables
from monitor.store.roster import (
    VERSIONED_FIELDS,
    AccountChange,
    AccountState,
    ImportRecord,
    RosterTables,
    StoredAccount,
)
from monitor.store.schedule import ScheduleRow, ScheduleTables
from monitor.store.schema import MIGRATIONS
from monitor.store.sent_checks import SentCheck, SentCheckTables
from monitor.store.sites import (
    ColumnEntry,
    ColumnRow,
    SiteEntry,
    SiteEvidence,
    SiteObservation,
    SiteRow,
    SiteTables,
)
from monitor.store.users import ROLES, AuditRow, SessionRow, UserRow, UserTables
from monitor.store.verdicts import Flip, VerdictQuery, VerdictRow, VerdictTables


class Store(
    RosterTables,
    ObservationTables,
    VerdictTables,
    ScheduleTables,
    AlertTables,
    CaseTables,
    OutboxTables,
    HealthTables,
    UserTables,
    SentCheckTables,
    SiteTables,
    StoreBase,
):
    """A monitor database file. Open with `Store.open(path)`; use as a context manager."""


__all__ = [
    "MIGRATIONS",
    "ROLES",
    "VERSIONED_FIELDS",
    "AccountChange",
    "AccountLookupError",
    "AccountState",
    "AlertRow",
    "AuditRow",
    "CaseEvent",
    "CaseRow",
    "ColumnEntry",
    "ColumnRow",
    "DatabaseVersionError",
    "DeliveryRow",
    "Flip",
    "ImportRecord",
    "NoticeFile",
    "NoticeRow",
    "ScheduleRow",
    "SentCheck",
    "SessionRow",
    "SiteEntry",
    "SiteEvidence",
    "SiteObservation",
    "SiteRow",
    "SourceHealth",
    "SourceState",
    "Store",
    "StoreError",
    "StoredAccount",
    "UserRow",
    "VerdictQuery",
    "VerdictRow",
]
