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

# Every date a user gives (as-of dates, months, posts, observations, --effective)
# lies in these years: before 2000 no government new-media account posted, and
# with windows of at most 200 years (see monitor.durations) arithmetic on such a
# date never leaves the calendar (years 1 to 9999).
EARLIEST_DATE = date(2000, 1, 1)
LATEST_DATE = date(2999, 12, 31)


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


def in_range(day: date, text: object = None) -> date:
    """`day` if it lies between EARLIEST_DATE and LATEST_DATE; DateInputError otherwise."""
    if not EARLIEST_DATE <= day <= LATEST_DATE:
        shown = repr(text) if text is not None else day.isoformat()
        raise DateInputError(
            f"date {shown} is out of range: give a date from {EARLIEST_DATE} to {LATEST_DATE}"
        )
    return day


def parse_date(text: str) -> date:
    """A calendar date written YYYY-MM-DD (also YYYY.M.D or YYYY/M/D), within the range above."""
    raw = text.strip()
    m = _DOTTED.match(raw)
    try:
        if m:
            return in_range(date(int(m[1]), int(m[2]), int(m[3])), text)
        if _DATE_ONLY.match(raw):
            y, mo, d = (int(p) for p in raw.split("-"))
            return in_range(date(y, mo, d), text)
    except ValueError as exc:
        if isinstance(exc, DateInputError):
            raise
        raise DateInputError(f"invalid date {text!r}: {exc}") from exc
    raise DateInputError(f"invalid date {text!r}: write YYYY-MM-DD")


def parse_moment(text: str, tz: tzinfo) -> datetime:
    """A datetime text; a bare date means the start of that day, a naive time is local.

    Its calendar date in `tz` lies within the range above.
    """
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
    # The local date in `tz` decides; at the calendar's ends converting overflows.
    if not 1 < moment.year < 9999:
        in_range(moment.date(), text)
    in_range(local_date(moment, tz), text)
    return moment


def parse_recent(text: str, tz: tzinfo, now: datetime | None = None) -> datetime:
    """A post or observation moment (see `parse_moment`), from EARLIEST_DATE to tomorrow in `tz`."""
    moment = parse_moment(text, tz)
    day, tomorrow = local_date(moment, tz), today(tz, now) + timedelta(days=1)
    if not EARLIEST_DATE <= day <= tomorrow:
        raise DateInputError(
            f"{day.isoformat()} is out of range: a post or observation lies "
            f"between {EARLIEST_DATE} and tomorrow ({tomorrow})"
        )
    return moment


_HHMM = re.compile(r"^([01]?[0-9]|2[0-3]):([0-5][0-9])$")


def parse_time_of_day(text: str) -> tuple[int, int]:
    """(hour, minute) of "HH:MM" (00:00 to 23:59); DateInputError otherwise."""
    m = _HHMM.match(text.strip()) if isinstance(text, str) else None
    if not m:
        raise DateInputError(f"not a time of day: {text!r} (write HH:MM, from 00:00 to 23:59)")
    return int(m[1]), int(m[2])


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
