"""What crosses the broker between a coordinator and its fetch workers, as JSON.

    task   {"source", "checks": [{"check_id", "account": {roster fields}, "state"}]}
    result {"worker", "results": [{"check_id", "seen": {...}} | {"check_id", "note"}]}

A task names the account, its source fields and its adapter state: never a secret
(a WeChat AppSecret is read by the worker from its own environment by the account's
`secret_env` name). Times are ISO strings with their offset.
"""

from __future__ import annotations

from dataclasses import asdict, fields
from datetime import date, datetime
from typing import Any

from monitor.checks.record import Seen
from monitor.models import AccountView, Observation, Outcome, Platform, RosterStatus
from monitor.store import SourceState

_ACCOUNT_FIELDS = tuple(f.name for f in fields(AccountView))


def account_payload(view: AccountView) -> dict[str, Any]:
    """An account's roster fields in force, as sent in a task."""
    out = asdict(view)
    out["platform"] = view.platform.value
    out["status"] = view.status.value
    return out


def account_from(data: dict[str, Any]) -> AccountView:
    """The account a task names."""
    given = {k: v for k, v in data.items() if k in _ACCOUNT_FIELDS}
    given["platform"] = Platform(data["platform"])
    given["status"] = RosterStatus(data["status"])
    return AccountView(**given)


def state_payload(state: SourceState | None) -> dict[str, Any] | None:
    """An adapter's saved state as sent in a task (None: it has none)."""
    if state is None:
        return None
    return {"source": state.source, "key": state.key, "state": state.state}


def state_from(data: dict[str, Any] | None) -> SourceState | None:
    """The adapter state a task carries."""
    if data is None:
        return None
    return SourceState(str(data["source"]), str(data["key"]), dict(data["state"]))


def _time(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment is not None else None


def _parse_time(text: str | None) -> datetime | None:
    return datetime.fromisoformat(text) if text else None


def observation_payload(obs: Observation) -> dict[str, Any]:
    """An observation not yet stored, as a worker sends it back."""
    return {
        "observed_at": _time(obs.observed_at),
        "source": obs.source,
        "outcome": obs.outcome.value,
        "latest_post_at": _time(obs.latest_post_at),
        "post_id": obs.post_id,
        "post_url": obs.post_url,
        "post_title": obs.post_title,
        "detail": obs.detail,
        "silent_since": obs.silent_since.isoformat() if obs.silent_since else None,
        "profile": obs.profile,
        "retry_after": obs.retry_after,
        "detail_code": obs.detail_code,
        "detail_params": obs.detail_params,
    }


def observation_from(data: dict[str, Any], account: int) -> Observation:
    """The observation a worker sent back, for `account`."""
    observed_at = _parse_time(data["observed_at"])
    assert observed_at is not None, "an observation has a time"
    since = data.get("silent_since")
    return Observation(
        account=account,
        observed_at=observed_at,
        source=str(data["source"]),
        outcome=Outcome(data["outcome"]),
        latest_post_at=_parse_time(data.get("latest_post_at")),
        post_id=data.get("post_id"),
        post_url=data.get("post_url"),
        post_title=data.get("post_title"),
        detail=data.get("detail"),
        silent_since=date.fromisoformat(since) if since else None,
        profile=data.get("profile"),
        retry_after=data.get("retry_after"),
        detail_code=data.get("detail_code"),
        detail_params=data.get("detail_params"),
    )


def seen_payload(seen: Seen) -> dict[str, Any]:
    """What one check saw, as a worker sends it back (the account is the task's)."""
    return {
        "source": seen.source,
        "observation": observation_payload(seen.observation),
        "state": seen.state,
        "state_key": seen.state_key,
    }


def seen_from(data: dict[str, Any], account: AccountView) -> Seen:
    """What a worker saw, ready for `record`."""
    return Seen(
        account=account,
        source=str(data["source"]),
        observation=observation_from(data["observation"], account.id),
        state=data.get("state"),
        state_key=str(data.get("state_key", "")),
    )
