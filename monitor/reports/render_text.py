"""Text renderers: CSV (the detail table alone), Markdown and JSON. Each returns bytes.

CSV writes the region and unit on every row (machine-friendly); Markdown leaves
them blank when they continue the row above, as the official table does.
"""

from __future__ import annotations

import csv
import io
import json
from dataclasses import asdict
from typing import Any

from monitor.reports import labels as L
from monitor.reports.model import CaseStatus, Report, Tally

# A spreadsheet treats a cell starting with one of these as a formula (CSV injection).
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def neutralise(value: Any) -> Any:
    """Text a spreadsheet would run as a formula, prefixed with a single quote; others unchanged."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def render_csv(report: Report, lang: str = "zh") -> bytes:
    """The detail table: UTF-8 with BOM (so Excel reads it), CRLF lines, formulas neutralised."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\r\n")
    w.writerow(L.DETAIL_COLUMNS[lang])
    for row in report.rows:
        w.writerow(["" if c is None else neutralise(c) for c in L.detail_cells(row, lang)])
    if report.sites:
        # The websites' table follows after one blank row (only when sites are listed).
        w.writerow([])
        w.writerow(L.SITE_COLUMNS[lang])
        for n, site in enumerate(report.sites, start=1):
            w.writerow([neutralise(c) for c in L.site_cells(n, site, lang)])
    return ("\ufeff" + buf.getvalue()).encode("utf-8")


_MD_SPECIAL = str.maketrans({c: "\\" + c for c in "\\|<>[]*_`"} | {"\n": " ", "\r": " "})


def md_cell(value: Any) -> str:
    """A table cell: Markdown and inline HTML characters escaped, one line."""
    return "" if value is None else str(value).translate(_MD_SPECIAL)


def _md_table(header: list[str], rows: list[list[Any]]) -> list[str]:
    out = ["| " + " | ".join(md_cell(h) for h in header) + " |"]
    out.append("|" + "---|" * len(header))
    out.extend("| " + " | ".join(md_cell(c) for c in r) + " |" for r in rows)
    return out


def render_md(report: Report, lang: str = "zh") -> bytes:
    """Title, check date, policy, summary tables, then the detail table."""
    t = L.TEXT[lang]
    lines = [f"# {md_cell(L.title(report, lang))}", ""]
    lines.append(f"- {t['check_date']}: {report.as_of.isoformat()}")
    lines.append(f"- {t['policy']}: {md_cell(L.policy_text(report, lang))}")
    lines += ["", f"## {t['summary']}", ""]
    lines += _md_table(t["item_value"].split("|"), [list(i) for i in L.summary_items(report, lang)])
    lines += ["", md_cell(t["pass_rate_note"]), "", f"## {t['regions']}", ""]
    lines += _md_table(
        L.REGION_COLUMNS[lang], [L.region_cells(r.region, r.tally) for r in report.regions]
    )
    lines += ["", f"## {t['top_units']}", ""]
    lines += _section(
        L.UNIT_COLUMNS[lang],
        [L.unit_cells(u.region, u.unit, u.tally) for u in report.top_units],
        t["none"],
    )
    lines += ["", f"## {t['changes']} ({report.previous_as_of.isoformat()})", ""]
    for key, items in (("new_problems", report.new_problems), ("recovered", report.recovered)):
        lines += [f"### {t[key]}: {len(items)}", ""]
        lines += _section(
            L.CHANGE_COLUMNS[lang], [L.change_cells(c, lang) for c in items], t["none"]
        )
        lines.append("")
    lines += [f"## {t['roster']}", ""]
    lines += _section(
        L.FINDING_COLUMNS[lang],
        [L.finding_cells(f, lang) for f in report.roster_findings],
        t["none"],
    )
    lines += _md_rectification(report, lang)
    lines += ["", f"## {t['detail']}", "", md_cell(t["continuation_note"]), ""]
    rows = []
    for row, (same_region, same_unit) in zip(report.rows, L.continuation(report.rows), strict=True):
        cells = L.detail_cells(row, lang)
        cells[0] = "" if same_region else cells[0]
        cells[1] = "" if same_unit else cells[1]
        rows.append(cells)
    lines += _section(L.DETAIL_COLUMNS[lang], rows, t["none"])
    if report.sites:
        lines += ["", f"## {t['sites']}", "", md_cell(t["site_pass_rate_note"]), ""]
        lines += _md_table(
            L.SITE_COLUMNS[lang],
            [L.site_cells(n, site, lang) for n, site in enumerate(report.sites, start=1)],
        )
    return ("\n".join(lines) + "\n").encode("utf-8")


def _md_rectification(report: Report, lang: str) -> list[str]:
    """整改情况: the previous notice's cases and the accounts named months in a row."""
    r = report.rectification
    if r is None:
        return []
    t = L.RECTIFY_TEXT[lang]
    lines = ["", f"## {t['heading']}", ""]
    lines += [md_cell(t["intro"].format(month=r.notice, as_of=r.notice_as_of.isoformat())), ""]
    lines += [md_cell(L.rectify_counts(report, lang)), ""]
    lines += _section(
        L.CASE_COLUMNS[lang], [L.case_cells(c, lang) for c in r.cases], L.TEXT[lang]["none"]
    )
    lines += ["", f"### {t['repeated']}", ""]
    lines += _section(L.REPEATED_COLUMNS[lang], L.repeated_rows(report, lang), L.TEXT[lang]["none"])
    return lines


def _section(header: list[str], rows: list[list[Any]], none: str) -> list[str]:
    return _md_table(header, rows) if rows else [none]


def _tally(t: Tally) -> dict[str, Any]:
    return {
        **asdict(t),
        "problems": t.problems,
        "judged": t.judged,
        "passed": t.passed,
        "pass_rate": None if t.pass_rate is None else round(t.pass_rate, 6),
    }


def report_data(report: Report, lang: str = "zh") -> dict[str, Any]:
    """The report as JSON-ready data (keys in English, labels in `lang`)."""

    def change(c: Any) -> dict[str, Any]:
        return {
            "region": c.region,
            "unit": c.unit,
            "platform": c.platform.value,
            "name": c.name,
            "before": c.before.value if c.before else None,
            "after": c.after.value,
        }

    return {
        "title": L.title(report, lang),
        "as_of": report.as_of.isoformat(),
        "month": report.month,
        "previous_as_of": report.previous_as_of.isoformat(),
        "timezone": report.timezone,
        "policy": report.policy,
        "summary": {
            **_tally(report.summary),
            "new_problems": len(report.new_problems),
            "recovered": len(report.recovered),
            "pass_rate_rule": L.TEXT[lang]["pass_rate_note"],
        },
        "regions": [{"region": r.region, **_tally(r.tally)} for r in report.regions],
        "top_units": [
            {"region": u.region, "unit": u.unit, **_tally(u.tally)} for u in report.top_units
        ],
        "new_problems": [change(c) for c in report.new_problems],
        "recovered": [change(c) for c in report.recovered],
        "roster_problems": [
            {
                "kind": f.kind.value,
                "label": L.FINDING_LABELS[lang][f.kind],
                "region": f.region,
                "unit": f.unit,
                "platform": f.platform.value,
                "name": f.name,
                "detail": f.detail,
                "detail_code": f.detail_code,
                "detail_params": f.detail_params or {},
                "detail_label": L.finding_text(f, lang),
            }
            for f in report.roster_findings
        ],
        "rows": [
            {
                "account": r.account,
                "region": r.region,
                "unit": r.unit,
                "platform": r.platform.value,
                "name": r.name,
                "account_id": r.account_id,
                "last_update": L.last_update_text(r, lang),
                "last_update_kind": r.last_update.value,
                "last_update_date": r.last_update_date.isoformat() if r.last_update_date else None,
                "problem": L.PROBLEM_LABELS[lang][r.problem],
                "problem_code": r.problem.value,
                "days_silent": r.days_silent,
                "evidence_url": r.evidence_url,
            }
            for r in report.rows
        ],
        **_sites_data(report, lang),
    }


def _sites_data(report: Report, lang: str) -> dict[str, Any]:
    """The websites' table and tally (keys present only when sites are listed)."""
    tally = report.site_tally
    if tally is None:
        return {}
    return {
        "site_summary": {
            "sites": tally.sites,
            "failed": tally.failed,
            "issues": tally.issues,
            "passed": tally.passed,
            "unknown": tally.unknown,
            "judged": tally.judged,
            "pass_rate": None if tally.pass_rate is None else round(tally.pass_rate, 6),
            "pass_rate_rule": L.TEXT[lang]["site_pass_rate_note"],
        },
        "sites": [
            {
                "site": r.site,
                "region": r.region,
                "unit": r.unit,
                "name": r.name,
                "url": r.url,
                "site_code": r.site_code,
                "verdict": r.verdict.value,
                "verdict_label": L.SITE_VERDICT_LABELS[lang][r.verdict],
                "summary": r.summary,
            }
            for r in report.sites
        ],
    }


def rectification_data(report: Report, lang: str) -> dict[str, Any] | None:
    """整改情况 as JSON: the previous notice's cases and the accounts named months in a row."""
    r = report.rectification
    if r is None:
        return None
    return {
        "notice": r.notice,
        "notice_as_of": r.notice_as_of.isoformat(),
        "counts": {s.value: r.count(s) for s in CaseStatus},
        "cases": [
            {
                "case": c.case,
                "account": c.account,
                "region": c.region,
                "unit": c.unit,
                "platform": c.platform.value,
                "name": c.name,
                "problems": list(c.problems),
                "deadline": c.deadline.isoformat(),
                "status": c.status.value,
                "status_label": L.CASE_STATUS_LABELS[lang][c.status.value],
                "response": c.response,
            }
            for c in r.cases
        ],
        "repeated": [
            {"account": account, "months": n} for account, n in sorted(r.repeated.items())
        ],
    }


def render_json(report: Report, lang: str = "zh") -> bytes:
    data = report_data(report, lang)
    rectification = rectification_data(report, lang)
    if rectification is not None:
        data["rectification"] = rectification
    return (json.dumps(data, ensure_ascii=False, indent=2) + "\n").encode()
