"""Verdicts: computed from evidence at any date, and each account's stored current verdict.

`verdicts_at` judges accounts at an as-of date from the evidence and roster then in
force (reports, past dates, other policies: always reproducible). The current
verdicts under the configured policy are also stored, one row per account, so lists
and counts for today read indexes instead of judging 100,000 accounts:

    refresh()        recompute some (or all) accounts for today; write changed rows and
                     one flip per change of state (record(), imports, reclassification)
    CurrentVerdicts  today's lists and counts from the rows; a row that no longer holds
                     (its valid_until passed, another policy) is judged on the fly

A row holds from its `as_of` until `valid_until`: the first day its verdict would
change with no new write (evidence ages out, a window is crossed, a roster version
takes effect), found by asking `classify` itself about later days.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta, tzinfo
from typing import Any

from adapters import NO_SOURCE_REASON, choose_source
from monitor.classify import Windows, classify, thresholds
from monitor.dates import end_of_day, local_date
from monitor.findings import roster_findings
from monitor.models import AccountView, MessageCode, RosterFacts, RosterStatus, State, Verdict
from monitor.settings import Policy, Settings
from monitor.store import AccountState, Flip, Store, VerdictQuery, VerdictRow


@dataclass(slots=True)
class AccountVerdict:
    """An account as it stood at the as-of date, and the verdict on it."""

    state: AccountState
    verdict: Verdict

    @property
    def account(self) -> AccountView:
        return self.state.account

    def findings(self) -> str:
        """Its roster problems' kinds (名单问题, as the report lists them), comma-separated."""
        found = roster_findings(
            self.verdict, self.state.evidence, self.account.name, self.state.last_outcome
        )
        return ",".join(f.kind.value for f in found)


def windows_of(policy: Policy) -> Windows:
    """The classifier's windows from a settings Policy (or anything with the same fields)."""
    return Windows(
        zombie_after=policy.zombie_after,
        suspended_after=policy.suspended_after,
        warn_before=policy.warn_before,
        evidence_max_age=policy.evidence_max_age,
    )


def verdicts_at(
    store: Store,
    as_of: date,
    policy: Policy,
    tz: tzinfo,
    *,
    ids: Sequence[int] | None = None,
    include_retired: bool = False,
) -> list[AccountVerdict]:
    """Every account's verdict at the end of `as_of`, with the roster then in force."""
    windows = windows_of(policy)
    limits = thresholds(windows, as_of)
    states = store.states_at(end_of_day(as_of, tz), ids=ids, include_retired=include_retired)
    out = []
    for s in states:
        facts = RosterFacts(platform=s.account.platform, status=s.account.status)
        verdict = classify(
            facts, s.evidence, windows, as_of, tz, last_checked_at=s.last_checked_at, limits=limits
        )
        if verdict.state is State.UNKNOWN and s.evidence is None and _no_source(s.account):
            verdict.reason = NO_SOURCE_REASON
            verdict.reason_code, verdict.reason_params = MessageCode.NO_SOURCE.value, None
        out.append(AccountVerdict(s, verdict))
    return out


def _no_source(a: AccountView) -> bool:
    """No adapter can check this account (only manual observations can judge it)."""
    return (
        choose_source(a.platform.value, a.source, a.account_id, a.feed_url, a.appid, a.secret_env)
        is None
    )


# -- the stored current verdicts ---------------------------------------------------------------

REFRESH_CHUNK = 1000
# How far ahead the next change is looked for; a row past it is judged again then.
HORIZON_DAYS = 4096


def policy_key(policy: Policy) -> str:
    """The windows a stored verdict was judged under; rows of another policy do not hold."""
    w = windows_of(policy)
    return f"{w.zombie_after}|{w.suspended_after}|{w.warn_before}|{w.evidence_max_age}"


def valid_until(
    item: AccountVerdict, windows: Windows, as_of: date, tz: tzinfo, roster_change: date | None
) -> date | None:
    """The first day after `as_of` on which the verdict changes with no new evidence or roster.

    States only move one way while nothing is written (active, warning, zombie,
    suspended; fresh evidence to unknown), so "differs from today" is monotone: a
    gallop then a bisection over `classify` finds the day. None: it never changes.
    """
    state, verdict = item.state, item.verdict
    if (
        state.evidence is None
        or verdict.state is State.UNKNOWN
        or state.account.status is RosterStatus.CANCELLED
    ):
        # Nothing ages: no evidence, already unknown, or cancelled by the roster (a
        # platform's "not found" is evidence, and evidence ages into unknown).
        return roster_change
    facts = RosterFacts(platform=state.account.platform, status=state.account.status)

    def changed(day: date) -> bool:
        later = classify(
            facts, state.evidence, windows, day, tz, last_checked_at=state.last_checked_at
        )
        return later.state is not verdict.state

    step, known_same = 1, 0
    while step <= HORIZON_DAYS and not changed(as_of + timedelta(days=step)):
        known_same, step = step, step * 2
    if step > HORIZON_DAYS:
        found = as_of + timedelta(days=HORIZON_DAYS)  # judged again then
    else:
        lo, hi = known_same, step  # unchanged at lo, changed at hi
        while hi - lo > 1:
            mid = (lo + hi) // 2
            if changed(as_of + timedelta(days=mid)):
                hi = mid
            else:
                lo = mid
        found = as_of + timedelta(days=hi)
    return min(found, roster_change) if roster_change else found


@dataclass(slots=True)
class Change:
    """An account's current verdict after a refresh, and the state stored before (None: none)."""

    item: AccountVerdict
    before: str | None

    @property
    def flipped(self) -> bool:
        return self.before != self.item.verdict.state.value


def refresh(
    store: Store, settings: Settings, now: datetime, ids: Sequence[int] | None = None
) -> list[Change]:
    """Judge `ids` (every account when None) as of today; store what changed. In a transaction."""
    out: list[Change] = []
    for batch in refresh_batches(store, settings, now, ids):
        out.extend(batch)
    return out


def refresh_batches(
    store: Store, settings: Settings, now: datetime, ids: Sequence[int] | None = None
) -> Iterator[list[Change]]:
    """`refresh` a chunk at a time (the daily reclassification of 100,000 accounts)."""
    tz = settings.tz
    day = local_date(now, tz)
    windows = windows_of(settings.policy)
    key = policy_key(settings.policy)
    moment = end_of_day(day, tz)
    todo = list(ids) if ids is not None else store.account_ids()
    for start in range(0, len(todo), REFRESH_CHUNK):
        chunk = todo[start : start + REFRESH_CHUNK]
        items = verdicts_at(store, day, settings.policy, tz, ids=chunk, include_retired=True)
        before = store.verdict_rows(chunk)
        roster_changes = store.next_roster_changes(chunk, moment)
        rows: list[VerdictRow] = []
        flips: list[Flip] = []
        changes: list[Change] = []
        for item in items:
            a, v = item.account, item.verdict
            old = before.get(a.id)
            change = roster_changes.get(a.id)
            row = VerdictRow(
                account=a.id,
                state=v.state.value,
                since=old.since if old is not None and old.state == v.state.value else now,
                as_of=day,
                valid_until=valid_until(
                    item, windows, day, tz, local_date(change, tz) if change else None
                ),
                policy=key,
                evidence=v.evidence.observation_id if v.evidence else None,
                reason=v.reason,
                latest_post_date=v.latest_post_date,
                roster_problem=v.roster_problem,
                platform=a.platform.value,
                unit=a.unit_id,
                region=a.region,
                name=a.name,
                roster_order=a.roster_order,
                retired=a.retired,
                findings=item.findings(),
            )
            if row != old:
                rows.append(row)
            if old is None or old.state != row.state:
                flips.append(
                    Flip(a.id, now, old.state if old else None, row.state, row.evidence, v.reason)
                )
            changes.append(Change(item, old.state if old else None))
        store.save_verdicts(rows, now)
        store.add_flips(flips)
        yield changes


@dataclass(slots=True)
class Page:
    """One page of a filtered list of current verdicts: account ids in order, and the total."""

    ids: list[int]
    total: int


class CurrentVerdicts:
    """Today's lists and counts under the configured policy, read from the stored rows."""

    def __init__(self, store: Store, settings: Settings):
        self.store = store
        self.settings = settings
        self.key = policy_key(settings.policy)

    def _stale(
        self, day: date, where: VerdictQuery
    ) -> tuple[list[int] | None, list[AccountVerdict]]:
        """The accounts whose row does not hold on `day` (None when rows are not uniform: the
        lists then test every row's policy and day), and those of them that match, judged now."""
        uniform = self.store.verdicts_uniform(day, self.key)
        ids = self.store.stale_verdicts(day, self.key, uniform=uniform)
        stale = ids if uniform else None
        if where.accounts is not None:
            wanted = set(where.accounts)
            ids = [i for i in ids if i in wanted]
        if not ids:
            return stale, []
        items = verdicts_at(
            self.store,
            day,
            self.settings.policy,
            self.settings.tz,
            ids=ids,
            include_retired=where.include_retired,
        )
        return stale, [i for i in items if _matches(i, where)]

    def page(self, day: date, where: VerdictQuery, *, limit: int | None, offset: int = 0) -> Page:
        """Matching accounts in roster order, a page of them, and how many match in all."""
        stale, judged = self._stale(day, where)
        if not judged:
            counts = self.store.count_current_verdicts(day, self.key, where, stale=stale)
            rows = self.store.current_verdicts(
                day, self.key, where, limit=limit, offset=offset, stale=stale
            )
            return Page([r[0] for r in rows], sum(counts.values()))
        fresh = self.store.current_verdicts(day, self.key, where, stale=stale)
        merged = sorted(
            [(r[1], r[0]) for r in fresh] + [(i.account.roster_order, i.account.id) for i in judged]
        )
        end = None if limit is None else offset + limit
        return Page([account for _, account in merged[offset:end]], len(merged))

    def counts(
        self, day: date, where: VerdictQuery, *, by: str = "state"
    ) -> dict[tuple[Any, ...], int]:
        """How many matching accounts per state (`by="state"`) or per unit and state."""
        stale, judged = self._stale(day, where)
        out = dict(self.store.count_current_verdicts(day, self.key, where, by=by, stale=stale))
        for item in judged:
            a, state = item.account, item.verdict.state.value
            keys = {"state": (state,), "unit": (a.unit_id, state), "region": (a.region, state)}
            group: tuple[Any, ...] = keys[by.split(",")[0]]
            if by.endswith(",roster"):
                group = (*group, bool(item.findings()))
            out[group] = out.get(group, 0) + 1
        return out

    def groups(self, day: date, where: VerdictQuery) -> list[tuple[int, str, str]]:
        """(unit id, unit name, region) of the matching accounts, in roster order of each
        pair's first account: the regions and units a page lists."""
        stale, judged = self._stale(day, where)
        rows = self.store.verdict_groups(day, self.key, where, stale=stale)
        first = {(u, name, region): order for u, name, region, order in rows}
        for item in judged:
            a = item.account
            key = (a.unit_id, a.unit, a.region)
            first[key] = min(first.get(key, a.roster_order), a.roster_order)
        return sorted(first, key=lambda k: (first[k], k[0]))


def _matches(item: AccountVerdict, q: VerdictQuery) -> bool:
    a = item.account
    return (
        (q.include_retired or not a.retired)
        and (q.unit is None or a.unit_id == q.unit)
        and (q.unit_ids is None or a.unit_id in q.unit_ids)
        and (q.region is None or a.region == q.region)
        and (q.platform is None or a.platform.value == q.platform)
        and (q.states is None or item.verdict.state.value in q.states)
        and (not q.name_contains or q.name_contains in a.name)
        and (not q.with_findings or bool(item.findings()))
        and (
            q.attention is None or item.verdict.state.value in q.attention or bool(item.findings())
        )
    )
