"""Moments and calendar dates: storage in UTC, reasoning in the configured zone.

Stored timestamps are ISO 8601 UTC strings of one fixed width, so that text
order is time order in SQL.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

DEFAULT_TIMEZONE = "Asia/Shanghai"
# The stored valid_from of a roster's first version: before any real moment.
BEGINNING = "0001-01-01T00:00:00.000000+00:00"


class DateInputError(ValueError):
    """A date or datetime text that cannot be read."""


def zone(name: str) -> ZoneInfo:
    """The named IANA time zone, with a clear error for a bad name."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise DateInputError(f"unknown time zone {name!r}") from exc


def to_db(moment: datetime) -> str:
    """A stored timestamp: UTC, microseconds, explicit offset."""
    if moment.tzinfo is None:
        raise ValueError("naive datetime cannot be stored")
    return moment.astimezone(UTC).isoformat(timespec="microseconds")


def from_db(text: str | None) -> datetime | None:
    """A stored timestamp back as an aware UTC datetime."""
    if text is None or text == "":
        return None
    return datetime.fromisoformat(text)


def local_date(moment: datetime, tz: tzinfo) -> date:
    """The calendar date of a moment in the zone."""
    return moment.astimezone(tz).date()


def start_of_day(day: date, tz: tzinfo) -> datetime:
    """The first moment of a calendar date in the zone, as an aware datetime."""
    return datetime.combine(day, time.min, tzinfo=tz)


def end_of_day(day: date, tz: tzinfo) -> datetime:
    """The last microsecond of a calendar date in the zone."""
    return start_of_day(day + timedelta(days=1), tz) - timedelta(microseconds=1)


def today(tz: tzinfo, now: datetime | None = None) -> date:
    """Today's date in the zone."""
    return (now or datetime.now(UTC)).astimezone(tz).date()


_DATE_ONLY = re.compile(r"^\d{4}-\d{1,2}-\d{1,2}$")
_DOTTED = re.compile(r"^(\d{4})[./](\d{1,2})[./](\d{1,2})$")


def parse_date(text: str) -> date:
    """A calendar date written YYYY-MM-DD (also YYYY.M.D or YYYY/M/D)."""
    raw = text.strip()
    m = _DOTTED.match(raw)
    try:
        if m:
            return date(int(m[1]), int(m[2]), int(m[3]))
        if _DATE_ONLY.match(raw):
            y, mo, d = (int(p) for p in raw.split("-"))
            return date(y, mo, d)
    except ValueError as exc:
        raise DateInputError(f"invalid date {text!r}: {exc}") from exc
    raise DateInputError(f"invalid date {text!r}: write YYYY-MM-DD")


def parse_moment(text: str, tz: tzinfo) -> datetime:
    """A datetime text; a bare date means the start of that day, a naive time is local."""
    raw = text.strip()
    if not raw:
        raise DateInputError("empty date")
    if _DATE_ONLY.match(raw) or _DOTTED.match(raw):
        return start_of_day(parse_date(raw), tz)
    try:
        moment = datetime.fromisoformat(raw.replace("Z", "+00:00") if raw.endswith("Z") else raw)
    except ValueError as exc:
        raise DateInputError(
            f"invalid date/time {text!r}: write YYYY-MM-DD or YYYY-MM-DDTHH:MM[:SS][+08:00]"
        ) from exc
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=tz)
    return moment


def iso(moment: datetime | None, tz: tzinfo | None = None) -> str | None:
    """ISO 8601 with an explicit offset (in `tz` when given) for JSON output."""
    if moment is None:
        return None
    if tz is not None:
        moment = moment.astimezone(tz)
    return moment.isoformat()


def utcnow() -> datetime:
    """Now, aware, in UTC."""
    return datetime.now(UTC)
