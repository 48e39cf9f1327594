"""`monitor report`: the monthly check result (检查结果) as XLSX, CSV, Markdown, HTML or JSON."""

from __future__ import annotations

import sys
from datetime import date
from pathlib import Path
from typing import Annotated

import typer

from monitor.cli.app import app
from monitor.cli.options import (
    AsOfOption,
    ConfigOption,
    DbOption,
    PolicyFlags,
    policy_options,
)
from monitor.cli.session import Session, UsageProblem, WorkFailed


@app.command("report")
@policy_options
def report(
    ctx: typer.Context,
    month: Annotated[
        str | None,
        typer.Option("--month", help="Report on this month (YYYY-MM); default the current month."),
    ] = None,
    as_of: AsOfOption = None,
    fmt: Annotated[
        str | None,
        typer.Option(
            "--format",
            help="xlsx, csv, md, html or json (default: from -o's extension, else md).",
        ),
    ] = None,
    output: Annotated[
        str | None,
        typer.Option("-o", "--output", help="Write here ('-' for stdout)."),
    ] = None,
    lang: Annotated[
        str | None, typer.Option("--lang", help="zh or en (default from the config: zh).")
    ] = None,
    mkdir: Annotated[
        bool, typer.Option("--mkdir", help="Create -o's folder when it does not exist.")
    ] = False,
    db: DbOption = None,
    config: ConfigOption = None,
    policy_flags: PolicyFlags = PolicyFlags(),
) -> None:
    """Write the check result of a month (as of its last day) or of one date.

    Text formats go to stdout without -o; xlsx goes to 政务新媒体检查结果-YYYY-MM.xlsx.
    -o never writes over the database (or any SQLite file), a folder or a device,
    nor into a missing folder without --mkdir; replacing a file is said on stderr.

    Example: monitor report --month 2020-02 --format xlsx -o 2020-02.xlsx
    """
    from monitor.reports import build_report, render

    s = Session(ctx, db, config)
    day, period = _report_day(s, month, as_of)
    lang = _report_lang(s, lang)
    fmt = _report_format(fmt, output)
    policy = s.policy(policy_flags)
    path, replaces = _report_path(s, output, fmt, period or day.isoformat(), mkdir)
    top = s.settings.reports.top_units
    built = build_report(
        s.store, day, policy, s.tz, month=period, top_units=top, fmt=fmt, sites=s.settings.sites
    )
    data = render(built, fmt, lang)
    s.close()
    _emit(data, fmt, path, replaces)


def _report_day(s: Session, month: str | None, as_of: str | None) -> tuple[date, str | None]:
    """The as-of date and the month (None for a report of one date)."""
    from monitor.dates import today
    from monitor.reports import PeriodError, month_as_of
    from monitor.reports.periods import month_of

    now = today(s.tz)
    if month is not None and as_of is not None:
        raise UsageProblem("give --month or --as-of, not both")
    if as_of is not None:
        day = s.as_of(as_of)
        if day > now:
            raise UsageProblem(f"--as-of: {day.isoformat()} is in the future")
        return day, None
    period = month if month is not None else month_of(now)
    try:
        return month_as_of(period, now), period
    except PeriodError as exc:
        raise UsageProblem(f"--month: {exc}") from exc


def _report_lang(s: Session, lang: str | None) -> str:
    lang = lang or s.settings.reports.lang
    if lang not in ("zh", "en"):
        raise UsageProblem(f"--lang: unknown language {lang!r} (use zh or en)")
    return lang


def _report_format(fmt: str | None, output: str | None) -> str:
    from monitor.reports import FORMATS, format_of_path

    if fmt is None:
        fmt = format_of_path(output) if output and output != "-" else "md"
        if fmt is None:
            raise UsageProblem(f"-o: cannot tell the format of {output!r}; give --format")
    elif fmt not in FORMATS:
        raise UsageProblem(f"--format: unknown format {fmt!r} (use {', '.join(FORMATS)})")
    return fmt


def _report_path(
    s: Session, output: str | None, fmt: str, name: str, mkdir: bool
) -> tuple[Path | None, bool]:
    """Where the report goes (None: stdout), and whether it replaces a file."""
    from monitor.output_paths import OutputRefused, check_output
    from monitor.reports.deliver import BINARY_FORMATS, report_filename

    if output == "-" or (output is None and fmt not in BINARY_FORMATS):
        return None, False
    path = Path(output) if output else Path(report_filename(name, fmt))
    try:
        return path, check_output(path, database=s.db_path, mkdir=mkdir)
    except OutputRefused as exc:
        raise WorkFailed(str(exc)) from exc


def _emit(data: bytes, fmt: str, path: Path | None, replaces: bool) -> None:
    from monitor.reports import write_atomic
    from monitor.reports.deliver import BINARY_FORMATS

    if path is None:
        if fmt in BINARY_FORMATS:
            sys.stdout.flush()
            sys.stdout.buffer.write(data)
        else:
            sys.stdout.write(data.decode("utf-8"))
        return
    try:
        write_atomic(path, data)
    except OSError as exc:
        raise WorkFailed(f"cannot write {path}: {exc.strerror or exc}") from exc
    if replaces:
        sys.stderr.write(f"monitor: replaced the existing file {path}\n")
    sys.stdout.write(f"{path}\n")
