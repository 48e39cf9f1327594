"""The adapter contract: one small async protocol every platform source implements.

An adapter takes a `CheckTarget` (one account, with the state the adapter kept
from its previous check) and an `AdapterContext` (shared HTTP client, settings,
secrets, clock, outbound URL guard) and returns a `CheckResult`. It never
raises for anything a platform does: every failure is an `Observation` with
one of the failed outcomes (blocked, rate_limited, auth_error, transient,
parse_error) and a useful `detail`: a `monitor.messages.Message` (a code plus
parameters, worded in `monitor/check_details.py`), so each reader gets it in
their own language.

Adapters import nothing of `monitor` but the shared models.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import TYPE_CHECKING, Any, Protocol

import httpx

from adapters._http import HttpGetter
from monitor.messages import Message, message
from monitor.models import MessageCode, Observation, Outcome, Platform

if TYPE_CHECKING:
    from monitor.settings import Settings


EXCERPT_CHARS = 200


@dataclass(frozen=True, slots=True)
class Manifest:
    """What a source is, stated once; the registry derives everything else from it.

    The roster vocabulary (`aliases`), the default source of a platform (`platforms`,
    `needs`), the `limits.<name>` settings (`max_concurrent`, `rate_per_s`), pacing
    and the outbound guard's exempt origins (`origins`), labels and the CLI/API
    choices all come from here (apprise's plugin attributes are the model).
    """

    name: str  # in rosters (来源), settings (limits.<name>), observations, the API
    label: str  # how the dashboard and reports name it
    priority: int  # tried in this order when the roster names no source
    # Platforms this source checks when the roster names no source ("*": any).
    platforms: tuple[str, ...]
    # Roster fields it cannot check without; "a|b": either will do.
    needs: tuple[str, ...] = ()
    # What a roster may write in 来源 for it (matched without case).
    aliases: tuple[str, ...] = ()
    max_concurrent: int = 2
    rate_per_s: float = 1.0
    # "request": every HTTP request waits for the pacer; "check": once per check
    # (a library makes the calls, as wechatpy does).
    paced_per: str = "request"
    # This source's own base URLs, as (setting's dotted path, path under it): requests
    # there are paced as this source, and their origins are exempt from the guard.
    origins: tuple[tuple[str, str], ...] = ()
    # What a run of refusals is about: the whole source, or each host (feeds).
    backoff_by: str = "source"

    def handles(self, platform: str, fields: dict[str, str]) -> bool:
        """Whether it is the default source for an account with these roster fields."""
        if "*" not in self.platforms and platform not in self.platforms:
            return False
        return all(any(fields.get(f, "").strip() for f in need.split("|")) for need in self.needs)


@dataclass(frozen=True, slots=True)
class CheckTarget:
    """The account an adapter checks, with its source settings from the roster."""

    id: int
    platform: Platform
    account_id: str
    name: str
    feed_url: str = ""
    appid: str = ""
    secret_env: str = ""
    # What this adapter stored after its previous check of the account
    # (ETag / Last-Modified, WeChat scan progress, ...). Never holds secrets.
    state: dict[str, Any] = field(default_factory=dict)


class Secrets(Protocol):
    def get(self, name: str) -> str | None: ...


@dataclass(slots=True)
class AdapterContext:
    """What every adapter may use; tests build one around a test client and clock."""

    http: httpx.AsyncClient | HttpGetter
    settings: Settings
    secrets: Secrets
    clock: Callable[[], datetime]
    # Raises nothing; returns a reason string when a roster URL must not be fetched.
    url_guard: Callable[[str], Any] | None = None
    # The policy's warning boundary today (a post before it means warning or worse),
    # from the classifier; None: treat every post as possibly silent.
    warning_before: date | None = None


@dataclass(frozen=True, slots=True)
class CheckResult:
    """An adapter's answer: the observation, and the state to keep for next time."""

    observation: Observation
    state: dict[str, Any] = field(default_factory=dict)


class Adapter(Protocol):
    """A source of observations for accounts of some platforms."""

    name: str

    async def check(self, target: CheckTarget, ctx: AdapterContext) -> CheckResult: ...


def observation(
    target: CheckTarget,
    now: datetime,
    source: str,
    outcome: Outcome,
    detail: Message,
    **fields: Any,
) -> Observation:
    """An observation whose detail is `detail`: its English text, code and parameters."""
    return Observation(
        account=target.id,
        observed_at=now,
        source=source,
        outcome=outcome,
        detail=str(detail),
        detail_code=detail.code,
        detail_params=detail.params,
        **fields,
    )


def failed(
    target: CheckTarget,
    ctx: AdapterContext,
    source: str,
    outcome: Outcome,
    detail: Message,
    *,
    body: str | bytes | None = None,
    retry_after: float | None = None,
    state: dict[str, Any] | None = None,
    observed_at: datetime | None = None,
) -> CheckResult:
    """A failed-check result; with `body`, the detail ends with a short excerpt of it."""
    if body is not None:
        text = body.decode("utf-8", "replace") if isinstance(body, bytes) else body
        excerpt = " ".join(text[:EXCERPT_CHARS].split())
        detail = message(MessageCode.WITH_BODY, detail=detail, body=excerpt)
    obs = observation(
        target, observed_at or ctx.clock(), source, outcome, detail, retry_after=retry_after
    )
    return CheckResult(obs, dict(target.state) if state is None else state)
