"""The JSON records every edge prints: the CLI's `--json` and the API serve the same shapes.

Times are ISO strings in the configured zone. Each shape is a contract (see docs/api.md
and the README): fields are added, never renamed.
"""

from __future__ import annotations

from datetime import datetime, tzinfo
from typing import Any

from monitor.checks.cases import STATUS_LABELS
from monitor.checks.record import CheckReport
from monitor.checks.sites import SiteStatus
from monitor.checks.verdicts import AccountVerdict
from monitor.dates import iso
from monitor.findings import FINDING_LABELS, roster_findings
from monitor.links import http_link
from monitor.messages import detail_text, reason_text, render, roster_problem_text
from monitor.models import AccountView, Evidence, Observation
from monitor.roster.apply import ImportOutcome
from monitor.site_rules import ColumnFinding
from monitor.store import AuditRow, CaseRow, NoticeFile, NoticeRow, UserRow


def observation_record(o: Observation, tz: tzinfo) -> dict[str, Any]:
    return {
        "id": o.id,
        "observed_at": iso(o.observed_at, tz),
        "source": o.source,
        "outcome": o.outcome.value,
        "is_evidence": o.is_evidence,
        "latest_post_at": iso(o.latest_post_at, tz),
        "post_id": o.post_id,
        "post_url": o.post_url,
        "post_title": o.post_title,
        "detail": o.detail,
        "detail_code": o.detail_code,
        "detail_params": o.detail_params,
        "detail_label": detail_text(o, "zh"),
        "silent_since": o.silent_since.isoformat() if o.silent_since else None,
        "profile": o.profile,
    }


def evidence_record(ev: Evidence | None, tz: tzinfo) -> dict[str, Any] | None:
    if ev is None:
        return None
    return {
        "observation_id": ev.observation_id,
        "observed_at": iso(ev.observed_at, tz),
        "source": ev.source,
        "outcome": ev.outcome.value,
        "url": ev.url,
        "title": ev.title,
    }


def alert_record(row: dict[str, Any], tz: tzinfo) -> dict[str, Any]:
    """An `alert_listing` row with its times as ISO strings (and `evidence_url`, as the CLI)."""
    out = {k: iso(v, tz) if isinstance(v, datetime) else v for k, v in row.items()}
    out["evidence_url"] = safe_url((row.get("evidence") or {}).get("url"))
    return out


def safe_url(url: str | None) -> str | None:
    """The URL when it is an http(s) link, else None: a link must never become javascript:."""
    return http_link(url)


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
            for f in roster_findings(v, s.evidence, a.name, s.last_outcome)
        ],
        "evidence_url": ev.url if ev else None,
        "evidence_title": ev.title if ev else None,
        "evidence_observed_at": iso(ev.observed_at, tz) if ev else None,
        "evidence_source": ev.source if ev else None,
    }


def check_record(report: CheckReport, tz: tzinfo) -> dict[str, Any]:
    obs, verdict = report.observation, report.verdict
    return {
        "id": report.account.id,
        "platform": report.account.platform.value,
        "account_id": report.account.account_id,
        "name": report.account.name,
        "source": report.source,
        "outcome": obs.outcome.value if obs else None,
        "observed_at": iso(obs.observed_at, tz) if obs else None,
        "latest_post_at": iso(obs.latest_post_at, tz) if obs else None,
        "detail": (obs.detail if obs else report.note) or None,
        "detail_code": obs.detail_code if obs else None,
        "detail_params": obs.detail_params if obs else None,
        "detail_label": detail_text(obs, "zh") if obs else None,
        "state": verdict.state.value if verdict else None,
        "state_label": verdict.label if verdict else None,
    }


def alert_list_record(item: dict[str, Any], tz: tzinfo) -> dict[str, Any]:
    """The JSON object of one alert in `monitor alerts --json`."""
    ev = item["evidence"] or {}
    return {
        "id": item["id"],
        "kind": item["kind"],
        "account": item["account"],
        "unit": item["unit"],
        "region": item["region"],
        "opened_at": iso(item["opened_at"], tz),
        "closed_at": iso(item["closed_at"], tz),
        "evidence_url": ev.get("url"),
        "close_reason": item["close_reason"],
        "platform": item["platform"],
        "account_id": item["account_id"],
        "name": item["name"],
        "source": item["source"] or ev.get("source"),
        "state_label": ev.get("state_label"),
        "latest_post_date": ev.get("latest_post_date"),
        "days_silent": ev.get("days_silent"),
        "observation": item["observation"],
        "acked_at": iso(item["acked_at"], tz),
        "ack_note": item["ack_note"],
        "evidence": ev,
    }


def import_record(outcome: ImportOutcome) -> dict[str, Any]:
    """`monitor import --json`: what a roster import read, planned and wrote."""
    plan = outcome.plan
    return {
        "file": outcome.file,
        "form": outcome.form,
        "dry_run": outcome.dry_run,
        "import_id": outcome.import_id,
        "changed": not plan.is_noop,
        **plan.summary(),
        "not_in_roster": [
            {"id": a.id, "platform": a.platform.value, "name": a.fields["name"]}
            for a in plan.not_in_roster
        ],
        "problems": [str(p) for p in outcome.problems],
    }


def roster_account_record(v: AccountView) -> dict[str, Any]:
    """`monitor accounts --json`: one account's roster fields in force."""
    return {
        "id": v.id,
        "platform": v.platform.value,
        "account_id": v.account_id,
        "name": v.name,
        "unit": v.unit,
        "unit_id": v.unit_id,
        "region": v.region,
        "status": v.status.value,
        "supervisor": v.supervisor,
        "contact": v.contact,
        "note": v.note,
        "source": v.source,
        "feed_url": v.feed_url,
        "appid": v.appid,
        "secret_env": v.secret_env,
        "retired": v.retired,
    }


def unit_record(u: dict[str, Any]) -> dict[str, Any]:
    """`monitor units --json`: a unit, its regions and how many accounts it has."""
    return {"id": u["id"], "name": u["name"], "regions": u["regions"], "accounts": u["accounts"]}


def case_record(row: CaseRow, tz: tzinfo) -> dict[str, Any]:
    """The JSON object of one rectification case (`monitor cases --json`, `/api/cases`)."""
    return {
        "id": row.id,
        "account": row.account,
        "unit": row.unit,
        "region": row.region,
        "notice": row.month,
        "opened_at": iso(row.opened_at, tz),
        "deadline": row.deadline.isoformat(),
        "status": row.status,
        "response": row.response,
        "decision": row.decision,
        "reviewed_at": iso(row.reviewed_at, tz),
        "status_label": STATUS_LABELS.get(row.status, row.status),
        "unit_id": row.unit_id,
        "platform": row.platform,
        "account_id": row.account_id,
        "name": row.name,
        "problems": row.problems,
        "notice_as_of": row.notice_as_of.isoformat(),
        "response_note": row.response_note,
        "responded_at": iso(row.responded_at, tz),
        "decision_note": row.decision_note,
        "decided_at": iso(row.decided_at, tz),
        "closed_at": iso(row.closed_at, tz),
        "reminded_at": iso(row.reminded_at, tz),
        "evidence": row.evidence,
    }


def notice_record(
    notice: NoticeRow, files: list[NoticeFile], cases: int, tz: tzinfo
) -> dict[str, Any]:
    """The JSON object of an issued notice and its frozen files (`monitor notice issue --json`)."""
    return {
        "id": notice.id,
        "month": notice.month,
        "as_of": notice.as_of.isoformat(),
        "deadline": notice.deadline.isoformat(),
        "issued_at": iso(notice.issued_at, tz),
        "cases": cases,
        "files": [
            {"format": f.format, "filename": f.filename, "sha256": f.sha256, "bytes": len(f.data)}
            for f in files
        ],
    }


def user_record(user: UserRow, tz: tzinfo) -> dict[str, Any]:
    """`monitor users list --json`: never a hash, only whether there is a password or token."""
    return {
        "name": user.name,
        "role": user.role,
        "units": list(user.units),
        "active": user.active,
        "has_password": user.password_hash is not None,
        "has_token": user.tokens > 0,
        "created_at": iso(user.created_at, tz),
        "disabled_at": iso(user.disabled_at, tz) if user.disabled_at else None,
    }


def audit_record(row: AuditRow, tz: tzinfo) -> dict[str, Any]:
    """`monitor audit --json` and `GET /api/audit`: who, when, what, from which address."""
    return {
        "id": row.id,
        "at": iso(row.at, tz),
        "who": row.who,
        "role": row.role,
        "address": row.address,
        "action": row.action,
        "status": row.status,
        "detail": row.detail,
    }


def _site_item(item: dict[str, Any], tz: tzinfo) -> dict[str, Any]:
    """A problem's evidence item: the detail's parameters become its Chinese `detail_label`."""
    out: dict[str, Any] = {}
    for k, v in item.items():
        if k == "detail_params":
            out["detail_label"] = (
                render(item.get("detail_code"), v, "zh", item.get("detail"))
                if item.get("detail") is not None
                else None
            )
        else:
            out[k] = iso(v, tz) if isinstance(v, datetime) else v
    return out


def site_column_record(finding: ColumnFinding, tz: tzinfo) -> dict[str, Any]:
    """A column of a website as judged: its type, newest item seen, when fetched."""
    column, obs = finding.column, finding.observation
    return {
        "id": column.id,
        "name": column.name,
        "url": safe_url(column.url),
        "type": column.kind.label,
        "type_code": column.kind.value,
        "date_selector": column.date_selector or None,
        "state": finding.state,
        "due_after": finding.due_after.isoformat() if finding.due_after else None,
        "items": obs.items if obs else None,
        "last_date": obs.newest_date.isoformat() if obs and obs.newest_date else None,
        "last_title": obs.newest_title if obs else None,
        "last_url": safe_url(obs.newest_url) if obs else None,
        "fetched_at": iso(obs.observed_at, tz) if obs else None,
        "fetch_ok": obs.ok if obs else None,
        "detail": obs.detail if obs else None,
        "detail_code": obs.detail_code if obs else None,
        "detail_label": detail_text(obs, "zh") if obs else None,
    }


def site_record(status: SiteStatus, tz: tzinfo, *, with_columns: bool = False) -> dict[str, Any]:
    """A website's verdict (`monitor sites status --json`): verdict, problems, summary."""
    site, judgement = status.site, status.judgement
    record: dict[str, Any] = {
        "id": site.id,
        "name": site.name,
        "url": safe_url(site.url),
        "site_code": site.site_code,
        "unit": site.unit,
        "region": site.region,
        "verdict": judgement.verdict.value,
        "verdict_label": judgement.verdict.label,
        "problems": [
            {
                "kind": p.kind,
                "count": p.count,
                "items": [_site_item(item, tz) for item in p.items],
            }
            for p in judgement.problems
        ],
        "summary": judgement.summary,
    }
    if with_columns:
        record["columns"] = [site_column_record(f, tz) for f in judgement.columns]
    return record
