"""Calendar durations such as `14d`, `2w`, `1mo`, `6mo`, and date arithmetic with them.

A month is a calendar month, clamped at month end: 2021-03-31 minus `1mo` is
2021-02-28, and 2020-03-31 minus `1mo` is 2020-02-29.
"""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass
from datetime import date, timedelta

_PART = re.compile(r"([0-9]+)\s*(mo|y|w|d)", re.IGNORECASE)
_WHOLE = re.compile(r"^\s*(?:[0-9]+\s*(?:mo|y|w|d)\s*)+$", re.IGNORECASE)

# A window longer than a century means nothing here; the bounds also keep date
# arithmetic inside the calendar (see monitor.dates.EARLIEST_DATE).
MAX_MONTHS = 1200  # 100y
MAX_DAYS = 36_525  # about 100 years of days


class DurationError(ValueError):
    """A duration text that cannot be read."""


@dataclass(frozen=True, slots=True)
class Duration:
    """A span of calendar months plus days; months apply first."""

    months: int = 0
    days: int = 0

    @classmethod
    def parse(cls, text: str | Duration) -> Duration:
        """Read `14d`, `2w`, `1mo`, `6mo`, `1y` or combinations such as `1mo15d`."""
        if isinstance(text, Duration):
            return text
        if not isinstance(text, str) or not _WHOLE.match(text):
            raise DurationError(
                f"invalid duration {_shown(text)}: write a number and a unit, e.g. 14d, 2w, 1mo, 6mo, 1y"
            )
        months = days = 0
        for number, unit in _PART.findall(text):
            # More digits than any bound has: too long (and int() of 4300+ digits raises).
            n = int(number) if len(number) <= 7 else MAX_DAYS + 1
            unit = unit.lower()
            if unit == "y":
                months += 12 * n
            elif unit == "mo":
                months += n
            elif unit == "w":
                days += 7 * n
            else:
                days += n
            if months > MAX_MONTHS or days > MAX_DAYS:
                raise DurationError(
                    f"duration {_shown(text)} is too long: at most {MAX_MONTHS // 12}y of months "
                    f"and {MAX_DAYS}d of days and weeks"
                )
        return cls(months=months, days=days)

    def before(self, day: date) -> date:
        """The date this duration before `day` (months first, clamped, then days)."""
        return subtract_months(day, self.months) - timedelta(days=self.days)

    def after(self, day: date) -> date:
        """The date this duration after `day` (months first, clamped, then days)."""
        return subtract_months(day, -self.months) + timedelta(days=self.days)

    def __str__(self) -> str:
        parts = []
        if self.months:
            parts.append(f"{self.months // 12}y" if self.months % 12 == 0 else f"{self.months}mo")
        if self.days or not parts:
            parts.append(
                f"{self.days // 7}w" if self.days and self.days % 7 == 0 else f"{self.days}d"
            )
        return "".join(parts)


def _shown(text: object, limit: int = 40) -> str:
    """A value quoted in a message, cut so that a huge input cannot flood it."""
    shown = repr(text)
    return shown if len(shown) <= limit else shown[: limit - 1] + "…"


def subtract_months(day: date, months: int) -> date:
    """`day` moved back by `months` calendar months, clamped to the month's last day."""
    index = day.year * 12 + (day.month - 1) - months
    year, month = divmod(index, 12)
    month += 1
    last = calendar.monthrange(year, month)[1]
    return date(year, month, min(day.day, last))
