"""Classification: a pure function of (roster facts, evidence, policy, as-of date).

No I/O and no clock. D is the as-of calendar date in the configured zone; E is
the newest evidence observation observed at or before the end of D; L is the
calendar date of E's latest post. Rules, first match wins:

1. roster cancelled at D                      -> cancelled
2. no E, or E's date before D - evidence_max_age -> unknown
3. E not_found -> cancelled; E restricted      -> suspended (平台限制)
4. roster stopped                              -> suspended (停运未注销)
5. E no_content                                -> zombie (无内容)
6. L < D - suspended_after                     -> suspended
7. L < D - zombie_after                        -> zombie
8. L < (D - zombie_after) + warn_before        -> warning
9. otherwise                                   -> active

A failed check is never evidence, so it can only let evidence age into unknown.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta, tzinfo
from functools import lru_cache
from typing import Any

from monitor.dates import local_date
from monitor.durations import Duration
from monitor.messages import render
from monitor.models import (
    Evidence,
    Observation,
    Outcome,
    RosterFacts,
    RosterStatus,
    State,
    Verdict,
    state_label,
)
from monitor.models import MessageCode as C


@dataclass(frozen=True, slots=True)
class Windows:
    """The policy's durations; `monitor.settings.Policy` has the same fields."""

    zombie_after: Duration = Duration(months=1)
    suspended_after: Duration = Duration(months=6)
    warn_before: Duration = Duration(days=3)
    evidence_max_age: Duration = Duration(days=3)


@dataclass(frozen=True, slots=True)
class Thresholds:
    """The boundary dates of the windows at one as-of date (all exclusive: L < date)."""

    as_of: date
    zombie_before: date
    suspended_before: date
    warning_before: date
    evidence_from: date


@lru_cache(maxsize=256)
def thresholds(policy: Windows, as_of: date) -> Thresholds:
    """The boundary dates the rules compare against at `as_of`."""
    zombie_before = policy.zombie_after.before(as_of)
    return Thresholds(
        as_of=as_of,
        zombie_before=zombie_before,
        suspended_before=policy.suspended_after.before(as_of),
        warning_before=policy.warn_before.after(zombie_before),
        evidence_from=policy.evidence_max_age.before(as_of),
    )


def effective_post_time(obs: Observation) -> datetime | None:
    """The latest post time, moved back to the observation time when dated after it."""
    if obs.latest_post_at is None:
        return None
    return min(obs.latest_post_at, obs.observed_at)


def classify(
    roster: RosterFacts,
    evidence: Observation | None,
    policy: Windows,
    as_of: date,
    tz: tzinfo,
    *,
    last_checked_at: datetime | None = None,
    limits: Thresholds | None = None,
) -> Verdict:
    """The verdict on one account at `as_of`, from its newest evidence at or before that day.

    `evidence` must be an evidence observation (or None); `last_checked_at` is the
    newest check of any outcome, used only to label an unknown verdict. Callers
    judging many accounts at one date may pass `limits=thresholds(policy, as_of)`.
    """
    if evidence is not None and not evidence.outcome.is_evidence:
        raise ValueError("classify() takes an evidence observation, not a failed check")
    if evidence is not None and local_date(evidence.observed_at, tz) > as_of:
        raise ValueError("evidence observed after the as-of date")
    if limits is None:
        limits = thresholds(policy, as_of)
    platform = roster.platform

    def verdict(
        state: State, code: str, params: dict[str, Any] | None = None, /, **extra: object
    ) -> Verdict:
        label = state_label(state, platform, ever_checked=last_checked_at is not None)
        ev = None
        if evidence is not None:
            ev = Evidence(
                observation_id=evidence.id,
                observed_at=evidence.observed_at,
                source=evidence.source,
                outcome=evidence.outcome,
                url=evidence.post_url,
                title=evidence.post_title,
            )
        return Verdict(
            state=state,
            label=label,
            reason=render(code, params, "en"),
            as_of=as_of,
            evidence=ev,
            reason_code=code,
            reason_params=params,
            **extra,  # type: ignore[arg-type]
        )

    # 1. The roster says the account is closed: nothing to judge.
    if roster.status is RosterStatus.CANCELLED:
        return verdict(State.CANCELLED, C.ROSTER_CANCELLED)

    # 2. No fresh evidence: unknown, never a guess.
    if evidence is None:
        if last_checked_at is None:
            return verdict(State.UNKNOWN, C.NEVER_CHECKED)
        return verdict(State.UNKNOWN, C.NEVER_CHECKED_SUCCESSFULLY)
    evidence_day = local_date(evidence.observed_at, tz)
    if evidence_day < limits.evidence_from:
        return verdict(State.UNKNOWN, C.EVIDENCE_STALE, {"day": evidence_day.isoformat()})

    post_at = effective_post_time(evidence)
    post_day = local_date(post_at, tz) if post_at else None
    facts: dict[str, object] = {}
    if post_at is not None and post_day is not None:
        facts = {
            "latest_post_at": post_at,
            "latest_post_date": post_day,
            "days_silent": (as_of - post_day).days,
        }
    elif evidence.silent_since is not None:
        facts = {
            "silent_since": evidence.silent_since,
            "days_silent": (as_of - evidence.silent_since).days,
        }

    # 3. The platform's own word about the account.
    if evidence.outcome is Outcome.NOT_FOUND:
        problem: dict[str, object] = {}
        if roster.status is RosterStatus.OPERATING:
            problem = {
                "roster_problem": render(C.MISSING_ON_PLATFORM, None, "en"),
                "roster_problem_code": C.MISSING_ON_PLATFORM,
            }
        return verdict(State.CANCELLED, C.NOT_FOUND, **problem, **facts)
    if evidence.outcome is Outcome.RESTRICTED:
        return verdict(State.SUSPENDED, C.RESTRICTED, **facts)

    # 4. Stopped in the roster but still on the platform.
    if roster.status is RosterStatus.STOPPED:
        return verdict(State.SUSPENDED, C.ROSTER_STOPPED, **facts)

    # 5. Exists and never posted.
    if evidence.outcome is Outcome.NO_CONTENT:
        return verdict(State.ZOMBIE, C.NO_CONTENT, no_content=True)

    # An ok observation with no post but a scan start: the post is older than that day.
    if post_day is None:
        if evidence.silent_since is None:
            return verdict(State.UNKNOWN, C.NO_POST_DATE, **facts)
        compare_day = evidence.silent_since - timedelta(days=1)
        seen: dict[str, Any] = {"since": evidence.silent_since.isoformat()}
        codes = _SINCE_CODES
    else:
        compare_day = post_day
        seen = {"post": post_day.isoformat()}
        codes = _POST_CODES

    windows = _window_params(policy, limits)
    if compare_day < limits.suspended_before:
        state = State.SUSPENDED
    elif compare_day < limits.zombie_before:
        state = State.ZOMBIE
    elif compare_day < limits.warning_before:
        state = State.WARNING
    else:
        state = State.ACTIVE
    return verdict(state, codes[state], seen | windows[state], **facts)


@lru_cache(maxsize=256)
def _window_params(policy: Windows, limits: Thresholds) -> dict[State, dict[str, str]]:
    """The reason parameters of rules 6-9 that depend only on the policy and the date."""
    return {
        State.SUSPENDED: {
            "limit": limits.suspended_before.isoformat(),
            "window": str(policy.suspended_after),
        },
        State.ZOMBIE: {
            "limit": limits.zombie_before.isoformat(),
            "window": str(policy.zombie_after),
        },
        State.WARNING: {"warn": str(policy.warn_before)},
        State.ACTIVE: {},
    }


# Reasons of rules 6-9, by whether the latest post's date is known or only a scan start
# (plain strings: an enum's .value costs a Python call on every verdict).
_POST_CODES: dict[State, str] = {
    State.SUSPENDED: C.SUSPENDED_LAST_POST.value,
    State.ZOMBIE: C.ZOMBIE_LAST_POST.value,
    State.WARNING: C.WARNING_LAST_POST.value,
    State.ACTIVE: C.ACTIVE_LAST_POST.value,
}
_SINCE_CODES: dict[State, str] = {
    State.SUSPENDED: C.SUSPENDED_NO_POST_SINCE.value,
    State.ZOMBIE: C.ZOMBIE_NO_POST_SINCE.value,
    State.WARNING: C.WARNING_NO_POST_SINCE.value,
    State.ACTIVE: C.ACTIVE_NO_POST_SINCE.value,
}
