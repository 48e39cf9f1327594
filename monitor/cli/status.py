"""`monitor status`: each account's verdict as of a date, as a table or JSON."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

import typer

from monitor.cli.app import app
from monitor.cli.options import (
    AsOfOption,
    ConfigOption,
    DbOption,
    JsonOption,
    PolicyFlags,
    one_of,
    policy_options,
)
from monitor.cli.session import (
    Session,
    fail,
    print_json,
    rich_console,
)
from monitor.settings import Policy


@app.command()
@policy_options
def status(
    ctx: typer.Context,
    query: Annotated[
        str | None,
        typer.Argument(
            help="An account (id, platform:account_id, platform:name, name) or part of a name."
        ),
    ] = None,
    unit: Annotated[str | None, typer.Option("--unit", help="Only this unit (主办单位).")] = None,
    region: Annotated[str | None, typer.Option("--region", help="Only this region (类别).")] = None,
    state: Annotated[
        str | None,
        typer.Option(
            "--state",
            help="Only this state: active, warning, zombie, suspended, cancelled, unknown.",
        ),
    ] = None,
    platform: Annotated[str | None, typer.Option("--platform", help="Only this platform.")] = None,
    as_of: AsOfOption = None,
    db: DbOption = None,
    config: ConfigOption = None,
    as_json: JsonOption = False,
    policy_flags: PolicyFlags = PolicyFlags(),
) -> None:
    """Show each account's verdict (state, latest post, days silent) as of a date.

    Example: monitor status --as-of 2020-03-04 --zombie-after 14d --state zombie
    """
    from monitor.models import Platform, State

    s = Session(ctx, db, config)
    day, policy = s.as_of(as_of), s.policy(policy_flags)
    state = one_of("--state", state, State, "state")
    platform = one_of("--platform", platform, Platform, "platform")
    filters = {"unit": unit, "region": region, "state": state, "platform": platform}
    # A query that names accounts shows them; otherwise it searches names.
    ids = [r[0] for r in s.store.find_accounts(query)] if query is not None else []
    if query is not None and not ids:
        filters["q"] = query
    show_status(s, filters, ids or None, day, policy, as_json)
    s.close()


def show_status(
    s: Session,
    filters: dict[str, str | None] | None,
    ids: list[int] | None,
    day: date,
    policy: Policy,
    as_json: bool,
    header: str | None = None,
) -> None:
    from monitor.checks.verdicts import verdicts_at
    from monitor.records import status_record

    if ids is None and filters and any(v is not None for v in filters.values()):
        ids = _current_ids(s, filters, day, policy)
    items = verdicts_at(s.store, day, policy, s.tz, ids=ids)
    records = [status_record(i, s.tz) for i in items]
    if filters:
        records = [r for r in records if _matches(r, filters)]
    if filters and filters.get("q") and not records:
        fail(f"no account matches {filters['q']!r}")
    if as_json:
        print_json(records)
        return
    console = rich_console()
    if header:
        console.print(header)
    _status_table(console, records, day, policy, s.settings.timezone)


def _current_ids(
    s: Session, filters: dict[str, str | None], day: date, policy: Policy
) -> list[int] | None:
    """For today under the configured policy: the matching accounts, from the stored
    verdicts' indexes (None: judge every account, as for another date or policy)."""
    from monitor.checks.verdicts import CurrentVerdicts, policy_key
    from monitor.dates import today
    from monitor.store import VerdictQuery

    if day != today(s.tz) or policy_key(policy) != policy_key(s.settings.policy):
        return None
    unit: int | None = None
    if filters.get("unit") is not None:
        found = s.store.unit_id(filters["unit"] or "")
        if found is None:
            return []
        unit = found
    state = filters.get("state")
    query = VerdictQuery(
        unit=unit,
        region=filters.get("region"),
        platform=filters.get("platform"),
        states=frozenset({state}) if state else None,
        name_contains=filters.get("q"),
    )
    return CurrentVerdicts(s.store, s.settings).page(day, query, limit=None).ids


def _matches(record: dict[str, Any], filters: dict[str, str | None]) -> bool:
    for key in ("unit", "region", "state", "platform"):
        wanted = filters.get(key)
        if wanted is not None and record[key] != wanted:
            return False
    q = filters.get("q")
    return not (q and q not in record["name"])


def _status_table(
    console: Any, records: list[dict[str, Any]], day: date, policy: Policy, timezone: str
) -> None:
    """The verdicts as a table for reading (Chinese, as the notice writes them); --json for machines."""
    from rich.table import Table

    from monitor.messages import policy_of, policy_text
    from monitor.models import PLATFORM_LABELS, STATE_LABELS, Platform, State

    rules = policy_text(policy_of(policy), timezone, "zh")
    table = Table(title=f"判定日期 {day.isoformat()} · {rules}", title_justify="left")
    for column in ("编号", "类别", "主办单位", "平台", "账号名称", "状态", "最后更新时间",
                   "未更新天数", "最近检测"):  # fmt: skip
        table.add_column(column)
    styles = {"zombie": "red", "suspended": "magenta", "warning": "yellow", "active": "green"}
    for r in records:
        latest = r["latest_post_date"] or (
            "无内容"
            if r["no_content"]
            else f"早于 {r['silent_since']}"
            if r["silent_since"]
            else "-"
        )
        table.add_row(
            str(r["id"]),
            r["region"],
            r["unit"],
            PLATFORM_LABELS[Platform(r["platform"])],
            r["name"],
            f"[{styles.get(r['state'], 'dim')}]{r['state_label']}[/] ({r['state']})",
            latest,
            "" if r["days_silent"] is None else str(r["days_silent"]),
            (r["last_checked_at"] or "从未")[:16].replace("T", " "),
        )
    console.print(table)
    counts: dict[str, int] = {}
    for r in records:
        counts[r["state"]] = counts.get(r["state"], 0) + 1
    console.print(
        f"共 {len(records)} 个账号："
        + "，".join(f"{STATE_LABELS[State(k)]} {v}" for k, v in sorted(counts.items()))
    )
