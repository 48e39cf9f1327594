"""When to check an account again: pure functions of settings.

interval_for      per account, else per platform, else the default interval
next_check_at     the retry ladder after a transient failure, else the interval +/- jitter
parse_hhmm        "HH:MM" of the daily jobs
"""

from __future__ import annotations

import random
from datetime import datetime, timedelta

from monitor.models import AccountView, Outcome
from monitor.settings import Settings

# Failures worth trying again soon; anything else waits for the normal interval (a
# refused URL or a wrong AppSecret will not mend itself in minutes).
RETRY_OUTCOMES = frozenset({Outcome.TRANSIENT, Outcome.RATE_LIMITED, Outcome.BLOCKED})
MAX_RETRY_AFTER = timedelta(days=1)


def interval_for(settings: Settings, account: AccountView) -> timedelta:
    """The account's normal check interval: per account, else per platform, else default."""
    sched = settings.schedule
    for key in (str(account.id), f"{account.platform.value}:{account.account_id}"):
        if key in sched.account_interval_h:
            return timedelta(hours=sched.account_interval_h[key])
    hours = sched.platform_interval_h.get(account.platform.value, sched.interval_h)
    return timedelta(hours=hours)


def next_check_at(
    settings: Settings,
    account: AccountView,
    outcome: Outcome,
    failures: int,
    retry_after: float | None,
    now: datetime,
    rng: random.Random,
) -> datetime:
    """When to check again: the retry ladder after a transient failure, else the interval.

    The interval gets +/- jitter_s (at most a quarter of it) so a city's accounts
    drift apart instead of firing in the same second every day.
    """
    sched = settings.schedule
    interval = interval_for(settings, account)
    delays = sched.retry_delays_min
    if outcome in RETRY_OUTCOMES and 0 < failures <= len(delays):
        wait = timedelta(minutes=delays[failures - 1])
        if retry_after:
            # A platform's Retry-After can be any number: capped before it becomes a time.
            wait = max(wait, timedelta(seconds=min(retry_after, MAX_RETRY_AFTER.total_seconds())))
        return now + wait * (1 + rng.uniform(0, 0.1))
    spread = min(sched.jitter_s, interval.total_seconds() / 4)
    return now + interval + timedelta(seconds=rng.uniform(-spread, spread))
