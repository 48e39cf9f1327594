"""`monitor alerts`: list alerts per unit/region; `monitor alerts ack ID` acknowledges one."""

from typing import Annotated

import typer

from monitor.cli.app import app
from monitor.cli.options import ConfigOption, DbOption, JsonOption
from monitor.cli.session import Session, UsageProblem, WorkFailed
from monitor.records import alert_list_record

alerts_app = typer.Typer(
    invoke_without_command=True,
    no_args_is_help=False,
)


@alerts_app.callback()
def alerts(
    ctx: typer.Context,
    unit: Annotated[str | None, typer.Option("--unit", help="Only this unit's alerts.")] = None,
    region: Annotated[
        str | None, typer.Option("--region", help="Only this region's alerts.")
    ] = None,
    open_only: Annotated[
        bool, typer.Option("--open/--all", help="Open alerts only (default) or all.")
    ] = True,
    db: DbOption = None,
    config: ConfigOption = None,
    as_json: JsonOption = False,
) -> None:
    """List alerts: verdict changes per unit and source health for the operators.

    Example: monitor alerts --unit 市住房公积金中心 --all --json
    """
    if ctx.invoked_subcommand is not None:
        return
    import json
    import sys

    from monitor.dates import utcnow

    s = Session(ctx, db, config)
    items = s.store.alert_listing(utcnow(), open_only=open_only)
    if unit is not None:
        items = [i for i in items if i["unit"] == unit]
    if region is not None:
        items = [i for i in items if i["region"] == region]
    records = [alert_list_record(i, s.tz) for i in items]
    s.close()
    if as_json:
        sys.stdout.write(json.dumps(records, ensure_ascii=False, indent=2) + "\n")
        return
    from rich.console import Console
    from rich.table import Table

    table = Table()
    for column in ("id", "kind", "region", "unit", "account", "opened", "closed", "evidence"):
        table.add_column(column)
    for r in records:
        who = f"{r['platform']}:{r['name']}" if r["account"] else f"source {r['source']}"
        table.add_row(
            str(r["id"]),
            r["kind"] + (" (acked)" if r["acked_at"] else ""),
            r["region"] or "",
            r["unit"] or "",
            who,
            (r["opened_at"] or "")[:16].replace("T", " "),
            (r["closed_at"] or "")[:16].replace("T", " "),
            r["evidence_url"] or "",
        )
    console = Console(highlight=False, soft_wrap=False, width=None if sys.stdout.isatty() else 200)
    console.print(table)
    console.print(f"{len(records)} alert(s)")


@alerts_app.command("ack")
def ack(
    ctx: typer.Context,
    alert_id: Annotated[int, typer.Argument(metavar="ID", help="The alert's id.")],
    note: Annotated[str | None, typer.Option("--note", help="Why, or what was done.")] = None,
    db: DbOption = None,
    config: ConfigOption = None,
) -> None:
    """Acknowledge an alert (it stays open until the account's state changes).

    Example: monitor alerts ack 12 --note "单位已整改"
    """
    import sys

    from monitor.dates import utcnow
    from monitor.models import MAX_ID

    if not 1 <= alert_id <= MAX_ID:
        raise UsageProblem(f"ID: give an alert id from `monitor alerts` (1 to {MAX_ID})")
    s = Session(ctx, db, config)
    with s.store.transaction():
        found = s.store.ack_alert(alert_id, utcnow(), note)
    s.close()
    if not found:
        raise WorkFailed(f"no alert with id {alert_id}")
    sys.stdout.write(f"alert {alert_id} acknowledged\n")


app.add_typer(alerts_app, name="alerts")
