"""Rectification cases (整改): opening, answers, decisions, reminders and the re-check (复查).

A notice (monitor.notices) opens one case per account it names. Then:

    unit answers      respond(): resumed | cancel_requested | explained -> responded
    office decides    decide(): accept an explanation -> accepted; reject -> open
    day before        remind_due(): one reminder per case to the unit
    at the deadline   review_due(): re-check the account through the check library
                      (its observation is recorded as any check is) and close the case:
        1. the roster says cancelled (已注销)                        -> rectified
        2. evidence of a post after the notice's as-of date         -> rectified
        3. newest evidence after the as-of date: gone from platform -> rectified
        4. otherwise                                                -> not_rectified
      Evidence is every evidence observation on record, manual ones included; a failed
      check is kept on the case as what was tried, never as evidence. An explanation
      still waiting for the office's decision is not re-checked.

Every change writes a case event and its outbox rows in the same transaction:
opened -> the unit; reminder -> the unit; outcome -> the unit and the office.

Errors: CaseError(message, kind) with kind "not_found" (no such case, or outside the
caller's units), "conflict" (the case is not in a state for this) or "invalid".
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

import httpx

from monitor.checks.fetch import Checker
from monitor.checks.notify import operator_channels, unit_channels
from monitor.dates import end_of_day, utcnow
from monitor.models import AccountView, Observation, Outcome, Platform, RosterStatus
from monitor.settings import SecretLookup, Settings
from monitor.store import CaseRow, Store
from monitor.store.cases import (
    ACCEPTED,
    LIVE_STATUSES,
    NOT_RECTIFIED,
    OPEN,
    RECTIFIED,
    RESPONDED,
)

log = logging.getLogger(__name__)

ACTIONS = ("resumed", "cancel_requested", "explained")
DECISIONS = ("accept", "reject")
NOTE_MAX = 2000

STATUS_LABELS = {
    OPEN: "整改中",
    RESPONDED: "已答复",
    RECTIFIED: "已整改",
    NOT_RECTIFIED: "整改不到位",
    ACCEPTED: "已说明",
}
ACTION_LABELS = {"resumed": "已恢复更新", "cancel_requested": "已申请注销", "explained": "情况说明"}


class CaseError(Exception):
    """A case operation refused; `kind` is "not_found", "conflict" or "invalid"."""

    def __init__(self, message: str, kind: str):
        super().__init__(message)
        self.message = message
        self.kind = kind


@dataclass(frozen=True, slots=True)
class Named:
    """An account a notice names, with its problem codes (zombie_wechat, suspended, missing...)."""

    account: int
    problems: tuple[str, ...]


@dataclass(slots=True)
class Reviewed:
    """What the re-check of one case concluded (status None: left for the office)."""

    case: int
    status: str | None
    evidence: dict[str, Any] = field(default_factory=dict)


# -- opening ---------------------------------------------------------------------------


def open_cases(
    store: Store,
    settings: Settings,
    *,
    notice: int,
    month: str,
    as_of: date,
    deadline: date,
    named: Sequence[Named],
    now: datetime,
) -> list[int]:
    """Open a case per named account and queue "case opened" for its unit (in a transaction)."""
    views = {
        v.id: v
        for v in store.accounts_at(
            end_of_day(as_of, settings.tz), ids=[n.account for n in named], include_retired=True
        )
    }
    opened = []
    for item in named:
        view = views.get(item.account)
        if view is None:
            continue
        case = store.open_case(
            notice=notice,
            account=view.id,
            unit=view.unit_id,
            region=view.region,
            problems=item.problems,
            now=now,
            deadline=deadline,
        )
        if case is None:
            continue
        store.add_case_event(case, now, "opened", {"problems": list(item.problems)})
        title = f"【整改通知】{view.unit} · {view.name}"
        body = (
            f"主办单位：{view.unit}\n地区：{view.region}\n{_account_line(view)}\n"
            f"通报：{month}（检查日期 {as_of.isoformat()}）\n"
            f"问题：{'、'.join(item.problems)}\n"
            f"整改期限：{deadline.isoformat()} 前\n"
            f"请在期限前整改并在案件页答复（案件 {case}）。"
        )
        _enqueue(store, settings, f"case:{case}:opened", title, body, now, view, office=False)
        opened.append(case)
    return opened


# -- answers and decisions ---------------------------------------------------------------


def visible_case(store: Store, case: int, units: Collection[str] | None) -> CaseRow:
    """The case, if it exists and lies within `units` (None: any); CaseError not_found else."""
    row = store.case(case)
    if row is None or (units is not None and row.unit not in units):
        raise CaseError(f"no case with id {case}", "not_found")
    return row


def respond(
    store: Store,
    settings: Settings,
    case: int,
    action: str,
    note: str,
    now: datetime,
    *,
    units: Collection[str] | None = None,
) -> CaseRow:
    """Record a unit's answer to a live case; the case after it."""
    if action not in ACTIONS:
        raise CaseError(f"action: use one of {', '.join(ACTIONS)} (got {action!r})", "invalid")
    note = _note(note)
    with store.transaction():
        row = visible_case(store, case, units)
        if not store.respond_case(case, action, note, now):
            raise CaseError(f"case {case} is closed ({row.status}); it takes no answer", "conflict")
        store.add_case_event(case, now, "responded", {"action": action, "note": note})
        after = store.case(case)
    assert after is not None
    return after


def decide(
    store: Store,
    settings: Settings,
    case: int,
    decision: str,
    note: str,
    now: datetime,
    *,
    units: Collection[str] | None = None,
) -> CaseRow:
    """The office's decision on an explanation: accept -> accepted, reject -> open again."""
    if decision not in DECISIONS:
        raise CaseError(
            f"decision: use one of {', '.join(DECISIONS)} (got {decision!r})", "invalid"
        )
    note = _note(note)
    with store.transaction():
        row = visible_case(store, case, units)
        if not store.decide_case(case, decision, note, now):
            raise CaseError(
                f"case {case} has no explanation waiting for a decision (status {row.status})",
                "conflict",
            )
        store.add_case_event(case, now, "decided", {"decision": decision, "note": note})
        after = store.case(case)
        assert after is not None
        if decision == "accept":
            _outcome_message(store, settings, after, now)
        else:
            view = _view_of(after)
            title = f"【说明未通过】{after.unit} · {after.name}"
            body = (
                f"主办单位：{after.unit}\n{_account_line(view)}\n"
                f"情况说明未被采纳：{note or '—'}\n"
                f"请在 {after.deadline.isoformat()} 前完成整改（案件 {case}）。"
            )
            _enqueue(store, settings, f"case:{case}:rejected:{len(store.case_events(case))}",
                     title, body, now, view, office=False)  # fmt: skip
    return after


def _note(note: str | None) -> str:
    note = (note or "").strip()
    if len(note) > NOTE_MAX:
        raise CaseError(f"note: at most {NOTE_MAX} characters (got {len(note)})", "invalid")
    return note


# -- reminders -------------------------------------------------------------------------


def remind_due(store: Store, settings: Settings, day: date, now: datetime) -> list[int]:
    """Remind units of live cases whose deadline is the day after `day` (once per case)."""
    tomorrow = day + timedelta(days=1)
    reminded = []
    with store.transaction():
        for row in store.cases(statuses=LIVE_STATUSES, due_by=tomorrow):
            if row.deadline != tomorrow or not store.mark_reminded(row.id, now):
                continue
            store.add_case_event(row.id, now, "reminded", {"deadline": row.deadline.isoformat()})
            view = _view_of(row)
            title = f"【整改提醒】{row.unit} · {row.name}：明天到期"
            body = (
                f"主办单位：{row.unit}\n{_account_line(view)}\n"
                f"通报：{row.month}，整改期限：{row.deadline.isoformat()}（明天）\n"
                f"当前状态：{STATUS_LABELS.get(row.status, row.status)}\n"
                "到期后将复查：检查日期之后有新发布，或账号已注销，视为已整改。"
            )
            _enqueue(store, settings, f"case:{row.id}:reminder", title, body, now, view,
                     office=False)  # fmt: skip
            reminded.append(row.id)
    return reminded


# -- the re-check (复查) -----------------------------------------------------------------


async def review_due(
    store: Store,
    settings: Settings,
    day: date,
    *,
    secrets: SecretLookup | None = None,
    clock: Callable[[], datetime] = utcnow,
    transport: httpx.AsyncBaseTransport | None = None,
) -> list[Reviewed]:
    """Re-check every live case whose deadline is on or before `day` and close it."""
    due = store.cases(statuses=LIVE_STATUSES, due_by=day)
    # An explanation waits for the office's decision; it is not re-checked meanwhile.
    waiting = {c.id for c in due if c.status == RESPONDED and c.response == "explained"}
    due = [c for c in due if c.id not in waiting]
    out = [Reviewed(case, None, {"waiting": "decision"}) for case in sorted(waiting)]
    if not due:
        return out
    now = clock()
    accounts = sorted({c.account for c in due})
    views = {v.id: v for v in store.accounts_at(now, ids=accounts, include_retired=True)}
    checked: dict[int, Observation | None] = {}
    notes: dict[int, str] = {}
    # Cancelled in the roster: rule 1 decides, nothing to fetch. Retired (left the
    # roster): no longer checked, judged from the evidence on record.
    to_check = [v for v in views.values() if _checkable(v)]
    async with Checker(store, settings, secrets, clock=clock, transport=transport) as checker:
        for report in await checker.check_many(to_check):
            checked[report.account.id] = report.observation
            notes[report.account.id] = report.note
    now = clock()
    with store.transaction():
        for row in due:
            status, evidence = judge(store, settings, row, views.get(row.account),
                                     checked.get(row.account), notes.get(row.account, ""))  # fmt: skip
            if not store.close_case(row.id, status, evidence, now):
                continue  # answered or closed meanwhile: the next review sees it
            store.add_case_event(row.id, now, "reviewed", {"status": status, **evidence})
            after = store.case(row.id)
            assert after is not None
            _outcome_message(store, settings, after, now)
            out.append(Reviewed(row.id, status, evidence))
    return out


def judge(
    store: Store,
    settings: Settings,
    row: CaseRow,
    view: AccountView | None,
    check: Observation | None,
    note: str = "",
) -> tuple[str, dict[str, Any]]:
    """The re-check's conclusion for one case and the evidence it rests on (rules 1-4)."""
    tz = settings.tz
    tried: dict[str, Any] = {}
    if check is not None:
        tried = {"check": {**_observation(check, tz), "counts_as_evidence": check.is_evidence}}
    elif view is not None and _checkable(view):
        tried = {"check": {"ran": False, "note": note or "no automatic source"}}
    elif view is not None and view.retired:
        tried = {"check": {"ran": False, "note": "retired from the roster"}}
    if view is not None and view.status is RosterStatus.CANCELLED:
        return RECTIFIED, {"rule": "cancelled_in_roster", **tried}
    after = row.notice_as_of
    evidence = [
        o for o in store.observations(row.account, limit=200) if o.outcome.is_evidence
    ]  # newest first; failed checks never count
    for obs in evidence:
        if obs.latest_post_at is not None and obs.latest_post_at.astimezone(tz).date() > after:
            return RECTIFIED, {"rule": "post_after_notice", "evidence": _observation(obs, tz),
                               **tried}  # fmt: skip
    newest = evidence[0] if evidence else None
    if (
        newest is not None
        and newest.outcome is Outcome.NOT_FOUND
        and newest.observed_at.astimezone(tz).date() > after
    ):
        return RECTIFIED, {"rule": "cancelled_on_platform", "evidence": _observation(newest, tz),
                           **tried}  # fmt: skip
    return NOT_RECTIFIED, {
        "rule": "no_post_after_notice",
        "evidence": _observation(newest, tz) if newest is not None else None,
        **tried,
    }


def _checkable(view: AccountView) -> bool:
    return not view.retired and view.status is not RosterStatus.CANCELLED


def _observation(obs: Observation, tz: Any) -> dict[str, Any]:
    return {
        "observation": obs.id,
        "source": obs.source,
        "outcome": obs.outcome.value,
        "observed_at": obs.observed_at.astimezone(tz).isoformat(),
        "latest_post_at": obs.latest_post_at.astimezone(tz).isoformat()
        if obs.latest_post_at
        else None,
        "url": obs.post_url,
        "title": obs.post_title,
    }


# -- messages ----------------------------------------------------------------------------


def _view_of(row: CaseRow) -> AccountView:
    """The account as the notice named it, for messages and routes (not for judging)."""
    return AccountView(
        id=row.account,
        platform=Platform(row.platform),
        account_id=row.account_id,
        name=row.name,
        unit=row.unit,
        unit_id=row.unit_id,
        region=row.region,
        status=RosterStatus.OPERATING,
        roster_order=0,
    )


def _account_line(view: AccountView) -> str:
    return f"账号：{view.name}（{view.platform.label} {view.account_id}）".replace(" ）", "）")


def _outcome_message(store: Store, settings: Settings, row: CaseRow, now: datetime) -> None:
    view = _view_of(row)
    label = STATUS_LABELS.get(row.status, row.status)
    ev = row.evidence
    lines = [
        f"主办单位：{row.unit}",
        f"地区：{row.region}",
        _account_line(view),
        f"通报：{row.month}，整改期限：{row.deadline.isoformat()}",
        f"复查结果：{label}",
    ]
    found = ev.get("evidence") if isinstance(ev, dict) else None
    if isinstance(found, dict):
        lines.append(
            f"证据：{found.get('url') or '—'}（最新发布 {found.get('latest_post_at') or '—'}，"
            f"检测于 {found.get('observed_at') or '—'}）"
        )
    if row.decision_note:
        lines.append(f"说明：{row.decision_note}")
    title = f"【复查结果·{label}】{row.unit} · {row.name}"
    _enqueue(store, settings, f"case:{row.id}:{row.status}", title, "\n".join(lines), now, view,
             office=True)  # fmt: skip


def _enqueue(
    store: Store,
    settings: Settings,
    event: str,
    title: str,
    body: str,
    now: datetime,
    view: AccountView,
    *,
    office: bool,
) -> int:
    channels = unit_channels(settings, view.unit, view.region)
    if office:
        channels += [c for c in operator_channels(settings) if c not in channels]
    written = 0
    for channel in channels:
        written += store.enqueue_delivery(
            event=event, channel=channel, title=title, body=body, now=now, unit=view.unit_id
        )
    return written
