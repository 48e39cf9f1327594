"""Query parameters shared by the JSON routes and the dashboard, validated into 422s."""

from __future__ import annotations

from datetime import date
from enum import StrEnum
from typing import Annotated

from fastapi import Path, Query, Request

from monitor.api.context import ApiContext
from monitor.api.errors import ApiError
from monitor.api.queries import Queries
from monitor.dates import DateInputError, parse_date
from monitor.models import MAX_ID, Platform, State

StateParam = StrEnum("StateParam", {s.name: s.value for s in State})  # type: ignore[misc]
PlatformParam = StrEnum("PlatformParam", {p.name: p.value for p in Platform})  # type: ignore[misc]

IdPath = Annotated[int, Path(ge=1, le=MAX_ID, description="The account's stable id.")]
UnitIdPath = Annotated[int, Path(ge=1, le=MAX_ID, description="The unit's id.")]
SiteIdPath = Annotated[int, Path(ge=1, le=MAX_ID, description="The website's id.")]
AsOfQuery = Annotated[
    str | None,
    Query(
        description="Judge as of this date (YYYY-MM-DD, configured zone); default today.",
        max_length=20,
    ),
]
LimitQuery = Annotated[int, Query(ge=1, le=500, description="Page size (at most 500).")]
OffsetQuery = Annotated[int, Query(ge=0, le=10**9, description="Items to skip.")]
TextQuery = Annotated[str | None, Query(max_length=200)]


def parse_as_of(ctx: ApiContext, text: str | None, name: str = "as_of") -> date:
    """The as-of date of a request; 422 for text that is not a date."""
    if text is None or not text.strip():
        return ctx.today()
    try:
        return parse_date(text)
    except DateInputError as exc:
        raise ApiError(422, f"{name}: {exc}") from exc


def ctx_of(request: Request) -> ApiContext:
    return request.app.state.ctx


def queries_of(request: Request) -> Queries:
    return request.app.state.queries


def blank_to_none(value: str | None) -> str | None:
    """HTML forms send empty fields as "": that means "any"."""
    if value is None:
        return None
    value = value.strip()
    return value or None
