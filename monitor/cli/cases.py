"""`monitor notice issue|files` and `monitor cases [review]`: the rectification loop (整改, 复查)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from monitor.cli.app import app
from monitor.cli.options import AsOfOption, ConfigOption, DbOption, JsonOption
from monitor.cli.session import Session, UsageProblem, WorkFailed, print_json

notice_app = typer.Typer(no_args_is_help=True)
cases_app = typer.Typer(invoke_without_command=True, no_args_is_help=False)

MonthOption = Annotated[str, typer.Option("--month", help="The notice's month (YYYY-MM).")]


def _month(month: str) -> str:
    from monitor.reports import PeriodError, parse_month

    try:
        year, mon = parse_month(month)
    except PeriodError as exc:
        raise UsageProblem(f"--month: {exc}") from exc
    return f"{year:04d}-{mon:02d}"


@notice_app.command("issue")
def issue(
    ctx: typer.Context,
    month: MonthOption,
    as_of: AsOfOption = None,
    deadline: Annotated[
        str | None,
        typer.Option("--deadline", help="Rectify by this date (default: as-of + rectify.within)."),
    ] = None,
    db: DbOption = None,
    config: ConfigOption = None,
    as_json: JsonOption = False,
) -> None:
    """Issue a notice (通报): freeze the month's report files and open a case per named account.

    The as-of date defaults to the month's last day (today while it runs); the
    deadline to as-of plus `rectify.within` (default 5d). A month has one notice.

    Example: monitor notice issue --month 2020-02 --as-of 2020-03-04 --json
    """
    from monitor.dates import parse_date, today, utcnow
    from monitor.notices import NoticeError, issue_notice
    from monitor.records import notice_record
    from monitor.reports import PeriodError, month_as_of

    s = Session(ctx, db, config)
    month = _month(month)
    now_day = today(s.tz)
    if as_of is not None:
        day = s.as_of(as_of)
    else:
        try:
            day = month_as_of(month, now_day)
        except PeriodError as exc:
            raise UsageProblem(f"--month: {exc}") from exc
    if day > now_day:
        raise UsageProblem(f"--as-of: {day.isoformat()} is in the future")
    until = None
    if deadline is not None:
        try:
            until = parse_date(deadline)
        except ValueError as exc:
            raise UsageProblem(f"--deadline: {exc}") from exc
    try:
        issued = issue_notice(s.store, s.settings, month, day, now=utcnow(), deadline=until)
    except NoticeError as exc:
        raise WorkFailed(str(exc)) from exc
    record = notice_record(issued.notice, issued.files, len(issued.cases), s.tz)
    s.close()
    if as_json:
        print_json(record)
        return
    typer.echo(
        f"notice {record['month']} issued (as of {record['as_of']}): "
        f"{record['cases']} case(s), deadline {record['deadline']}, "
        f"{len(record['files'])} file(s) frozen"
    )


@notice_app.command("files")
def files(
    ctx: typer.Context,
    month: MonthOption,
    output: Annotated[
        Path, typer.Option("-o", "--output", help="Write the frozen files into this folder.")
    ],
    db: DbOption = None,
    config: ConfigOption = None,
) -> None:
    """Write an issued notice's files, byte-for-byte as issued, into a folder.

    Example: monitor notice files --month 2020-02 -o notices/2020-02
    """
    from monitor.output_paths import OutputRefused, check_output
    from monitor.reports import write_atomic

    s = Session(ctx, db, config)
    month = _month(month)
    notice = s.store.notice_by_month(month)
    if notice is None:
        raise WorkFailed(f"no notice was issued for {month}")
    frozen = s.store.notice_files(notice.id)
    s.close()
    if not output.is_dir():
        raise WorkFailed(f"-o: {output} is not an existing folder")
    for f in frozen:
        path = output / f.filename
        try:
            check_output(path, database=s.db_path)
        except OutputRefused as exc:
            raise WorkFailed(str(exc)) from exc
        write_atomic(path, f.data)
        typer.echo(str(path))


@cases_app.callback()
def cases(
    ctx: typer.Context,
    all_cases: Annotated[
        bool, typer.Option("--all", help="Every case, closed ones too (default: open ones).")
    ] = False,
    unit: Annotated[str | None, typer.Option("--unit", help="Only this unit's cases.")] = None,
    db: DbOption = None,
    config: ConfigOption = None,
    as_json: JsonOption = False,
) -> None:
    """List rectification cases: open and answered ones by default, --all for every case.

    Example: monitor cases --all --json
    """
    if ctx.invoked_subcommand is not None:
        return
    from monitor.records import case_record
    from monitor.store.cases import LIVE_STATUSES

    s = Session(ctx, db, config)
    rows = s.store.cases(
        statuses=None if all_cases else LIVE_STATUSES,
        units=None if unit is None else [unit],
    )
    records = [case_record(r, s.tz) for r in rows]
    s.close()
    if as_json:
        print_json(records)
        return
    from rich.table import Table

    from monitor.cli.session import rich_console

    table = Table()
    for column in ("id", "notice", "region", "unit", "account", "deadline", "status", "response"):
        table.add_column(column)
    for r in records:
        table.add_row(
            str(r["id"]),
            r["notice"],
            r["region"],
            r["unit"],
            f"{r['platform']}:{r['name']}",
            r["deadline"],
            r["status_label"],
            r["response"] or "",
        )
    console = rich_console()
    console.print(table)
    console.print(f"{len(records)} case(s)")


@cases_app.command("review")
def review(
    ctx: typer.Context,
    as_of: AsOfOption = None,
    db: DbOption = None,
    config: ConfigOption = None,
) -> None:
    """Re-check (复查) cases whose deadline is on or before the date, and remind units of
    cases due the day after. Prints what was concluded as JSON.

    Example: monitor cases review --as-of 2020-03-09
    """
    import asyncio

    from monitor.checks.cases import remind_due, review_due
    from monitor.dates import today, utcnow
    from monitor.settings import SecretLookup, read_secrets_file

    s = Session(ctx, db, config)
    day = s.as_of(as_of)
    if day > today(s.tz):
        raise UsageProblem(f"--as-of: {day.isoformat()} is in the future")
    secrets = SecretLookup(read_secrets_file(s.settings.secrets_file))
    reviewed = asyncio.run(review_due(s.store, s.settings, day, secrets=secrets))
    reminded = remind_due(s.store, s.settings, day, utcnow())
    s.close()
    print_json(
        {
            "as_of": day.isoformat(),
            "reviewed": [
                {"case": r.case, "status": r.status, "evidence": r.evidence}
                for r in reviewed
                if r.status is not None
            ],
            "waiting_for_decision": [r.case for r in reviewed if r.status is None],
            "reminded": reminded,
        }
    )


app.add_typer(notice_app, name="notice", help="Issue notices (通报) and read their frozen files.")
app.add_typer(cases_app, name="cases")
