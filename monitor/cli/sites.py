"""`monitor sites ...`: government websites: rosters in, sweeps, verdicts out."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path
from typing import Annotated

import typer

from monitor.cli.app import app
from monitor.cli.options import AsOfOption, ConfigOption, DbOption, JsonOption
from monitor.cli.session import Session, print_json, rich_console
from monitor.dates import utcnow

sites_app = typer.Typer(
    help="Government websites: homepage and column updates, empty columns, links.",
    no_args_is_help=True,
)
columns_app = typer.Typer(help="The columns (栏目) of the websites.", no_args_is_help=True)
sites_app.add_typer(columns_app, name="columns")
app.add_typer(sites_app, name="sites")

SheetOption = Annotated[str | None, typer.Option("--sheet", help="XLSX sheet name.")]


def _refuse(file: Path, problems: list) -> None:
    for problem in problems:
        sys.stderr.write(f"{problem}\n")
    sys.stderr.write(f"{file}: {len(problems)} problem(s); nothing imported\n")
    raise typer.Exit(1)


@sites_app.command("import")
def import_sites(
    ctx: typer.Context,
    file: Annotated[
        Path, typer.Argument(help="CSV or XLSX: 网站名称, 网址, 网站标识码, 主办单位, 类别.")
    ],
    sheet: SheetOption = None,
    db: DbOption = None,
    config: ConfigOption = None,
    as_json: JsonOption = False,
) -> None:
    """Import the websites roster (all-or-nothing; new sites added, listed ones updated).

    Example: monitor sites import 网站名单.xlsx
    """
    from monitor.roster.sites import read_sites

    s = Session(ctx, db, config)
    read = read_sites(file, sheet=sheet)
    if read.problems:
        _refuse(file, read.problems)
    counts = s.store.import_sites(
        file=str(file), now=utcnow(), entries=[entry for _, entry in read.entries]
    )
    s.close()
    _imported(file, "sites", "website", len(read.entries), counts, as_json)


@columns_app.command("import")
def import_columns(
    ctx: typer.Context,
    file: Annotated[
        Path,
        typer.Argument(help="CSV or XLSX: 网站标识码, 栏目名称, 栏目地址, 栏目类型[, 日期选择器]."),
    ],
    sheet: SheetOption = None,
    db: DbOption = None,
    config: ConfigOption = None,
    as_json: JsonOption = False,
) -> None:
    """Import the websites' columns (all-or-nothing; every 网站标识码 must be imported).

    Example: monitor sites columns import 栏目.csv
    """
    from monitor.roster.entry import Problem
    from monitor.roster.sites import read_columns

    s = Session(ctx, db, config)
    read = read_columns(file, sheet=sheet)
    known = s.store.site_ids_by_code()
    problems = list(read.problems)
    name = file.name or str(file)
    for row, entry in read.entries:
        if entry.site_code not in known:
            problems.append(
                Problem(name, row, "网站标识码", f"no website {entry.site_code} (import it first)")
            )
    if problems:
        _refuse(file, problems)
    counts = s.store.import_columns(
        file=str(file), now=utcnow(), entries=[entry for _, entry in read.entries]
    )
    s.close()
    _imported(file, "columns", "column", len(read.entries), counts, as_json)


def _imported(
    file: Path, key: str, noun: str, read: int, counts: dict[str, int], as_json: bool
) -> None:
    """What an import of websites or columns did, as JSON or one line."""
    if as_json:
        print_json({"file": str(file), key: counts})
        return
    sys.stdout.write(
        f"{file}: {read} {noun}(s) read; {counts['added']} added, "
        f"{counts['changed']} changed, {counts['unchanged']} unchanged\n"
    )


@sites_app.command("check")
def check(
    ctx: typer.Context,
    site: Annotated[
        str | None, typer.Argument(help="One website (id, 网站标识码 or name); default all.")
    ] = None,
    db: DbOption = None,
    config: ConfigOption = None,
    as_json: JsonOption = False,
) -> None:
    """Sweep websites now: homepages, column listings and links; 不合格 sites alert their unit.

    Example: monitor sites check 6101000001
    """
    from monitor.checks.site_alerts import follow_site_verdicts
    from monitor.checks.sites import check_sites, site_verdicts

    s = Session(ctx, db, config)
    chosen = [s.store.find_site(site)] if site else None
    sweep = asyncio.run(check_sites(s.store, s.settings, chosen))
    now = utcnow()
    statuses = site_verdicts(s.store, s.settings, now.astimezone(s.tz).date(), chosen)
    alerts = follow_site_verdicts(s.store, s.settings, statuses, now)
    s.close()
    summary = {
        "sites": sweep.sites,
        "pages": sum(sweep.pages.values()),
        "failed": sweep.failed,
        "broken_links": sweep.broken,
        "alerts_opened": alerts["opened"],
        "alerts_closed": alerts["closed"],
    }
    if as_json:
        print_json(summary)
        return
    sys.stdout.write(
        f"{summary['sites']} website(s) checked: {summary['pages']} page(s) fetched, "
        f"{summary['failed']} failed, {summary['broken_links']} broken link(s); "
        f"alerts: {summary['alerts_opened']} opened, {summary['alerts_closed']} closed\n"
    )


@sites_app.command("discover")
def discover(
    ctx: typer.Context,
    site: Annotated[
        str | None, typer.Argument(help="One website (id, 网站标识码 or name); default all.")
    ] = None,
    accept: Annotated[
        bool,
        typer.Option(
            "--accept", help="Confirm the proposed columns: they are checked from now on."
        ),
    ] = False,
    out: Annotated[
        Path | None,
        typer.Option(
            "--out", help="Also write the proposals as a columns roster (CSV) to edit and import."
        ),
    ] = None,
    db: DbOption = None,
    config: ConfigOption = None,
    as_json: JsonOption = False,
) -> None:
    """Propose columns from each homepage's navigation, typed by their names, for the office to confirm.

    Example: monitor sites discover 6109000001 --accept
    """
    import csv

    from monitor.checks.sites import discover_columns

    s = Session(ctx, db, config)
    chosen = [s.store.find_site(site)] if site else s.store.sites()
    found = asyncio.run(discover_columns(s.store, s.settings, chosen))
    accepted = s.store.accept_proposed_columns(found, utcnow()) if accept else 0
    proposals = s.store.site_columns(list(found), proposed=True)
    by_id = {c.url: c for cs in proposals.values() for c in cs}
    s.close()
    records = [
        {
            "site_code": entry.site_code,
            "name": entry.name,
            "url": entry.url,
            "type": entry.kind.label,
            "type_code": entry.kind.value,
            "proposed": entry.url in by_id,
        }
        for entries in found.values()
        for entry in entries
    ]
    if out is not None:
        with out.open("w", encoding="utf-8-sig", newline="") as fh:
            writer = csv.writer(fh)
            writer.writerow(["网站标识码", "栏目名称", "栏目地址", "栏目类型", "日期选择器"])
            for r in records:
                writer.writerow([r["site_code"], r["name"], r["url"], r["type"], ""])
    if as_json:
        print_json({"columns": records, "accepted": accepted})
        return
    for r in records:
        mark = "proposed" if r["proposed"] else "listed"
        sys.stdout.write(f"{r['site_code']}  {r['type']}  {r['name']}  {r['url']}  ({mark})\n")
    sys.stdout.write(
        f"{len(records)} column(s) found on {len(found)} homepage(s); {accepted} accepted"
        + ("" if accept else " (confirm with --accept, or edit --out FILE and import it)")
        + "\n"
    )


@sites_app.command("probe")
def probe(
    ctx: typer.Context,
    db: DbOption = None,
    config: ConfigOption = None,
    as_json: JsonOption = False,
) -> None:
    """Probe every homepage once for availability (`monitor run` does it sites.probes_per_day times a day).

    Example: monitor sites probe --json
    """
    from monitor.checks.sites import probe_sites

    s = Session(ctx, db, config)
    found = asyncio.run(probe_sites(s.store, s.settings))
    s.close()
    summary = {
        "sites": len(found),
        "reachable": sum(1 for v in found.values() if v),
        "unreachable": sum(1 for v in found.values() if v is False),
        "not_attempted": sum(1 for v in found.values() if v is None),
    }
    if as_json:
        print_json(summary)
        return
    sys.stdout.write(
        f"{summary['sites']} homepage(s) probed: {summary['reachable']} reachable, "
        f"{summary['unreachable']} unreachable, {summary['not_attempted']} not attempted\n"
    )


@sites_app.command("status")
def status(
    ctx: typer.Context,
    site: Annotated[
        str | None, typer.Argument(help="One website (id, 网站标识码 or name); default all.")
    ] = None,
    as_of: AsOfOption = None,
    columns: Annotated[
        bool, typer.Option("--columns", help="Include every column as judged.")
    ] = False,
    db: DbOption = None,
    config: ConfigOption = None,
    as_json: JsonOption = False,
) -> None:
    """Each website's verdict (合格 / 存在问题 / 不合格) with its problems and evidence.

    Example: monitor sites status --json --as-of 2020-03-04
    """
    from monitor.checks.sites import site_verdicts
    from monitor.records import site_record

    s = Session(ctx, db, config)
    day = s.as_of(as_of)
    chosen = [s.store.find_site(site)] if site else None
    statuses = site_verdicts(s.store, s.settings, day, chosen)
    s.close()
    records = [site_record(st, s.tz, with_columns=columns) for st in statuses]
    if as_json:
        print_json(records)
        return
    from rich.table import Table

    table = Table(title=f"websites as of {day.isoformat()}")
    for header in ("网站标识码", "网站名称", "主办单位", "结果", "主要问题"):
        table.add_column(header)
    for r in records:
        table.add_row(r["site_code"], r["name"], r["unit"], r["verdict_label"], r["summary"])
    rich_console().print(table)
