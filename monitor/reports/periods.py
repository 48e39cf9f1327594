"""Report periods: months written "YYYY-MM" and the as-of date a report judges at."""

from __future__ import annotations

import calendar
import re
from datetime import date

from monitor.dates import EARLIEST_DATE, LATEST_DATE

_MONTH = re.compile(r"^(\d{4})-(\d{1,2})$")


class PeriodError(ValueError):
    """A month text that cannot be read, or a period that has not begun."""


def parse_month(month: str) -> tuple[int, int]:
    """(year, month) of a "YYYY-MM" text; PeriodError otherwise."""
    m = _MONTH.match(month.strip())
    if not m or not 1 <= int(m[2]) <= 12 or int(m[1]) < 1:
        raise PeriodError(f"invalid month {month!r}: write YYYY-MM, e.g. 2020-02")
    if not EARLIEST_DATE.year <= int(m[1]) <= LATEST_DATE.year:
        raise PeriodError(
            f"month {month!r} is out of range: give a month from "
            f"{month_of(EARLIEST_DATE)} to {month_of(LATEST_DATE)}"
        )
    return int(m[1]), int(m[2])


def month_bounds(month: str) -> tuple[date, date]:
    """The first and last calendar day of a "YYYY-MM" month."""
    year, mon = parse_month(month)
    return date(year, mon, 1), date(year, mon, calendar.monthrange(year, mon)[1])


def month_of(day: date) -> str:
    """The "YYYY-MM" month a date falls in."""
    return f"{day.year:04d}-{day.month:02d}"


def previous_month(today: date) -> str:
    """The "YYYY-MM" month before the one `today` falls in (what a monthly run reports)."""
    first = today.replace(day=1)
    year, mon = (first.year - 1, 12) if first.month == 1 else (first.year, first.month - 1)
    return f"{year:04d}-{mon:02d}"


def month_as_of(month: str, today: date) -> date:
    """A month's report date: its last day, or `today` while the month is still running."""
    first, last = month_bounds(month)
    if first > today:
        raise PeriodError(f"month {month} has not begun (today is {today.isoformat()})")
    return min(last, today)
