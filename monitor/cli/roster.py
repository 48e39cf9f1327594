"""`monitor import`, `monitor accounts`, `monitor units`: the roster in and out."""

from __future__ import annotations

import sys
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from monitor.cli.app import app
from monitor.cli.options import (
    AsOfOption,
    ConfigOption,
    DbOption,
    JsonOption,
)
from monitor.cli.session import (
    Session,
    UsageProblem,
    fail,
    print_json,
    rich_console,
)
from monitor.dates import DateInputError, parse_moment

if TYPE_CHECKING:
    from monitor.roster.apply import ImportOutcome


@app.command("import")
def import_roster(
    ctx: typer.Context,
    file: Annotated[Path, typer.Argument(help="Roster file: CSV (UTF-8 or GB18030) or XLSX.")],
    sheet: Annotated[str | None, typer.Option("--sheet", help="XLSX sheet name.")] = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Show what would change; write nothing.")
    ] = False,
    skip_invalid: Annotated[
        bool,
        typer.Option("--skip-invalid", help="Import the valid rows even when some rows are bad."),
    ] = False,
    prune: Annotated[
        bool, typer.Option("--prune", help="Retire accounts that are not in this roster.")
    ] = False,
    effective: Annotated[
        str | None,
        typer.Option("--effective", help="Changes apply from this date (default: now)."),
    ] = None,
    db: DbOption = None,
    config: ConfigOption = None,
    as_json: JsonOption = False,
) -> None:
    """Import a roster of accounts (long form or the official wide form).

    Example: monitor import config/roster.example.csv --dry-run
    """
    from monitor.records import import_record
    from monitor.roster.apply import RosterRejected, import_file

    s = Session(ctx, db, config)
    effective_at = _effective(effective, s)
    try:
        outcome = import_file(
            s.store, file, sheet=sheet, skip_invalid=skip_invalid, prune=prune,
            dry_run=dry_run, effective_at=effective_at, settings=s.settings,
        )  # fmt: skip
    except RosterRejected as exc:
        sys.stderr.writelines(f"{p}\n" for p in exc.problems)
        fail(str(exc))
    sys.stderr.writelines(f"{p}\n" for p in outcome.problems)
    if as_json:
        print_json(import_record(outcome))
    else:
        _print_import(outcome)
    s.close()


def _effective(text: str | None, s: Session) -> datetime | None:
    if text is None:
        return None
    try:
        return parse_moment(text, s.tz)
    except DateInputError as exc:
        raise UsageProblem(f"--effective: {exc}") from exc


def _print_import(outcome: ImportOutcome) -> None:
    out, plan = sys.stdout, outcome.plan
    summary = plan.summary()
    u, a = summary["units"], summary["accounts"]
    verb = "would be" if outcome.dry_run else "were"
    out.write(f"{outcome.file}: {outcome.form} form, {outcome.read} account(s) read\n")
    out.write(
        f"units:    {u['added']} added, {u['unchanged']} unchanged, "
        f"{u['not_in_roster']} not in this roster\n"
    )
    out.write(
        f"accounts: {a['added']} added, {a['updated']} updated, {a['unchanged']} unchanged, "
        f"{a['not_in_roster']} not in this roster, {a['rejected']} rejected"
        + (f", {a['retired']} retired" if outcome.prune else "")
        + "\n"
    )
    for change, fields in plan.updated[:20]:
        out.write(f"  updated: {change.fields['name']} ({', '.join(fields)})\n")
    for account in plan.not_in_roster[:20]:
        out.write(
            f"  not in this roster: [{account.id}] {account.platform.value}:{account.fields['name']}"
            + (" (retired)" if outcome.prune else "")
            + "\n"
        )
    if plan.is_noop:
        out.write("nothing changed: the database already matches this roster\n")
    elif outcome.dry_run:
        out.write(f"dry run: nothing written ({len(plan.changes)} change(s) {verb} made)\n")


@app.command()
def accounts(
    ctx: typer.Context,
    as_of: AsOfOption = None,
    include_retired: Annotated[
        bool, typer.Option("--all", help="Include retired accounts.")
    ] = False,
    db: DbOption = None,
    config: ConfigOption = None,
    as_json: JsonOption = False,
) -> None:
    """List the roster's accounts (as in force at the end of --as-of).

    Example: monitor accounts --json
    """
    from monitor.dates import end_of_day
    from monitor.records import roster_account_record

    s = Session(ctx, db, config)
    views = s.store.accounts_at(end_of_day(s.as_of(as_of), s.tz), include_retired=include_retired)
    records = [roster_account_record(v) for v in views]
    if as_json:
        print_json(records)
    else:
        _print_accounts(records)
    s.close()


def _print_accounts(records: list[dict[str, Any]]) -> None:
    from rich.table import Table

    from monitor.models import PLATFORM_LABELS, ROSTER_STATUS_LABELS, Platform, RosterStatus

    table = Table()
    for column in ("编号", "类别", "主办单位", "平台", "账号名称", "账号ID", "名单状态"):
        table.add_column(column)
    for r in records:
        table.add_row(
            str(r["id"]),
            r["region"],
            r["unit"],
            PLATFORM_LABELS[Platform(r["platform"])],
            r["name"],
            r["account_id"],
            ROSTER_STATUS_LABELS[RosterStatus(r["status"])],
        )
    console = rich_console()
    console.print(table)
    console.print(f"共 {len(records)} 个账号")


@app.command()
def units(
    ctx: typer.Context,
    as_of: AsOfOption = None,
    db: DbOption = None,
    config: ConfigOption = None,
    as_json: JsonOption = False,
) -> None:
    """List the sponsoring units (主办单位) with their regions and account counts.

    Example: monitor units --json
    """
    from monitor.dates import end_of_day
    from monitor.records import unit_record

    s = Session(ctx, db, config)
    records = [unit_record(u) for u in s.store.units(end_of_day(s.as_of(as_of), s.tz))]
    if as_json:
        print_json(records)
    else:
        _print_units(records)
    s.close()


def _print_units(records: list[dict[str, Any]]) -> None:
    from rich.table import Table

    table = Table()
    for column in ("编号", "主办单位", "类别", "账号数"):
        table.add_column(column)
    for r in records:
        table.add_row(str(r["id"]), r["name"], "、".join(r["regions"]), str(r["accounts"]))
    console = rich_console()
    console.print(table)
    console.print(f"共 {len(records)} 个主办单位")
