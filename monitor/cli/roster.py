"""`monitor import`, `monitor accounts`, `monitor units`: the roster in and out."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

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
from monitor.dates import DateInputError, parse_moment, utcnow


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
    from monitor.roster import read_roster
    from monitor.roster.apply import apply_plan, plan_import

    s = Session(ctx, db, config)
    effective_at = None
    if effective is not None:
        try:
            effective_at = parse_moment(effective, s.tz)
        except DateInputError as exc:
            raise UsageProblem(f"--effective: {exc}") from exc
    roster = read_roster(file, sheet=sheet)
    err = sys.stderr
    for problem in roster.problems:
        err.write(f"{problem}\n")
    entries = roster.entries
    rejected = 0
    if roster.problems:
        if not skip_invalid:
            err.write(
                f"{file}: {len(roster.problems)} problem(s); nothing imported "
                "(fix them, or use --skip-invalid to import the valid rows)\n"
            )
            raise typer.Exit(1)
        entries = roster.valid_entries()
        rejected = len({p.row for p in roster.problems if p.row is not None})
        if not entries:
            fail(f"{file}: no valid rows to import")
    plan = plan_import(
        s.store, entries, prune=prune, rejected_rows=rejected, columns=roster.columns
    )
    summary = plan.summary()
    import_id = None
    if not dry_run:
        import_id = apply_plan(
            s.store,
            plan,
            file=str(file),
            form=roster.form,
            now=utcnow(),
            effective_at=effective_at,
            settings=s.settings,
        )
    if as_json:
        print_json(
            {
                "file": str(file),
                "form": roster.form,
                "dry_run": dry_run,
                "import_id": import_id,
                "changed": not plan.is_noop,
                **summary,
                "not_in_roster": [
                    {"id": a.id, "platform": a.platform.value, "name": a.fields["name"]}
                    for a in plan.not_in_roster
                ],
                "problems": [str(p) for p in roster.problems],
            }
        )
        return
    out = sys.stdout
    u, a = summary["units"], summary["accounts"]
    verb = "would be" if dry_run else "were"
    out.write(f"{file}: {roster.form} form, {len(entries)} account(s) read\n")
    out.write(
        f"units:    {u['added']} added, {u['unchanged']} unchanged, "
        f"{u['not_in_roster']} not in this roster\n"
    )
    out.write(
        f"accounts: {a['added']} added, {a['updated']} updated, {a['unchanged']} unchanged, "
        f"{a['not_in_roster']} not in this roster, {a['rejected']} rejected"
        + (f", {a['retired']} retired" if prune else "")
        + "\n"
    )
    for change, fields in plan.updated[:20]:
        out.write(f"  updated: {change.fields['name']} ({', '.join(fields)})\n")
    for account in plan.not_in_roster[:20]:
        out.write(
            f"  not in this roster: [{account.id}] {account.platform.value}:{account.fields['name']}"
            + (" (retired)" if prune else "")
            + "\n"
        )
    if plan.is_noop:
        out.write("nothing changed: the database already matches this roster\n")
    elif dry_run:
        out.write(f"dry run: nothing written ({len(plan.changes)} change(s) {verb} made)\n")
    s.close()


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

    s = Session(ctx, db, config)
    views = s.store.accounts_at(end_of_day(s.as_of(as_of), s.tz), include_retired=include_retired)
    records = [
        {
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
        for v in views
    ]
    if as_json:
        print_json(records)
        return
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
    s.close()


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

    s = Session(ctx, db, config)
    rows = s.store.units(end_of_day(s.as_of(as_of), s.tz))
    records = [
        {"id": u["id"], "name": u["name"], "regions": u["regions"], "accounts": u["accounts"]}
        for u in rows
    ]
    if as_json:
        print_json(records)
        return
    from rich.table import Table

    table = Table()
    for column in ("编号", "主办单位", "类别", "账号数"):
        table.add_column(column)
    for r in records:
        table.add_row(str(r["id"]), r["name"], "、".join(r["regions"]), str(r["accounts"]))
    console = rich_console()
    console.print(table)
    console.print(f"共 {len(records)} 个主办单位")
    s.close()
