"""JSON write endpoints (always behind the bearer token): check now, manual observation."""

from __future__ import annotations

import asyncio
from typing import Annotated, Any

from fastapi import APIRouter, Request
from pydantic import BaseModel, ConfigDict, Field, field_validator

from monitor.api.errors import ApiError
from monitor.api.params import IdPath, ctx_of, queries_of
from monitor.api.serialize import evidence_record, observation_record
from monitor.checks.record import record_manual
from monitor.checks.verdicts import status_record
from monitor.dates import DateInputError, end_of_day, parse_recent, utcnow
from monitor.links import http_link
from monitor.models import Observation, Outcome

router = APIRouter(prefix="/api", tags=["write"])


def _verdict_payload(request: Request, account: int) -> dict[str, Any]:
    ctx, queries = ctx_of(request), queries_of(request)
    found = queries.verdicts([account], ctx.today(), include_retired=True)
    if not found:
        raise ApiError(404, f"no account with id {account}")
    return {
        **status_record(found[0], ctx.tz),
        "evidence": evidence_record(found[0].verdict.evidence, ctx.tz),
    }


@router.post("/accounts/{account_id}/check")
def check_account(request: Request, account_id: IdPath) -> dict[str, Any]:
    """Check the account now through its source, store the observation, return the new verdict.

    A failed check is stored too (it never becomes a silence verdict); 409 when the
    account has no source configured or is retired.
    """
    from monitor.checks.fetch import check_accounts
    from monitor.settings import SecretLookup, read_secrets_file

    ctx = ctx_of(request)
    store = ctx.store()
    views = store.accounts_at(
        end_of_day(ctx.today(), ctx.tz), ids=[account_id], include_retired=True
    )
    if not views:
        raise ApiError(404, f"no account with id {account_id}")
    view = views[0]
    if view.retired:
        raise ApiError(409, f"account {account_id} is retired from the roster")
    secrets = SecretLookup(read_secrets_file(ctx.settings.secrets_file))

    async def run() -> Any:
        (report,) = await check_accounts(store, ctx.settings, [view], secrets=secrets)
        return report

    # A sync route runs in a worker thread, which has no event loop of its own.
    report = asyncio.run(run())
    ctx.wrote()
    if report.observation is None:
        raise ApiError(409, f"account {account_id} cannot be checked: {report.note}")
    return {
        "source": report.source,
        "observation": observation_record(report.observation, ctx.tz),
        "verdict": _verdict_payload(request, account_id),
    }


class ObservationIn(BaseModel):
    """A manual observation, as `monitor observe` takes it."""

    model_config = ConfigDict(extra="forbid")

    account: Annotated[
        str, Field(min_length=1, max_length=300, description="id, platform:account_id or name")
    ]
    latest_post: str | None = Field(default=None, max_length=40)
    no_content: bool = False
    not_found: bool = False
    at: str | None = Field(default=None, max_length=40, description="When the inspector looked.")
    url: str | None = Field(default=None, max_length=2000)
    title: str | None = Field(default=None, max_length=500)
    note: str | None = Field(default=None, max_length=2000)

    @field_validator("account", mode="before")
    @classmethod
    def _id_as_text(cls, value: Any) -> Any:
        return str(value) if isinstance(value, int) and not isinstance(value, bool) else value

    @field_validator("url")
    @classmethod
    def _http_only(cls, value: str | None) -> str | None:
        if value is not None and http_link(value) is None:
            raise ValueError("must be an http(s) URL")
        return http_link(value) if value is not None else None


@router.post("/observations", status_code=201)
def add_observation(request: Request, body: ObservationIn) -> dict[str, Any]:
    """Record what an inspector saw by hand (like `monitor observe`); the new verdict."""
    ctx = ctx_of(request)
    chosen = [body.latest_post is not None, body.no_content, body.not_found]
    if sum(chosen) != 1:
        raise ApiError(422, "give exactly one of latest_post, no_content, not_found")
    now = utcnow()
    moments = {}
    for name, text in (("at", body.at), ("latest_post", body.latest_post)):
        try:
            moments[name] = parse_recent(text, ctx.tz) if text else None
        except DateInputError as exc:
            raise ApiError(422, f"{name}: {exc}") from exc
    observed_at, post_at = moments["at"] or now, moments["latest_post"]
    if observed_at > now:
        raise ApiError(422, "at is in the future")
    store = ctx.store()
    matches = store.find_accounts(body.account)
    if not matches:
        raise ApiError(404, f"no account matches {body.account!r}")
    if len(matches) > 1:
        raise ApiError(
            422,
            f"{body.account!r} is ambiguous; use the id or platform:account_id",
            candidates=[{"id": r[0], "platform": r[1], "account_id": r[2], "name": r[3]}
                        for r in matches[:20]],
        )  # fmt: skip
    account = int(matches[0][0])
    outcome = (
        Outcome.OK if post_at else Outcome.NO_CONTENT if body.no_content else Outcome.NOT_FOUND
    )
    if post_at is not None and post_at > observed_at:
        # Clock skew or a typo: a post cannot be newer than the look at it (as the CLI).
        post_at = observed_at
    obs = Observation(
        account=account,
        observed_at=observed_at,
        source="manual",
        outcome=outcome,
        latest_post_at=post_at,
        post_url=body.url,
        post_title=body.title,
        detail=body.note,
    )
    (report,) = record_manual(store, ctx.settings, obs)
    ctx.wrote()
    return {
        "observation": observation_record(report.observation, ctx.tz),
        "verdict": _verdict_payload(request, account),
    }
