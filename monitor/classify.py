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

from monitor.dates import local_date
from monitor.durations import Duration
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

    def verdict(state: State, reason: str, **extra: object) -> Verdict:
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
        return Verdict(state=state, label=label, reason=reason, as_of=as_of, evidence=ev, **extra)  # type: ignore[arg-type]

    # 1. The roster says the account is closed: nothing to judge.
    if roster.status is RosterStatus.CANCELLED:
        return verdict(State.CANCELLED, "roster: cancelled (已注销)")

    # 2. No fresh evidence: unknown, never a guess.
    if evidence is None:
        if last_checked_at is None:
            return verdict(State.UNKNOWN, "never checked")
        return verdict(State.UNKNOWN, "never checked successfully")
    evidence_day = local_date(evidence.observed_at, tz)
    if evidence_day < limits.evidence_from:
        return verdict(
            State.UNKNOWN,
            f"no successful check since {evidence_day.isoformat()}",
        )

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
        problem = None
        if roster.status is RosterStatus.OPERATING:
            problem = "account missing on the platform while the roster says operating"
        return verdict(
            State.CANCELLED, "not found on the platform", roster_problem=problem, **facts
        )
    if evidence.outcome is Outcome.RESTRICTED:
        return verdict(State.SUSPENDED, "平台限制 (restricted by the platform)", **facts)

    # 4. Stopped in the roster but still on the platform.
    if roster.status is RosterStatus.STOPPED:
        return verdict(
            State.SUSPENDED, "停运未注销: roster says stopped, account still exists", **facts
        )

    # 5. Exists and never posted.
    if evidence.outcome is Outcome.NO_CONTENT:
        return verdict(State.ZOMBIE, "无内容 (never posted)", no_content=True)

    # An ok observation with no post but a scan start: the post is older than that day.
    if post_day is None:
        if evidence.silent_since is None:
            return verdict(State.UNKNOWN, "evidence has no post date", **facts)
        compare_day = evidence.silent_since - timedelta(days=1)
        silence = f"no post since before {evidence.silent_since.isoformat()}"
    else:
        compare_day = post_day
        silence = f"last post {post_day.isoformat()}"

    if compare_day < limits.suspended_before:
        return verdict(State.SUSPENDED, f"{silence}, before {limits.suspended_before}", **facts)
    if compare_day < limits.zombie_before:
        return verdict(State.ZOMBIE, f"{silence}, before {limits.zombie_before}", **facts)
    if compare_day < limits.warning_before:
        return verdict(
            State.WARNING,
            f"{silence}; within {policy.warn_before} of the zombie window",
            **facts,
        )
    return verdict(State.ACTIVE, silence, **facts)
