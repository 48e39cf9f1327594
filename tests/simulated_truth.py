"""The truth a simulated account's posts imply: what a perfect check could conclude today.

Shared by the tests that compare verdicts from real sweeps with the scenario.
"""

from __future__ import annotations

from datetime import datetime

from monitor.classify import Windows, classify
from monitor.dates import zone
from monitor.models import Observation, Outcome, Platform, RosterFacts, State
from monitor.simulator.roster import roster_platform
from monitor.simulator.scenario import SimAccount
from monitor.simulator.wechat import is_mass

SH = zone("Asia/Shanghai")


class _SimState:
    """Just enough of the simulator's account state for `is_mass()`."""

    def __init__(self, account: SimAccount):
        self.account = account


def truth(account: SimAccount, now: datetime) -> set[State]:
    """The verdicts a perfect check of this account could give at `now` (default policy)."""
    today = now.astimezone(SH).date()
    facts = RosterFacts(Platform(roster_platform(account)))

    def judge(outcome: Outcome, latest: datetime | None = None) -> State:
        obs = Observation(
            account=1, observed_at=now, source="truth", outcome=outcome, latest_post_at=latest
        )
        return classify(facts, obs, Windows(), today, SH).state

    if not account.exists:
        return {judge(Outcome.NOT_FOUND)}
    served = [p for p in account.posts if p <= now]
    if not served:
        return {judge(Outcome.NO_CONTENT)}
    states = {judge(Outcome.OK, max(served))}
    if account.platform == "wechat":
        # 群发 (datacube) statistics appear the next day: a mass post of today is not
        # visible yet, so the previous one may be what the platform shows.
        visible = [
            p
            for p in served
            if not (p.astimezone(SH).date() == today and is_mass(_SimState(account), p))  # type: ignore[arg-type]
        ]
        states.add(judge(Outcome.OK, max(visible)) if visible else State.SUSPENDED)
    return states
