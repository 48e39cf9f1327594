"""`monitor observe`: what an inspector saw by hand, recorded as any check is."""

from __future__ import annotations

from typing import Annotated

import typer

from monitor.cli.app import app
from monitor.cli.options import (
    ConfigOption,
    DbOption,
    JsonOption,
)
from monitor.cli.session import (
    Session,
    UsageProblem,
)
from monitor.cli.status import show_status
from monitor.dates import DateInputError, parse_recent, utcnow


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
    show_status(
        s,
        None,
        [account_pk],
        s.as_of(None),
        s.policy(),
        as_json,
        header=f"observation {obs_id} recorded",
    )
    s.close()
