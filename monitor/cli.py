"""The `monitor` command line: a thin layer that parses, calls the library and prints.

Exit codes: 0 success; 1 the work could not be done (bad roster, unknown
account, nothing could run); 2 usage or configuration errors.
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Annotated, Any, NoReturn

import typer
from typer.exceptions import TyperException

from monitor.dates import DateInputError, parse_date, parse_moment, parse_recent, today, utcnow
from monitor.durations import Duration, DurationError
from monitor.settings import (
    ConfigError,
    Policy,
    Settings,
    database_path,
    load_settings,
    policy_problem,
)

app = typer.Typer(
    name="monitor",
    help="newmedia-monitor: find government new-media accounts that have gone silent.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)
config_app = typer.Typer(help="Inspect the configuration.", no_args_is_help=True)
app.add_typer(config_app, name="config")


class UsageProblem(Exception):
    """A mistake in how the command was called (exit 2)."""


class WorkFailed(Exception):
    """The command could not do its work (exit 1)."""


# -- shared options --------------------------------------------------------------

DbOption = Annotated[
    str | None,
    typer.Option(
        "--db", help="Database file (else MONITOR_DB, else the config, else ./monitor.db)."
    ),
]
ConfigOption = Annotated[
    str | None, typer.Option("--config", help="Config file (TOML; else MONITOR_CONFIG).")
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")]
AsOfOption = Annotated[
    str | None,
    typer.Option(
        "--as-of", help="Judge as of this date (YYYY-MM-DD, configured zone); default today."
    ),
]
ZombieOption = Annotated[
    str | None,
    typer.Option("--zombie-after", help="Zombie window, e.g. 14d, 1mo (default from config)."),
]
SuspendedOption = Annotated[
    str | None, typer.Option("--suspended-after", help="Suspension window, e.g. 6mo.")
]
WarnOption = Annotated[
    str | None,
    typer.Option("--warn-before", help="Warn this long before the zombie window, e.g. 3d."),
]
EvidenceOption = Annotated[
    str | None,
    typer.Option("--evidence-max-age", help="Older evidence makes a verdict unknown, e.g. 3d."),
]


@dataclass
class Globals:
    db: str | None = None
    config: str | None = None


@app.callback()
def _root(ctx: typer.Context, db: DbOption = None, config: ConfigOption = None) -> None:
    ctx.obj = Globals(db=db, config=config)


class Session:
    """What one command needs: settings, the database path, the store (opened lazily)."""

    def __init__(self, ctx: typer.Context, db: str | None, config: str | None):
        g: Globals = ctx.find_root().obj or Globals()
        self.config = config or g.config
        self.settings: Settings = load_settings(self.config)
        self.db_path = database_path(db or g.db, self.settings)
        self._store: Any = None

    @property
    def tz(self):
        return self.settings.tz

    @property
    def store(self):
        if self._store is None:
            from monitor.store import Store

            self._store = Store.open(self.db_path)
        return self._store

    def as_of(self, text: str | None) -> date:
        if text is None:
            return today(self.tz)
        try:
            return parse_date(text)
        except DateInputError as exc:
            raise UsageProblem(f"--as-of: {exc}") from exc

    def policy(
        self,
        zombie_after: str | None = None,
        suspended_after: str | None = None,
        warn_before: str | None = None,
        evidence_max_age: str | None = None,
    ) -> Policy:
        overrides = {}
        for flag, key, value in (
            ("--zombie-after", "zombie_after", zombie_after),
            ("--suspended-after", "suspended_after", suspended_after),
            ("--warn-before", "warn_before", warn_before),
            ("--evidence-max-age", "evidence_max_age", evidence_max_age),
        ):
            if value is not None:
                try:
                    overrides[key] = Duration.parse(value)
                except DurationError as exc:
                    raise UsageProblem(f"{flag}: {exc}") from exc
        policy = self.settings.policy.model_copy(update=overrides)
        problem = policy_problem(policy)
        if problem:
            raise UsageProblem(problem)
        return policy

    def close(self) -> None:
        if self._store is not None:
            self._store.close()


def _print_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, ensure_ascii=False, indent=2) + "\n")


def _console():
    from rich.console import Console

    # Piped output keeps whole cells: the table is for reading, --json for machines.
    return Console(highlight=False, soft_wrap=False, width=None if sys.stdout.isatty() else 200)


def _fail(message: str) -> NoReturn:
    raise WorkFailed(message)


# -- import ----------------------------------------------------------------------


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
            _fail(f"{file}: no valid rows to import")
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
        _print_json(
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


# -- observe ---------------------------------------------------------------------


@app.command()
def observe(
    ctx: typer.Context,
    account: Annotated[
        str, typer.Argument(help="id, platform:account_id, platform:name or a name.")
    ],
    latest_post: Annotated[
        str | None, typer.Option("--latest-post", help="When the latest post was published.")
    ] = None,
    no_content: Annotated[
        bool, typer.Option("--no-content", help="The account exists and has never posted.")
    ] = False,
    not_found: Annotated[
        bool, typer.Option("--not-found", help="The account no longer exists on the platform.")
    ] = False,
    at: Annotated[
        str | None, typer.Option("--at", help="When the inspector looked (default now).")
    ] = None,
    url: Annotated[str | None, typer.Option("--url", help="Link to the latest post.")] = None,
    title: Annotated[str | None, typer.Option("--title", help="Title of the latest post.")] = None,
    note: Annotated[str | None, typer.Option("--note", help="Free text kept with it.")] = None,
    db: DbOption = None,
    config: ConfigOption = None,
    as_json: JsonOption = False,
) -> None:
    """Record a manual observation (an inspector checked the account by hand).

    Example: monitor observe weibo:安康公积金 --latest-post 2020-02-18 --url https://m.weibo.cn/...
    """
    from monitor.checks.record import record_manual
    from monitor.links import http_link
    from monitor.models import Observation, Outcome

    chosen = [latest_post is not None, no_content, not_found]
    if sum(chosen) != 1:
        raise UsageProblem("give exactly one of --latest-post, --no-content, --not-found")
    if url is not None and http_link(url) is None:
        raise UsageProblem(f"--url: {url[:80]!r} is not an http(s) URL")
    s = Session(ctx, db, config)
    moments = {}
    for flag, text in (("--at", at), ("--latest-post", latest_post)):
        try:
            moments[flag] = parse_recent(text, s.tz) if text else None
        except DateInputError as exc:
            raise UsageProblem(f"{flag}: {exc}") from exc
    observed_at, post_at = moments["--at"] or utcnow(), moments["--latest-post"]
    if observed_at > utcnow():
        raise UsageProblem("--at is in the future")
    account_pk = s.store.resolve_account(account)
    outcome = Outcome.OK if post_at else Outcome.NO_CONTENT if no_content else Outcome.NOT_FOUND
    if post_at is not None and post_at > observed_at:
        # Clock skew or a typo: a post cannot be newer than the look at it.
        post_at = observed_at
    obs = Observation(
        account=account_pk,
        observed_at=observed_at,
        source="manual",
        outcome=outcome,
        latest_post_at=post_at,
        post_url=http_link(url),
        post_title=title,
        detail=note,
    )
    (report,) = record_manual(s.store, s.settings, obs)
    obs_id = report.observation.id if report.observation else None
    _show_status(
        s,
        None,
        [account_pk],
        s.as_of(None),
        s.policy(),
        as_json,
        header=f"observation {obs_id} recorded",
    )
    s.close()


# -- status ------------------------------------------------------------------------


@app.command()
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
    zombie_after: ZombieOption = None,
    suspended_after: SuspendedOption = None,
    warn_before: WarnOption = None,
    evidence_max_age: EvidenceOption = None,
    db: DbOption = None,
    config: ConfigOption = None,
    as_json: JsonOption = False,
) -> None:
    """Show each account's verdict (state, latest post, days silent) as of a date.

    Example: monitor status --as-of 2020-03-04 --zombie-after 14d --state zombie
    """
    from monitor.models import Platform, State

    s = Session(ctx, db, config)
    day = s.as_of(as_of)
    policy = s.policy(zombie_after, suspended_after, warn_before, evidence_max_age)
    if state is not None and state not in {x.value for x in State}:
        raise UsageProblem(
            f"--state: unknown state {state!r} (use {', '.join(x.value for x in State)})"
        )
    if platform is not None and platform not in {p.value for p in Platform}:
        raise UsageProblem(
            f"--platform: unknown platform {platform!r} (use {', '.join(p.value for p in Platform)})"
        )
    filters = {"unit": unit, "region": region, "state": state, "platform": platform}
    ids = None
    if query is not None:
        rows = s.store.find_accounts(query)
        ids = [r[0] for r in rows] or None
        if ids is None:
            filters["q"] = query
    _show_status(s, filters, ids, day, policy, as_json)
    s.close()


def _show_status(
    s: Session,
    filters: dict[str, str | None] | None,
    ids: list[int] | None,
    day: date,
    policy: Policy,
    as_json: bool,
    header: str | None = None,
) -> None:
    from monitor.checks.verdicts import status_record, verdicts_at

    items = verdicts_at(s.store, day, policy, s.tz, ids=ids)
    records = [status_record(i, s.tz) for i in items]
    if filters:
        records = [r for r in records if _matches(r, filters)]
    if filters and filters.get("q") and not records:
        _fail(f"no account matches {filters['q']!r}")
    if as_json:
        _print_json(records)
        return
    console = _console()
    if header:
        console.print(header)
    _status_table(console, records, day, policy, s.settings.timezone)


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


# -- check -------------------------------------------------------------------------


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

    from monitor.models import Platform
    from monitor.settings import SecretLookup, read_secrets_file

    if not accounts and not platform and not check_all:
        raise UsageProblem("name accounts to check, or use --platform P or --all")
    if platform is not None and platform not in {p.value for p in Platform}:
        raise UsageProblem(
            f"--platform: unknown platform {platform!r} (use {', '.join(p.value for p in Platform)})"
        )
    s = Session(ctx, db, config)
    from monitor.dates import end_of_day

    views = s.store.accounts_at(end_of_day(today(s.tz), s.tz))
    if accounts:
        wanted = {s.store.resolve_account(a) for a in accounts}
        views = [v for v in views if v.id in wanted]
    if platform:
        views = [v for v in views if v.platform.value == platform]
    if not views:
        _fail("no accounts to check")
    secrets = SecretLookup(read_secrets_file(s.settings.secrets_file))
    reports = asyncio.run(_run_checks(s, views, secrets, show_progress=not as_json))
    ran = [r for r in reports if r.observation is not None]
    if as_json:
        _print_json([_check_record(r, s.tz) for r in reports])
    else:
        _print_check_lines(reports, s.tz)
    s.close()
    if not ran:
        _fail("nothing could be checked: no account has a source configured")


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
        return await check_accounts(
            s.store,
            s.settings,
            views,
            secrets=secrets,
            progress=(lambda _r: progress.advance(task)) if progress is not None else None,
        )
    finally:
        if progress is not None:
            progress.stop()


def _check_record(report: Any, tz: Any) -> dict[str, Any]:
    from monitor.dates import iso

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
        "state": verdict.state.value if verdict else None,
        "state_label": verdict.label if verdict else None,
    }


def _print_check_lines(reports: list, tz: Any) -> None:
    out = sys.stdout
    counts: dict[str, int] = {}
    for r in reports:
        rec = _check_record(r, tz)
        outcome = rec["outcome"] or "skipped"
        counts[outcome] = counts.get(outcome, 0) + 1
        latest = (rec["latest_post_at"] or "-")[:16].replace("T", " ")
        detail = (
            f"  ({rec['detail']})"
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


# -- simulate ------------------------------------------------------------------------

# A generated city lives in memory: far more accounts than any province has.
MAX_SIMULATED_ACCOUNTS = 1_000_000


@app.command()
def simulate(
    generate: Annotated[
        int | None, typer.Option("--generate", help="Generate a city of N accounts.")
    ] = None,
    scenario: Annotated[
        Path | None, typer.Option("--scenario", help="Load a scenario file (JSON) instead.")
    ] = None,
    seed: Annotated[int, typer.Option("--seed", help="Seed of the generated city.")] = 0,
    scenario_out: Annotated[
        Path | None, typer.Option("--scenario-out", help="Write the scenario here (JSON).")
    ] = None,
    roster_out: Annotated[
        Path | None, typer.Option("--roster-out", help="Write its roster here (CSV).")
    ] = None,
    serve: Annotated[bool, typer.Option("--serve/--no-serve", help="Serve it (default).")] = True,
    host: Annotated[str, typer.Option("--host", help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", help="Port (0 = a free port).")] = 0,
    ready_file: Annotated[
        Path | None,
        typer.Option("--ready-file", help="Once listening, write the env lines here (atomically)."),
    ] = None,
    latency_ms: Annotated[
        float | None, typer.Option("--latency-ms", help="Override the scenario's latency.")
    ] = None,
    rate_limit: Annotated[
        float | None,
        typer.Option("--rate-limit", help="Override rate_limit_per_s (HTTP 418 over it)."),
    ] = None,
    error_rate: Annotated[
        float | None, typer.Option("--error-rate", help="Override the share of random 500s.")
    ] = None,
    mkdir: Annotated[
        bool, typer.Option("--mkdir", help="Create the folders of the files it writes.")
    ] = False,
) -> None:
    """Run the platform simulator: Weibo, WeChat and feed protocols on loopback.

    Prints (and writes to --ready-file) the env lines that point a monitor at it.

    Example: monitor simulate --generate 500 --roster-out city.csv --ready-file sim.env
    """
    from monitor import simulator as sim
    from monitor.output_paths import OutputRefused, check_output

    if (generate is None) == (scenario is None):
        raise UsageProblem("give exactly one of --generate N or --scenario FILE")
    if generate is not None and not 1 <= generate <= MAX_SIMULATED_ACCOUNTS:
        raise UsageProblem(f"--generate: give 1 to {MAX_SIMULATED_ACCOUNTS:,} accounts")
    if not 0 <= port <= 65535:
        raise UsageProblem(f"--port: {port} is not a port (0-65535; 0 picks a free one)")
    for flag, value, top in (
        ("--latency-ms", latency_ms, 60_000.0),
        ("--rate-limit", rate_limit, 1e6),
        ("--error-rate", error_rate, 1.0),
    ):
        if value is not None and not 0 <= value <= top:  # also refuses nan
            raise UsageProblem(f"{flag}: give a number from 0 to {top:g}")
    try:
        world = sim.generate_city(generate, seed=seed) if generate else sim.load_scenario(scenario)
    except sim.ScenarioError as exc:
        raise WorkFailed(str(exc)) from exc
    updates: dict[str, Any] = {}
    if latency_ms is not None:
        updates["latency_ms"] = latency_ms
    if rate_limit is not None:
        updates["rate_limit_per_s"] = rate_limit
    if error_rate is not None:
        updates["error_rate"] = error_rate
    if updates:
        world = world.model_copy(update=updates)
    for target in (scenario_out, roster_out, ready_file):
        if target is not None:
            try:
                check_output(target, database=database_path(None, None), mkdir=mkdir)
            except OutputRefused as exc:
                raise WorkFailed(str(exc)) from exc

    def publish(url: str) -> None:
        for path, write in (
            (scenario_out, lambda p: world.save(p)),
            (roster_out, lambda p: sim.write_roster(world, p, url)),
        ):
            if path is None:
                continue
            try:
                write(path)
            except OSError as exc:
                raise WorkFailed(f"cannot write {path}: {exc.strerror or exc}") from exc
        lines = simulator_env_lines(url, world)
        for line in lines:
            sys.stdout.write(line + "\n")
        sys.stdout.write(
            f"# simulator: {len(world.accounts)} accounts at {url}"
            + (" (Ctrl-C to stop)" if serve else "")
            + "\n"
        )
        sys.stdout.flush()
        if ready_file:
            sim.write_ready_file(ready_file, lines)

    if not serve:
        publish(f"http://{host}:{port or 8900}")
        return
    server = sim.SimulatorServer(world, host=host, port=port, seed=seed)
    try:
        server.run(publish)
    except OSError as exc:
        raise WorkFailed(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from exc


def simulator_env_lines(url: str, world: Any) -> list[str]:
    """The simulator's env lines plus politeness limits it tolerates (so sweeps take seconds)."""
    from monitor import simulator as sim

    lines = sim.env_lines(url, world.wechat_secret)
    # Each protocol has its own bucket in the simulator; stay 10% under it.
    rate = 0.9 * world.rate_limit_per_s if world.rate_limit_per_s else 500.0
    from adapters import source_names

    for source in source_names():
        lines.append(f"MONITOR_LIMITS__{source.upper()}__RATE_PER_S={rate:g}")
        lines.append(f"MONITOR_LIMITS__{source.upper()}__MAX_CONCURRENT=50")
    # wechatpy is synchronous: each concurrent WeChat check holds a worker thread.
    lines.append("MONITOR_WECHAT__WORKER_THREADS=32")
    return lines


# -- roster listings ---------------------------------------------------------------


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
        _print_json(records)
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
    console = _console()
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
        _print_json(records)
        return
    from rich.table import Table

    table = Table()
    for column in ("编号", "主办单位", "类别", "账号数"):
        table.add_column(column)
    for r in records:
        table.add_row(str(r["id"]), r["name"], "、".join(r["regions"]), str(r["accounts"]))
    console = _console()
    console.print(table)
    console.print(f"共 {len(records)} 个主办单位")
    s.close()


# -- config ------------------------------------------------------------------------


@config_app.command("check")
def config_check(
    ctx: typer.Context,
    file: Annotated[
        str | None, typer.Argument(help="Config file (default --config / MONITOR_CONFIG).")
    ] = None,
    config: ConfigOption = None,
) -> None:
    """Validate a config file and the MONITOR_* environment; list every problem with its key.

    Example: monitor config check config/monitor.example.toml
    """
    g: Globals = ctx.find_root().obj or Globals()
    target = file or config or g.config
    try:
        settings = load_settings(target)
    except ConfigError as exc:
        for key, message in exc.problems:
            sys.stderr.write(f"{exc.source}: {key}: {message}\n")
        sys.stderr.write(f"{exc.source}: {len(exc.problems)} problem(s)\n")
        raise typer.Exit(2) from None  # as every other command refuses it
    where = target or "defaults and environment"
    sys.stdout.write(f"{where}: OK\n")
    sys.stdout.write(f"  timezone: {settings.timezone}\n  policy: {settings.policy.describe()}\n")
    sys.stdout.write(f"  database: {database_path(None, settings)}\n")


# -- entry point -----------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    """Run the CLI; user errors become one-line messages and exit codes, never tracebacks."""
    from monitor.store import AccountLookupError, StoreError

    command = typer.main.get_command(app)
    try:
        rv = command.main(args=argv, prog_name="monitor", standalone_mode=False)
    except TyperException as exc:
        help_ctx = getattr(exc, "ctx", None)
        if type(exc).__name__ == "NoArgsIsHelpError" and help_ctx is not None:
            sys.stdout.write(help_ctx.get_help() + "\n")
            return 2
        sys.stderr.write(f"monitor: error: {exc.format_message()}\n")
        return int(getattr(exc, "exit_code", 2))
    except typer.Exit as exc:
        return exc.exit_code
    except (typer.Abort, KeyboardInterrupt):
        sys.stderr.write("monitor: aborted\n")
        return 130
    except UsageProblem as exc:
        sys.stderr.write(f"monitor: error: {exc}\n")
        return 2
    except ConfigError as exc:
        sys.stderr.write(f"monitor: config error: {exc}\n")
        return 2
    except (WorkFailed, AccountLookupError, StoreError) as exc:
        sys.stderr.write(f"monitor: {exc}\n")
        return 1
    except BrokenPipeError:
        return 0
    except OSError as exc:
        # A file the user named cannot be read or written: say which, in one line.
        where = f"{exc.filename}: " if exc.filename else ""
        sys.stderr.write(f"monitor: {where}{exc.strerror or exc}\n")
        return 1
    return rv if isinstance(rv, int) else 0


def run() -> NoReturn:
    sys.exit(main())


def _register_command_modules() -> None:
    import importlib

    from monitor.commands import command_modules

    for name in command_modules():
        importlib.import_module(f"monitor.commands.{name}").register(app)


_register_command_modules()
