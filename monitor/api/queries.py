"""Reads the API needs that the Store does not offer as one call, built from its public methods.

No SQL here: only `monitor.store` speaks SQL. Lists and counts for today under the
configured policy read the stored current verdicts through indexes
(`monitor.checks.verdicts.CurrentVerdicts`); other dates judge from the evidence,
cached per (as-of date, data version) so that repeated reads do not recompute it.
"""

from __future__ import annotations

import threading
from collections import Counter, OrderedDict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any, Generic, TypeVar

from monitor.api.context import ApiContext
from monitor.checks.verdicts import AccountVerdict, CurrentVerdicts, verdicts_at
from monitor.dates import end_of_day
from monitor.models import FAILED_OUTCOMES, MAX_ID, Outcome, State
from monitor.records import status_record
from monitor.store import Store, VerdictQuery

T = TypeVar("T")


class VersionedCache(Generic[T]):
    """A small LRU of computed values keyed by (key, data version), one computation at a time.

    Concurrent requests for the same missing key wait for the first one's result
    instead of all computing it (100,000 verdicts take seconds).
    """

    def __init__(self, size: int = 4, max_age_s: float | None = None):
        self._size = size
        self._max_age_s = max_age_s
        self._items: OrderedDict[Any, tuple[Any, float, T]] = OrderedDict()
        self._lock = threading.Lock()
        self._key_locks: dict[Any, threading.Lock] = {}

    def get(self, key: Any, version: Any, compute: Callable[[], T]) -> T:
        import time

        with self._lock:
            key_lock = self._key_locks.setdefault(key, threading.Lock())
        with key_lock:
            with self._lock:
                hit = self._items.get(key)
                if hit is not None and hit[0] == version and not self._expired(hit[1], time):
                    self._items.move_to_end(key)
                    return hit[2]
            value = compute()
            with self._lock:
                self._items[key] = (version, time.monotonic(), value)
                self._items.move_to_end(key)
                while len(self._items) > self._size:
                    old, _ = self._items.popitem(last=False)
                    self._key_locks.pop(old, None)
            return value

    def _expired(self, at: float, time: Any) -> bool:
        return self._max_age_s is not None and time.monotonic() - at > self._max_age_s

    def clear(self) -> None:
        with self._lock:
            self._items.clear()


# -- the verdict index: every account's filterable fields and state at a date ----------------


@dataclass(frozen=True, slots=True)
class IndexEntry:
    """What list filters need of one account; full records are built only for a page."""

    id: int
    platform: str
    unit_id: int
    unit: str
    region: str
    name: str
    state: str
    label: str
    findings: tuple[str, ...] = ()  # roster problems (kinds), as the report lists them


@dataclass(slots=True)
class Filters:
    """The list filters of /api/accounts and /problems (None = any)."""

    unit: str | None = None
    region: str | None = None
    platform: str | None = None
    states: frozenset[str] | None = None
    q: str | None = None
    # Only accounts with a roster problem (名单问题).
    with_findings: bool = False
    # These states, or any account with a roster problem (the problem list's default).
    attention: frozenset[str] | None = None
    # The caller's units (a unit user's scope, by name); None = every unit.
    units: frozenset[str] | None = None

    def matches(self, e: IndexEntry) -> bool:
        if self.units is not None and e.unit not in self.units:
            return False
        if self.unit is not None:
            wanted = str(e.unit_id) if self.unit.isdigit() else e.unit
            if wanted != self.unit:
                return False
        if self.region is not None and e.region != self.region:
            return False
        if self.platform is not None and e.platform != self.platform:
            return False
        if self.states is not None and e.state not in self.states:
            return False
        if self.with_findings and not e.findings:
            return False
        if self.attention is not None and e.state not in self.attention and not e.findings:
            return False
        return not (self.q and self.q not in e.name)

    def key(self) -> tuple[Any, ...]:
        return (self.unit, self.region, self.platform, self.states, self.q, self.with_findings,
                self.attention, self.units)  # fmt: skip


@dataclass(slots=True)
class UnitRow:
    """A unit on the dashboard: its id, name and regions (roster order)."""

    id: int
    name: str
    regions: list[str] = field(default_factory=list)


class Queries:
    """The composed reads, with their caches, for one app."""

    def __init__(self, ctx: ApiContext):
        self.ctx = ctx
        self._index: VersionedCache[list[IndexEntry]] = VersionedCache(size=4)
        self._filtered: VersionedCache[list[IndexEntry]] = VersionedCache(size=64)
        # Source health scans every account's recent observations: recompute at most
        # once a minute even while a daemon keeps writing.
        self._health: VersionedCache[dict[str, Counter[str]]] = VersionedCache(size=1, max_age_s=60)

    # -- verdicts ------------------------------------------------------------------------

    def index(self, as_of: date) -> list[IndexEntry]:
        """Every (non-retired) account's filter fields and state at the end of `as_of`."""
        return self._index.get(as_of, self.ctx.data_version(), lambda: self._build_index(as_of))

    def _build_index(self, as_of: date) -> list[IndexEntry]:
        items = verdicts_at(self.ctx.store(), as_of, self.ctx.settings.policy, self.ctx.tz)
        return [
            IndexEntry(
                id=i.account.id,
                platform=i.account.platform.value,
                unit_id=i.account.unit_id,
                unit=i.account.unit,
                region=i.account.region,
                name=i.account.name,
                state=i.verdict.state.value,
                label=i.verdict.label,
                findings=tuple(k for k in i.findings().split(",") if k),
            )
            for i in items
        ]

    # -- today's lists and counts from the stored verdicts --------------------------------

    def _current(self, as_of: date) -> CurrentVerdicts | None:
        """The stored verdicts, when they can answer for `as_of` (today, configured policy)."""
        if as_of != self.ctx.today():
            return None
        return CurrentVerdicts(self.ctx.store(), self.ctx.settings)

    def _query(self, filters: Filters) -> VerdictQuery | None:
        """The stored-verdict query for `filters`; None when they can match nothing."""
        unit: int | None = None
        store = self.ctx.store()
        if filters.unit is not None:
            # ASCII digits only ("²".isdigit() is true too); past 64 bits no unit has the id.
            if filters.unit.isascii() and filters.unit.isdigit():
                unit = int(filters.unit)
                if unit > MAX_ID:
                    return None
            else:
                found = store.unit_id(filters.unit)
                if found is None:
                    return None
                unit = found
        allowed: frozenset[int] | None = None
        if filters.units is not None:
            allowed = frozenset(
                i for i in (store.unit_id(name) for name in filters.units) if i is not None
            )
            if not allowed or (unit is not None and unit not in allowed):
                return None
        return VerdictQuery(
            unit=unit,
            unit_ids=allowed,
            region=filters.region,
            platform=filters.platform,
            states=filters.states,
            name_contains=filters.q,
            with_findings=filters.with_findings,
            attention=filters.attention,
        )

    def page(
        self, as_of: date, filters: Filters, limit: int | None, offset: int = 0
    ) -> tuple[list[int], int]:
        """Ids of one page (None: all) of matching accounts (roster order), and how many match."""
        current = self._current(as_of)
        if current is None:
            matched = self.filtered(as_of, filters)
            end = None if limit is None else offset + limit
            return [e.id for e in matched[offset:end]], len(matched)
        query = self._query(filters)
        if query is None:
            return [], 0
        found = current.page(as_of, query, limit=limit, offset=offset)
        return found.ids, found.total

    def layout(self, as_of: date, filters: Filters) -> tuple[list[str], list[UnitRow]]:
        """Regions and units of the matching accounts, as the roster lists them (no states)."""
        units: dict[int, UnitRow] = {}
        regions: dict[str, None] = {}
        current = self._current(as_of)
        if current is None:
            rows = [(e.unit_id, e.unit, e.region) for e in self.filtered(as_of, filters)]
        else:
            query = self._query(filters)
            rows = current.groups(as_of, query) if query is not None else []
        for unit_id, name, region in rows:
            unit = units.setdefault(unit_id, UnitRow(unit_id, name))
            if region not in unit.regions:
                unit.regions.append(region)
            regions.setdefault(region, None)
        return list(regions), list(units.values())

    def state_counts(self, as_of: date, filters: Filters | None = None) -> Tally:
        """Accounts per state (and the 合格率) of the accounts matching `filters`."""
        return self._grouped(as_of, filters or Filters(), "state").get((), Tally())

    def unit_counts(self, as_of: date, filters: Filters | None = None) -> dict[int, Tally]:
        """Per unit id: its accounts per state (and with a roster problem)."""
        return {k[0]: t for k, t in self._grouped(as_of, filters or Filters(), "unit").items()}

    def region_counts(self, as_of: date, filters: Filters | None = None) -> dict[str, Tally]:
        """Per region: its accounts per state (and with a roster problem)."""
        return {k[0]: t for k, t in self._grouped(as_of, filters or Filters(), "region").items()}

    def _grouped(self, as_of: date, filters: Filters, by: str) -> dict[tuple[Any, ...], Tally]:
        """Tallies of the accounts matching `filters`, per group (`by`: state, unit, region)."""
        out: dict[tuple[Any, ...], Tally] = {}
        current = self._current(as_of)
        if current is None:
            for e in self.filtered(as_of, filters):
                group = {"state": (), "unit": (e.unit_id,), "region": (e.region,)}[by]
                out.setdefault(group, Tally()).add(e.state, e.findings)
            return out
        query = self._query(filters)
        if query is None:
            return out
        grouping = "state,roster" if by == "state" else f"{by},state,roster"
        for key, n in current.counts(as_of, query, by=grouping).items():
            t = out.setdefault(tuple(key[:-2]), Tally())
            state, roster = key[-2], key[-1]
            t.states[state] += n
            t.roster += n if roster else 0
        return out

    def filtered(self, as_of: date, filters: Filters) -> list[IndexEntry]:
        """The index entries matching `filters`; repeated filters are answered from a cache."""
        version = self.ctx.data_version()
        key = (as_of, *filters.key())
        return self._filtered.get(
            key, version, lambda: [e for e in self.index(as_of) if filters.matches(e)]
        )

    def account_alerts(self, account: int) -> list[dict[str, Any]]:
        """One account's open alerts with roster fields (indexed lookup, not a full scan)."""
        store = self.ctx.store()
        ids = [row.id for row in store.open_alerts(account=account)]
        return store.alert_listing(self.ctx.now(), open_only=True, ids=ids) if ids else []

    def verdicts(
        self, ids: Sequence[int], as_of: date, *, include_retired: bool = False
    ) -> list[AccountVerdict]:
        """Full verdicts of some accounts, in the order of `ids`."""
        if not ids:
            return []
        items = verdicts_at(
            self.ctx.store(),
            as_of,
            self.ctx.settings.policy,
            self.ctx.tz,
            ids=list(ids),
            include_retired=include_retired,
        )
        by_id = {i.account.id: i for i in items}
        return [by_id[i] for i in ids if i in by_id]

    def records(self, ids: Sequence[int], as_of: date) -> list[dict[str, Any]]:
        """`monitor status --json` records of some accounts, in the order of `ids`."""
        return [status_record(i, self.ctx.tz) for i in self.verdicts(ids, as_of)]

    # -- alerts --------------------------------------------------------------------------

    def alerts(
        self,
        *,
        open_only: bool = True,
        unit: str | None = None,
        region: str | None = None,
        unit_accounts: Iterable[int] | None = None,
        units: frozenset[str] | None = None,
    ) -> list[dict[str, Any]]:
        """Alerts, newest first, with roster fields; filtered by unit (id or name) and region.

        `units` (a unit user's scope) keeps its units' alerts only: never a source's.
        """
        rows = self.ctx.store().alert_listing(self.ctx.now(), open_only=open_only)
        members = set(unit_accounts) if unit_accounts is not None else None
        out = []
        for r in rows:
            if units is not None and r.get("unit") not in units:
                continue
            if unit is not None and not _alert_in_unit(r, unit, members):
                continue
            if region is not None and r.get("region") != region:
                continue
            out.append(r)
        return out

    # -- source health -------------------------------------------------------------------

    def source_outcomes(self, since_hours: float = 24.0) -> dict[str, Counter[str]]:
        """Checks per source and outcome observed in the last `since_hours` hours."""
        return self._health.get(
            since_hours,
            self.ctx.data_version(),
            lambda: source_outcomes_since(self.ctx.store(), self.ctx.now(), since_hours),
        )

    def source_health(self) -> list[dict[str, Any]]:
        """Per source: checks in the last day, failures, their share, backoff pause."""
        store = self.ctx.store()
        now = self.ctx.now()
        paused = store.paused_sources(now)
        out = []
        for source, counts in sorted(self.source_outcomes().items()):
            total = sum(counts.values())
            failed = sum(n for outcome, n in counts.items() if Outcome(outcome) in FAILED_OUTCOMES)
            until = paused.get(source)
            out.append(
                {
                    "source": source,
                    "checks": total,
                    "failed": failed,
                    "failed_share": round(failed / total, 4) if total else None,
                    "outcomes": dict(sorted(counts.items())),
                    "paused_until": until.astimezone(self.ctx.tz).isoformat() if until else None,
                }
            )
        return out

    # -- outbox --------------------------------------------------------------------------

    def delivery_counts(self) -> dict[str, int]:
        """Pending (not delivered, not abandoned) and failed (abandoned) deliveries."""
        pending = failed = 0
        for d in self.ctx.store().deliveries():
            if d.failed_at is not None:
                failed += 1
            elif d.delivered_at is None:
                pending += 1
        return {"pending": pending, "failed": failed}


def _alert_in_unit(row: dict[str, Any], unit: str, members: set[int] | None) -> bool:
    if unit.isdigit():
        if row.get("unit_id") is not None:
            return str(row["unit_id"]) == unit
        return members is not None and row.get("account") in members
    return row.get("unit") == unit


def source_outcomes_since(
    store: Store, now: datetime, since_hours: float = 24.0
) -> dict[str, Counter[str]]:
    """Checks per source and outcome observed since `now - since_hours`."""
    out: dict[str, Counter[str]] = {}
    for (source, outcome), n in store.observation_counts_since(
        now - timedelta(hours=since_hours)
    ).items():
        out.setdefault(source, Counter())[outcome] += n
    return out


@dataclass(slots=True)
class Tally:
    """Accounts per state, and the 合格率 as the monthly report defines it."""

    states: Counter[str] = field(default_factory=Counter)
    # Accounts with a roster problem (名单问题): listed as the report lists them, and,
    # as in the report, not part of the 合格率.
    roster: int = 0

    def add(self, state: str, findings: tuple[str, ...] = ()) -> None:
        self.states[state] += 1
        self.roster += bool(findings)

    @property
    def accounts(self) -> int:
        return sum(self.states.values())

    @property
    def judged(self) -> int:
        """Accounts with a verdict: every state but unknown (the report's denominator)."""
        return self.accounts - self.states[State.UNKNOWN]

    @property
    def problems(self) -> int:
        return self.states[State.ZOMBIE] + self.states[State.SUSPENDED]

    @property
    def pass_rate(self) -> float | None:
        return (self.judged - self.problems) / self.judged if self.judged else None


def tally(entries: Iterable[IndexEntry]) -> Tally:
    t = Tally()
    for e in entries:
        t.add(e.state, e.findings)
    return t


def moment_of(ctx: ApiContext, as_of: date) -> datetime:
    """The end of an as-of date, when roster versions and alerts are read."""
    return end_of_day(as_of, ctx.tz)
