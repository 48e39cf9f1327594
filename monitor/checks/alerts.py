"""Verdict changes -> alert rows per sponsoring unit; source health -> alerts for operators.

Unit alerts follow an account's verdict, so an account has at most one open unit
alert, the one for its current state:

    warning -> became_warning      zombie -> became_zombie
    suspended -> became_suspended  cancelled with roster_problem -> account_missing
    active -> closes them (reason "recovered")
    cancelled by the roster -> closes them (reason "cancelled")
    unknown -> nothing changes (unknown says nothing about the account)

Operator alerts: `check_failing` (N consecutive failed checks, or no successful
check for X hours; closed by the next successful check), `source_down` (one
alert when a source fails for most accounts of a sweep, instead of hundreds) and
`url_refused` (the outbound guard refused the account's URL: a configuration
problem, opened at once and closed by the next check that passes the guard).

The database enforces one open alert per (account, kind) and per (kind, source),
so concurrent or repeated runs never duplicate. Every function here returns the
`AlertEvent`s it caused, for `monitor.checks.notify.enqueue` to turn into outbox rows in
the same transaction.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta, tzinfo
from typing import Any

from monitor.models import AccountView, Observation, Outcome, State, Verdict
from monitor.settings import Settings
from monitor.store import AlertRow, ScheduleRow, Store

BECAME_WARNING = "became_warning"
BECAME_ZOMBIE = "became_zombie"
BECAME_SUSPENDED = "became_suspended"
ACCOUNT_MISSING = "account_missing"
CHECK_FAILING = "check_failing"
SOURCE_DOWN = "source_down"
URL_REFUSED = "url_refused"

UNIT_KINDS: tuple[str, ...] = (BECAME_WARNING, BECAME_ZOMBIE, BECAME_SUSPENDED, ACCOUNT_MISSING)
OPERATOR_KINDS: tuple[str, ...] = (CHECK_FAILING, SOURCE_DOWN, URL_REFUSED)
KINDS: tuple[str, ...] = UNIT_KINDS + OPERATOR_KINDS

_STATE_KIND = {
    State.WARNING: BECAME_WARNING,
    State.ZOMBIE: BECAME_ZOMBIE,
    State.SUSPENDED: BECAME_SUSPENDED,
}
_KEEP = object()  # "leave the unit alerts as they are" (an unknown verdict)


@dataclass(slots=True)
class AlertEvent:
    """An alert opened or closed, with what a message about it needs."""

    alert: int
    kind: str
    event: str  # "opened" | "closed"
    account: AccountView | None = None
    source: str | None = None
    reason: str | None = None
    evidence: dict[str, Any] = field(default_factory=dict)

    @property
    def for_unit(self) -> bool:
        return self.kind in UNIT_KINDS


def unit_kind(verdict: Verdict) -> Any:
    """The unit alert a verdict calls for: a kind, None (none open), or _KEEP (unknown)."""
    if verdict.state is State.UNKNOWN:
        return _KEEP
    if verdict.state is State.CANCELLED:
        return ACCOUNT_MISSING if verdict.roster_problem else None
    return _STATE_KIND.get(verdict.state)


def verdict_evidence(verdict: Verdict, tz: tzinfo) -> dict[str, Any]:
    """What an alert carries as proof: observation, latest post, days silent, why."""
    ev = verdict.evidence
    return {
        "state": verdict.state.value,
        "state_label": verdict.label,
        "reason": verdict.reason,
        "reason_code": verdict.reason_code,
        "reason_params": verdict.reason_params or {},
        "as_of": verdict.as_of.isoformat(),
        "observation": ev.observation_id if ev else None,
        "observed_at": ev.observed_at.astimezone(tz).isoformat() if ev else None,
        "url": ev.url if ev else None,
        "title": ev.title if ev else None,
        "latest_post_date": verdict.latest_post_date.isoformat()
        if verdict.latest_post_date
        else None,
        "silent_since": verdict.silent_since.isoformat() if verdict.silent_since else None,
        "days_silent": verdict.days_silent,
        "no_content": verdict.no_content,
        "roster_problem": verdict.roster_problem,
        "roster_problem_code": verdict.roster_problem_code,
    }


def reconcile_unit_alerts(
    store: Store,
    account: AccountView,
    verdict: Verdict,
    now: datetime,
    tz: tzinfo,
    open_rows: Iterable[AlertRow] | None = None,
) -> list[AlertEvent]:
    """Make the account's open unit alerts match its verdict; the events this caused.

    `open_rows`: the account's open alerts when the caller already read them.
    """
    wanted = unit_kind(verdict)
    if wanted is _KEEP:
        return []
    rows = (
        store.open_alerts(account=account.id, kinds=UNIT_KINDS)
        if open_rows is None
        else list(open_rows)
    )
    stale = [row for row in rows if row.kind in UNIT_KINDS and row.kind != wanted]
    already_open = any(row.kind == wanted for row in rows)
    if not stale and (wanted is None or already_open):
        return []  # the usual case: nothing to change
    events: list[AlertEvent] = []
    evidence = verdict_evidence(verdict, tz)
    for row in stale:
        if wanted is None:
            reason = "recovered" if verdict.state is State.ACTIVE else verdict.state.value
        else:
            reason = f"now {wanted}"
        if store.close_alert(row.id, now, reason):
            events.append(
                AlertEvent(row.id, row.kind, "closed", account, reason=reason, evidence=evidence)
            )
    if wanted is not None and not already_open:
        alert = store.open_alert(
            kind=wanted,
            now=now,
            account=account.id,
            unit=account.unit_id,
            observation=verdict.evidence.observation_id if verdict.evidence else None,
            evidence=evidence,
        )
        if alert is not None:
            events.append(AlertEvent(alert, wanted, "opened", account, evidence=evidence))
    return events


# -- source health ---------------------------------------------------------------------


def failing(row: ScheduleRow, settings: Settings, now: datetime) -> bool:
    """True when an account's checks count as failing (never having succeeded counts)."""
    if row.failures <= 0 or row.last_outcome is None or row.last_outcome.is_evidence:
        return False
    if row.last_outcome is Outcome.REFUSED:
        return False  # a configuration problem: url_refused says so, once

    if row.failures >= settings.alerts.check_failing_after:
        return True
    since = row.last_success_at or row.first_checked_at
    return since is not None and now - since >= timedelta(hours=settings.alerts.check_failing_hours)


def open_check_failing(
    store: Store,
    account: AccountView,
    row: ScheduleRow,
    observation: Observation | None,
    now: datetime,
    tz: tzinfo,
) -> list[AlertEvent]:
    """Open the operators' check_failing alert of one account (once)."""
    evidence = {
        "failures": row.failures,
        "last_outcome": row.last_outcome.value if row.last_outcome else None,
        "last_success_at": row.last_success_at.astimezone(tz).isoformat()
        if row.last_success_at
        else None,
        "observation": observation.id if observation else None,
        "detail": observation.detail if observation else None,
        "detail_code": observation.detail_code if observation else None,
        "detail_params": observation.detail_params if observation else None,
        "source": observation.source if observation else None,
    }
    alert = store.open_alert(
        kind=CHECK_FAILING,
        now=now,
        account=account.id,
        unit=account.unit_id,
        observation=observation.id if observation else None,
        evidence=evidence,
    )
    if alert is None:
        return []
    return [AlertEvent(alert, CHECK_FAILING, "opened", account, evidence=evidence)]


def close_check_failing(
    store: Store,
    account: AccountView,
    now: datetime,
    open_rows: Iterable[AlertRow] | None = None,
) -> list[AlertEvent]:
    """A successful check closes the account's check_failing alert."""
    events = []
    if open_rows is None:
        open_rows = store.open_alerts(account=account.id, kinds=[CHECK_FAILING])
    for row in open_rows:
        if row.kind == CHECK_FAILING and store.close_alert(row.id, now, "recovered"):
            events.append(AlertEvent(row.id, CHECK_FAILING, "closed", account, reason="recovered"))
    return events


def follow_refusal(
    store: Store,
    account: AccountView,
    observation: Observation,
    now: datetime,
    open_rows: Iterable[AlertRow] | None = None,
) -> list[AlertEvent]:
    """Open url_refused on a check our guard refused; close it on any check that passed it."""
    if open_rows is None:
        open_rows = store.open_alerts(account=account.id, kinds=[URL_REFUSED])
    if observation.outcome is Outcome.REFUSED:
        evidence = {
            "observation": observation.id,
            "detail": observation.detail,
            "detail_code": observation.detail_code,
            "detail_params": observation.detail_params,
            "source": observation.source,
            "url": account.feed_url or None,
        }
        alert = store.open_alert(
            kind=URL_REFUSED,
            now=now,
            account=account.id,
            unit=account.unit_id,
            observation=observation.id,
            evidence=evidence,
        )
        if alert is None:
            return []
        return [AlertEvent(alert, URL_REFUSED, "opened", account, evidence=evidence)]
    events = []
    for row in open_rows:
        if row.kind == URL_REFUSED and store.close_alert(row.id, now, "resolved"):
            events.append(AlertEvent(row.id, URL_REFUSED, "closed", account, reason="resolved"))
    return events


def source_down_open(store: Store, source: str) -> bool:
    return bool(store.open_alerts(kinds=[SOURCE_DOWN], source=source))


def judge_source(
    store: Store,
    settings: Settings,
    source: str,
    checked: int,
    failed: Iterable[int],
    failed_by_outcome: dict[str, int],
    now: datetime,
) -> list[AlertEvent]:
    """After a sweep: open source_down when most of its accounts failed; close it otherwise."""
    failed_count = len(set(failed))
    if checked <= 0:
        return []
    share = failed_count / checked
    down = (
        failed_count >= settings.alerts.source_down_min_accounts
        and share >= settings.alerts.source_down_share
    )
    if down:
        evidence = {
            "checked": checked,
            "failed": failed_count,
            "share": round(share, 3),
            "by_outcome": failed_by_outcome,
        }
        alert = store.open_alert(kind=SOURCE_DOWN, now=now, source=source, evidence=evidence)
        if alert is None:
            return []
        return [AlertEvent(alert, SOURCE_DOWN, "opened", source=source, evidence=evidence)]
    if share >= settings.alerts.source_down_share:
        return []  # too few accounts to judge either way: keep what is open
    events = []
    for row in store.open_alerts(kinds=[SOURCE_DOWN], source=source):
        if store.close_alert(row.id, now, "recovered"):
            events.append(
                AlertEvent(row.id, SOURCE_DOWN, "closed", source=source, reason="recovered")
            )
    return events
