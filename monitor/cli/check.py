"""`monitor check`: check accounts now, recorded as the daemon's checks are."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Annotated, Any

import typer

from monitor.cli.app import app
from monitor.cli.options import (
    ConfigOption,
    DbOption,
    JsonOption,
    one_of,
)
from monitor.cli.session import (
    Session,
    UsageProblem,
    fail,
    print_json,
)
from monitor.dates import today
from monitor.records import check_record

if TYPE_CHECKING:
    from monitor.models import AccountView


@app.command()
def check(
    ctx: typer.Context,
    accounts: Annotated[
        list[str] | None,
        typer.Argument(help="Accounts to check (id, platform:account_id, platform:name, name)."),
    ] = None,
    platform: Annotated[
        str | None, typer.Option("--platform", help="Check every account of this platform.")
    ] = None,
    check_all: Annotated[bool, typer.Option("--all", help="Check every account.")] = False,
    db: DbOption = None,
    config: ConfigOption = None,
    as_json: JsonOption = False,
) -> None:
    """Check accounts now through their sources and store what was seen.

    Failed checks are recorded and do not fail the command; it exits 1 only
    when nothing could run.

    Example: monitor check --all
    """
    import asyncio

    from monitor.settings import SecretLookup, read_secrets_file

    _require_choice(accounts, platform, check_all)
    s = Session(ctx, db, config)
    views = _chosen(s, accounts, platform)
    secrets = SecretLookup(read_secrets_file(s.settings.secrets_file))
    reports = asyncio.run(_run_checks(s, views, secrets, show_progress=not as_json))
    if as_json:
        print_json([check_record(r, s.tz) for r in reports])
    else:
        _print_check_lines(reports, s.tz)
    s.close()
    if not any(r.observation is not None for r in reports):
        fail("nothing could be checked: no account has a source configured")


def _require_choice(accounts: list[str] | None, platform: str | None, check_all: bool) -> None:
    from monitor.models import Platform

    if not accounts and not platform and not check_all:
        raise UsageProblem("name accounts to check, or use --platform P or --all")
    one_of("--platform", platform, Platform, "platform")


def _chosen(s: Session, accounts: list[str] | None, platform: str | None) -> list[AccountView]:
    """The accounts in the roster today that the arguments name (at least one)."""
    from monitor.dates import end_of_day

    views = s.store.accounts_at(end_of_day(today(s.tz), s.tz))
    if accounts:
        wanted = {s.store.resolve_account(a) for a in accounts}
        views = [v for v in views if v.id in wanted]
    if platform:
        views = [v for v in views if v.platform.value == platform]
    if not views:
        fail("no accounts to check")
    return views


async def _run_checks(s: Session, views: list, secrets: Any, *, show_progress: bool) -> list:
    from monitor.checks.fetch import check_accounts

    progress = None
    task = None
    if show_progress and len(views) >= 20:
        from rich.console import Console
        from rich.progress import Progress

        progress = Progress(console=Console(stderr=True), transient=True)
        progress.start()
        task = progress.add_task("checking", total=len(views))
    try:

        def advance(_report: Any) -> None:
            if progress is not None and task is not None:
                progress.advance(task)

        return await check_accounts(s.store, s.settings, views, secrets=secrets, progress=advance)
    finally:
        if progress is not None:
            progress.stop()


def _print_check_lines(reports: list, tz: Any) -> None:
    out = sys.stdout
    counts: dict[str, int] = {}
    for r in reports:
        rec = check_record(r, tz)
        outcome = rec["outcome"] or "skipped"
        counts[outcome] = counts.get(outcome, 0) + 1
        latest = (rec["latest_post_at"] or "-")[:16].replace("T", " ")
        detail = (
            f"  ({rec['detail_label'] or rec['detail']})"
            if rec["outcome"] not in ("ok", None) or not rec["outcome"]
            else ""
        )
        out.write(
            f"[{rec['id']}] {rec['platform']}:{rec['name']}  {outcome}  latest {latest}  "
            f"-> {rec['state']} {rec['state_label']}{detail}\n"
        )
    out.write(
        f"{len(reports)} checked: "
        + ", ".join(f"{k} {v}" for k, v in sorted(counts.items()))
        + "\n"
    )
