"""Issuing a notice (通报): a month's report frozen byte-for-byte, and a case per named account.

    build_report (month, as-of) -> render every format -> notice + files stored as bytes
    -> one case per account in a problem row (zombie, suspended) or a roster finding,
       deadline = as-of + `rectify.within` (3月4日 + 5d -> 3月9日) unless given
    -> "case opened" outbox rows for each unit, all in one transaction

The files are rendered once and stored; later roster changes, observations or a
new program version never change them (`notice_files` returns them as issued).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import date, datetime

from monitor.checks.cases import Named, open_cases
from monitor.reports import FORMATS, build_report, render
from monitor.reports.deliver import report_filename
from monitor.settings import Settings
from monitor.store import NoticeFile, NoticeRow, Store


class NoticeError(ValueError):
    """A notice that cannot be issued (one exists for the month, a deadline before as-of)."""


@dataclass(frozen=True, slots=True)
class IssuedNotice:
    notice: NoticeRow
    files: list[NoticeFile]
    cases: list[int]


def issue_notice(
    store: Store,
    settings: Settings,
    month: str,
    as_of: date,
    *,
    now: datetime,
    deadline: date | None = None,
) -> IssuedNotice:
    """Freeze `month`'s report as of `as_of` as a notice and open its cases."""
    existing = store.notice_by_month(month)
    if existing is not None:
        raise NoticeError(
            f"a notice for {month} was issued already (as of {existing.as_of.isoformat()}); "
            "an issued notice is never replaced"
        )
    deadline = deadline or settings.rectify.within.after(as_of)
    if deadline < as_of:
        raise NoticeError(
            f"deadline {deadline.isoformat()} is before the as-of date {as_of.isoformat()}"
        )
    reports = settings.reports
    report = build_report(
        store, as_of, settings.policy, settings.tz, month=month, top_units=reports.top_units
    )
    files = []
    for fmt in FORMATS:
        data = render(report, fmt, reports.lang)
        files.append(
            NoticeFile(fmt, report_filename(month, fmt), hashlib.sha256(data).hexdigest(), data)
        )
    problems: dict[int, list[str]] = {}
    for row in report.rows:
        problems.setdefault(row.account, []).append(row.problem.value)
    for finding in report.roster_findings:
        if finding.kind.value not in problems.setdefault(finding.account, []):
            problems[finding.account].append(finding.kind.value)
    named = [Named(account, tuple(kinds)) for account, kinds in problems.items()]
    with store.transaction():
        notice_id = store.add_notice(
            month=month, as_of=as_of, deadline=deadline, now=now, files=files
        )
        cases = open_cases(
            store,
            settings,
            notice=notice_id,
            month=month,
            as_of=as_of,
            deadline=deadline,
            named=named,
            now=now,
        )
        notice = store.notice(notice_id)
    assert notice is not None
    return IssuedNotice(notice, files, cases)
