"""record(): everything that follows a check, in the transaction that stores it.

    observations (+ adapter state) -> current verdicts and flips -> schedule
    -> unit alerts (follow the verdict) -> check_failing / url_refused
    -> source health and backoff -> outbox rows

Whoever checked (the daemon's sweep, `monitor check`, the API, the demo, a fetch
worker, an inspector by hand) records through here, so a check has the same
consequences whoever asked. A manual observation moves no schedule and says
nothing about a source's health.

Also here: what a finished sweep concludes about its sources (`judge_sweep`) and
what time alone changes (`reclassify`, daily).
"""

from __future__ import annotations

import json
import logging
import random
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from adapters import source_for
from monitor.checks import alerts, backoff, notify
from monitor.checks.timing import next_check_at
from monitor.checks.verdicts import policy_key, refresh, refresh_batches
from monitor.dates import DateInputError, parse_recent, utcnow
from monitor.links import http_link
from monitor.models import AccountView, Observation, Outcome, Verdict
from monitor.settings import Settings
from monitor.store import SourceHealth, Store

log = logging.getLogger(__name__)

MANUAL = "manual"


@dataclass(slots=True)
class Seen:
    """What one check saw, not yet stored; `state` None: the adapter state is unchanged."""

    account: AccountView
    source: str
    observation: Observation
    state: dict[str, Any] | None = None
    state_key: str = ""


@dataclass(slots=True)
class CheckReport:
    """What checking one account did: the source used, what it saw, the verdict after."""

    account: AccountView
    source: str | None
    observation: Observation | None
    verdict: Verdict | None
    note: str = ""


def record(
    store: Store,
    settings: Settings,
    seen: list[Seen],
    *,
    now: datetime,
    rng: random.Random | None = None,
) -> list[CheckReport]:
    """Store what checks saw and everything that follows from it, all or nothing."""
    if not seen:
        return []
    rng = rng or random.Random()
    tz = settings.tz
    with store.transaction():
        stored: list[Observation] = []
        for item in seen:
            obs_id = store.add_observation(item.observation)
            if item.state is not None:
                store.save_source_state(item.account.id, item.source, item.state, item.state_key)
            stored.append(replace(item.observation, id=obs_id))
        ids = [item.account.id for item in seen]
        scheduled = [item.account.id for item in seen if item.source != MANUAL]
        store.ensure_schedule(now, scheduled)
        streaks = store.failure_streaks(scheduled)
        open_rows = store.open_alerts_by_account(ids)
        changes = {c.item.account.id: c for c in refresh(store, settings, now, ids)}
        health: dict[str, SourceHealth] = {}
        dirty: set[str] = set()
        events: list[alerts.AlertEvent] = []
        reports = []
        for item, obs in zip(seen, stored, strict=True):
            account = item.account
            rows = open_rows.get(account.id, [])
            change = changes.get(account.id)
            verdict = change.item.verdict if change is not None else None
            if verdict is not None:
                events += alerts.reconcile_unit_alerts(store, account, verdict, now, tz, rows)
            if obs.is_evidence:
                events += alerts.close_check_failing(store, account, now, rows)
            if item.source != MANUAL:
                failures = 0 if obs.is_evidence else streaks.get(account.id, 0) + 1
                when = next_check_at(
                    settings, account, obs.outcome, failures, obs.retry_after, now, rng
                )
                store.record_schedule(account.id, now=now, outcome=obs.outcome, next_check_at=when)
                events += alerts.follow_refusal(store, account, obs, now, rows)
                key = backoff.health_key(item.source, account)
                if key not in health:
                    health[key] = store.source_health(key)
                step = backoff.answer(
                    health[key], account.id, obs.outcome, obs.retry_after, now, settings
                )
                if step.changed:
                    health[key] = step.health
                    dirty.add(key)
                if step.pause is not None:
                    _log_backoff(step.health, step.pause.total_seconds(), obs)
            reports.append(CheckReport(account, item.source, obs, verdict))
        for key in dirty:
            store.save_source_health(health[key], now)
        notify.enqueue(store, settings, events, now)
    return reports


class ManualInputError(ValueError):
    """A manual observation that cannot be recorded; `key` names what to fix."""

    def __init__(self, key: str, message: str):
        super().__init__(f"{key}: {message}" if key else message)
        self.key = key


def manual_observation(
    account: int,
    *,
    latest_post: str | None,
    no_content: bool,
    not_found: bool,
    at: str | None,
    url: str | None,
    title: str | None,
    note: str | None,
    tz: Any,
    now: datetime,
    name: Callable[[str], str] = str,
) -> Observation:
    """What an inspector saw, checked (the CLI and the API take the same fields).

    `name` spells a field as the caller's user knows it ("--latest-post" on the CLI).
    """
    chosen = [latest_post is not None, no_content, not_found]
    if sum(chosen) != 1:
        wanted = ", ".join(name(f) for f in ("latest_post", "no_content", "not_found"))
        raise ManualInputError("", f"give exactly one of {wanted}")
    if url is not None and http_link(url) is None:
        raise ManualInputError(name("url"), f"{url[:80]!r} is not an http(s) URL")
    moments: dict[str, datetime | None] = {}
    for key, text in (("at", at), ("latest_post", latest_post)):
        try:
            moments[key] = parse_recent(text, tz) if text else None
        except DateInputError as exc:
            raise ManualInputError(name(key), str(exc)) from exc
    observed_at, post_at = moments["at"] or now, moments["latest_post"]
    if observed_at > now:
        raise ManualInputError(name("at"), "is in the future")
    if post_at is not None and post_at > observed_at:
        # Clock skew or a typo: a post cannot be newer than the look at it.
        post_at = observed_at
    outcome = Outcome.OK if post_at else Outcome.NO_CONTENT if no_content else Outcome.NOT_FOUND
    return Observation(
        account=account,
        observed_at=observed_at,
        source=MANUAL,
        outcome=outcome,
        latest_post_at=post_at,
        post_url=http_link(url),
        post_title=title,
        detail=note,
    )


def record_manual(
    store: Store, settings: Settings, observation: Observation, *, now: datetime | None = None
) -> list[CheckReport]:
    """Record what an inspector saw by hand (`monitor observe`, the API); its verdict."""
    now = now or utcnow()
    views = store.accounts_at(now, ids=[observation.account], include_retired=True)
    if not views:
        raise LookupError(f"no account {observation.account} in the roster in force now")
    return record(store, settings, [Seen(views[0], MANUAL, observation)], now=now)


def _log_backoff(health: SourceHealth, pause_s: float, obs: Observation) -> None:
    record_ = {
        "event": "source_backoff",
        "source": health.source,
        "level": health.level,
        "pause_s": pause_s,
        "outcome": obs.outcome.value,
    }
    log.warning("source_backoff %s", json.dumps(record_, ensure_ascii=False))


# -- after a sweep -----------------------------------------------------------------------------


@dataclass(slots=True)
class SourceTally:
    """One source's checks in a sweep, and the failed ones that the source answered."""

    checked: int = 0
    ok: int = 0
    failed: Counter[str] = field(default_factory=Counter)
    failed_reports: list[CheckReport] = field(default_factory=list)

    def add(self, report: CheckReport) -> None:
        obs = report.observation
        if obs is None:
            return
        if not obs.outcome.is_platform_answer:
            return  # refused by our guard: a configuration problem, not the source's health
        self.checked += 1
        if obs.is_evidence:
            self.ok += 1
        else:
            self.failed[obs.outcome.value] += 1
            self.failed_reports.append(report)


def judge_sweep(
    store: Store, settings: Settings, by_source: dict[str, SourceTally], now: datetime
) -> None:
    """After a sweep: source_down for a source failing for most accounts, else per-account
    check_failing alerts."""
    tz = settings.tz
    for source, tally in by_source.items():
        with store.transaction():
            failed_ids = [r.account.id for r in tally.failed_reports]
            events = alerts.judge_source(
                store, settings, source, tally.checked, failed_ids, dict(tally.failed), now
            )
            if not alerts.source_down_open(store, source):
                rows = {r.account: r for r in store.schedule_rows(failed_ids)}
                for report in tally.failed_reports:
                    row = rows.get(report.account.id)
                    if row is not None and alerts.failing(row, settings, now):
                        events += alerts.open_check_failing(
                            store, report.account, row, report.observation, now, tz
                        )
            notify.enqueue(store, settings, events, now)


# -- what time alone changes ---------------------------------------------------------------------


def catch_up(store: Store, settings: Settings, now: datetime) -> int:
    """Judge the accounts whose stored verdict no longer holds today (or that have none).

    After an upgrade, a change of policy, or a day the daily job has not reached yet;
    alerts follow as in `reclassify`. How many accounts were judged.
    """
    day = now.astimezone(settings.tz).date()
    stale = store.stale_verdicts(day, policy_key(settings.policy))
    if stale:
        reclassify(store, settings, now, stale)
    return len(stale)


def reclassify(
    store: Store, settings: Settings, now: datetime, ids: Sequence[int] | None = None
) -> dict[str, Any]:
    """Judge every account (or `ids`) as of today; alerts follow the verdicts.

    Daily, since verdicts age without new checks, and after a roster import for the
    accounts it changed. Works a chunk of accounts per transaction, so memory stays
    flat on a big roster.
    """
    tz = settings.tz
    day = now.astimezone(tz).date()
    down = {a.source for a in store.open_alerts(kinds=[alerts.SOURCE_DOWN])}
    opened: Counter[str] = Counter()
    closed = accounts = flips = 0
    batches = refresh_batches(store, settings, now, ids)
    while True:
        with store.transaction():
            batch = next(batches, None)
            if batch is None:
                break
            chunk = [c.item.account.id for c in batch]
            open_rows = store.open_alerts_by_account(chunk)
            schedule = {r.account: r for r in store.schedule_rows(chunk)}
            events: list[alerts.AlertEvent] = []
            for change in batch:
                item = change.item
                accounts += 1
                flips += change.flipped
                if item.account.retired:
                    continue  # off the roster: nothing to tell anybody
                events += alerts.reconcile_unit_alerts(
                    store, item.account, item.verdict, now, tz, open_rows.get(item.account.id, [])
                )
                row = schedule.get(item.account.id)
                if (
                    row is not None
                    and source_for(item.account) not in down
                    and alerts.failing(row, settings, now)
                ):
                    events += alerts.open_check_failing(store, item.account, row, None, now, tz)
            notify.enqueue(store, settings, events, now)
            for e in events:
                if e.event == "opened":
                    opened[e.kind] += 1
                else:
                    closed += 1
    out = {
        "event": "reclassify",
        "day": day.isoformat(),
        "accounts": accounts,
        "flips": flips,
        "opened": dict(opened),
        "closed": closed,
    }
    if ids is None:
        with store.transaction():
            store.beat("job:reclassify", now, out)
    log.info("reclassify %s", json.dumps(out, ensure_ascii=False))
    return out
