"""Roster problems an account's verdict and evidence reveal (a report's 名单问题).

One definition for the monthly report and the dashboard, so both count the same
accounts: gone from the platform while the roster says operating, not verified
as a government account, named differently on the platform, or listed with a URL
the outbound guard refuses.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from monitor.messages import render
from monitor.models import MessageCode, Outcome, State


class RosterIssue(StrEnum):
    """Roster problems listed besides the verdicts."""

    MISSING = "missing"  # not found on the platform, roster says operating
    NOT_VERIFIED = "not_verified"  # the platform does not verify it as a government account
    NAME_DIFFERS = "name_differs"  # the platform's name differs from the roster's
    URL_REFUSED = "url_refused"  # the roster's URL points where the monitor may not go


FINDING_LABELS = {
    "zh": {
        RosterIssue.MISSING: "平台上已不存在",
        RosterIssue.NOT_VERIFIED: "非政务认证",
        RosterIssue.NAME_DIFFERS: "名称与名单不一致",
        RosterIssue.URL_REFUSED: "地址被拒绝",
    },
    "en": {
        RosterIssue.MISSING: "Missing on the platform",
        RosterIssue.NOT_VERIFIED: "Not government-verified",
        RosterIssue.NAME_DIFFERS: "Name differs from the roster",
        RosterIssue.URL_REFUSED: "URL refused",
    },
}


@dataclass(frozen=True, slots=True)
class Finding:
    """One roster problem of one account: its kind and its detail as a message."""

    kind: RosterIssue
    code: str
    params: dict[str, Any] | None
    detail: str  # the English wording (the report JSON's `detail`)

    def text(self, lang: str) -> str:
        return render(self.code, self.params, lang, self.detail)


def _finding(kind: RosterIssue, code: str, params: dict[str, Any] | None = None) -> Finding:
    return Finding(kind, code, params, render(code, params, "en"))


def roster_findings(
    verdict: Any, evidence: Any, name: str, last_outcome: Outcome | None = None
) -> list[Finding]:
    """The roster problems of one account: its verdict, its evidence, its roster name and
    the outcome of its newest check (a URL our outbound guard refuses is the roster's)."""
    out = []
    if last_outcome is Outcome.REFUSED:
        out.append(_finding(RosterIssue.URL_REFUSED, MessageCode.URL_REFUSED))
    if verdict.roster_problem:
        code = verdict.roster_problem_code or MessageCode.MISSING_ON_PLATFORM
        out.append(Finding(RosterIssue.MISSING, code, None, verdict.roster_problem))
    profile = (
        evidence.profile if evidence is not None and verdict.state is not State.UNKNOWN else None
    )
    if not profile or evidence is None or evidence.outcome is Outcome.NOT_FOUND:
        return out
    verified, verified_type = profile.get("verified"), profile.get("verified_type")
    if verified is False or (verified_type is not None and verified_type != 1):
        params = {
            "verified": verified,
            "verified_type": verified_type,
            "verified_reason": profile.get("verified_reason") or "",
        }
        out.append(_finding(RosterIssue.NOT_VERIFIED, MessageCode.NOT_VERIFIED, params))
    screen_name = profile.get("screen_name")
    if screen_name and str(screen_name).strip() != name.strip():
        params = {"screen_name": str(screen_name)}
        out.append(_finding(RosterIssue.NAME_DIFFERS, MessageCode.NAME_DIFFERS, params))
    return out
