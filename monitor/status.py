"""Verdicts for the roster at an as-of date: store reads + pure classification."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, tzinfo
from typing import Any

from adapters import NO_SOURCE_REASON, choose_source
from monitor.classify import Windows, classify, thresholds
from monitor.dates import end_of_day, iso
from monitor.findings import FINDING_LABELS, roster_findings
from monitor.messages import reason_text, roster_problem_text
from monitor.models import AccountView, MessageCode, RosterFacts, State, Verdict
from monitor.store import AccountState, Store


@dataclass(slots=True)
class AccountVerdict:
    """An account as it stood at the as-of date, and the verdict on it."""

    state: AccountState
    verdict: Verdict

    @property
    def account(self) -> AccountView:
        return self.state.account


def windows_of(policy: Any) -> Windows:
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
    policy: Any,
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


def status_record(item: AccountVerdict, tz: tzinfo) -> dict[str, Any]:
    """The JSON object of `monitor status --json` (and of the API's account items).

    `reason` and `roster_problem` stay in English as they always were; the codes,
    their parameters and the Chinese wording (`*_label`, as `state_label`) stand beside.
    """
    a, v, s = item.account, item.verdict, item.state
    ev = v.evidence
    return {
        "id": a.id,
        "platform": a.platform.value,
        "account_id": a.account_id,
        "name": a.name,
        "unit": a.unit,
        "unit_id": a.unit_id,
        "region": a.region,
        "roster_status": a.status.value,
        "state": v.state.value,
        "state_label": v.label,
        "as_of": v.as_of.isoformat(),
        "latest_post_at": iso(v.latest_post_at, tz),
        "latest_post_date": v.latest_post_date.isoformat() if v.latest_post_date else None,
        "silent_since": v.silent_since.isoformat() if v.silent_since else None,
        "no_content": v.no_content,
        "days_silent": v.days_silent,
        "last_checked_at": iso(s.last_checked_at, tz),
        "last_outcome": s.last_outcome.value if s.last_outcome else None,
        "reason": v.reason,
        "reason_code": v.reason_code,
        "reason_params": v.reason_params or {},
        "reason_label": reason_text(v, "zh"),
        "roster_problem": v.roster_problem,
        "roster_problem_code": v.roster_problem_code,
        "roster_problem_label": roster_problem_text(v, "zh"),
        # Every roster problem, as the monthly report's 名单问题 lists them.
        "roster_findings": [
            {
                "kind": f.kind.value,
                "label": FINDING_LABELS["zh"][f.kind],
                "detail": f.detail,
                "detail_code": f.code,
                "detail_params": f.params or {},
                "detail_label": f.text("zh"),
            }
            for f in roster_findings(v, s.evidence, a.name)
        ],
        "evidence_url": ev.url if ev else None,
        "evidence_title": ev.title if ev else None,
        "evidence_observed_at": iso(ev.observed_at, tz) if ev else None,
        "evidence_source": ev.source if ev else None,
    }
