"""`monitor observe`: what an inspector saw by hand, recorded as any check is."""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING, Annotated, Any

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
from monitor.dates import utcnow

if TYPE_CHECKING:
    from monitor.models import Observation


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

    s = Session(ctx, db, config)
    seen = dict(latest_post=latest_post, no_content=no_content, not_found=not_found, at=at)
    obs = _observation(s, **seen, url=url, title=title, note=note)
    account_pk = s.store.resolve_account(account)
    (report,) = record_manual(s.store, s.settings, replace(obs, account=account_pk))
    obs_id = report.observation.id if report.observation else None
    header = f"observation {obs_id} recorded"
    show_status(s, None, [account_pk], s.as_of(None), s.policy(), as_json, header=header)
    s.close()


def _observation(s: Session, **given: Any) -> Observation:
    """The manual observation the options describe (for an account looked up later, as
    the API does), or a usage error naming the option."""
    from monitor.checks.record import ManualInputError, manual_observation

    try:
        return manual_observation(
            0, **given, tz=s.tz, now=utcnow(), name=lambda field: "--" + field.replace("_", "-")
        )
    except ManualInputError as exc:
        raise UsageProblem(str(exc)) from exc
