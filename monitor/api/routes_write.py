"""JSON write endpoints (always behind the bearer token): check now, manual observation."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from typing import Annotated, Any

from fastapi import APIRouter, Request
from pydantic import BaseModel, ConfigDict, Field, field_validator

from monitor.api.access import account_visible, unit_visible
from monitor.api.errors import ApiError
from monitor.api.params import IdPath, ctx_of, queries_of
from monitor.checks.record import ManualInputError, manual_observation, record_manual
from monitor.dates import end_of_day, utcnow
from monitor.links import http_link
from monitor.records import evidence_record, observation_record, status_record

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
    if not views or not unit_visible(request, views[0].unit):
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
    try:
        obs = manual_observation(
            0,  # the account is looked up once the fields are known to be sound
            latest_post=body.latest_post,
            no_content=body.no_content,
            not_found=body.not_found,
            at=body.at,
            url=body.url,
            title=body.title,
            note=body.note,
            tz=ctx.tz,
            now=utcnow(),
        )
    except ManualInputError as exc:
        raise ApiError(422, str(exc)) from exc
    store = ctx.store()
    # Another unit's accounts do not exist for a unit user: not found, never a candidate.
    matches = [m for m in store.find_accounts(body.account) if account_visible(request, m[0])]
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
    (report,) = record_manual(store, ctx.settings, replace(obs, account=account))
    ctx.wrote()
    assert report.observation is not None  # a manual observation is always stored
    return {
        "observation": observation_record(report.observation, ctx.tz),
        "verdict": _verdict_payload(request, account),
    }
