"""Dates as government websites write them in their listings, read as calendar dates.

Forms (the notice's CMS pages): YYYY-MM-DD, YYYY/MM/DD, YYYY.MM.DD, YYYY年M月D日,
[MM-DD] and MM-DD. A date with no year is in the year of `today`, or the year before
when that would put it in the future; a dated item is never later than `today`
(a date in the future is a typing error on the page and is not an update, and
neither is an impossible date such as 2024-02-30).
"""

from __future__ import annotations

import re
from datetime import date

# Longest forms first: a full date must not be read as its month-day tail.
_FULL = re.compile(
    r"(?<!\d)(\d{4})\s*(?:([-/.])\s*(\d{1,2})\s*\2\s*(\d{1,2})|年\s*(\d{1,2})\s*月\s*(\d{1,2})\s*日)(?!\d)"
)
_BRACKETED = re.compile(r"[\[【(（]\s*(\d{1,2})-(\d{1,2})\s*[\]】)）]")
_MONTH_DAY = re.compile(r"(?<![\d\-/.:])(\d{1,2})-(\d{1,2})(?![\d\-/.:])")
EARLIEST_YEAR = 1990


def _day(year: int, month: int, day: int) -> date | None:
    try:
        found = date(year, month, day)
    except ValueError:
        return None
    return found if found.year >= EARLIEST_YEAR else None


def _month_day(month: int, day: int, today: date) -> date | None:
    found = _day(today.year, month, day)
    if found is None and (month, day) == (2, 29):
        found = _day(today.year - 1, month, day)
    if found is not None and found > today:
        found = _day(today.year - 1, month, day)
    return found


def find_date(text: str, today: date) -> date | None:
    """The last date written in `text` (a list item's text), or None; never after `today`.

    The last one, because an item reads "title ... date": a date inside the title
    (e.g. "关于2024年5月1日放假的通知") comes before the item's own date.
    """
    found: list[tuple[int, date | None]] = []
    taken: list[tuple[int, int]] = []
    for m in _FULL.finditer(text):
        if m[2]:
            day = _day(int(m[1]), int(m[3]), int(m[4]))
        else:
            day = _day(int(m[1]), int(m[5]), int(m[6]))
        found.append((m.start(), day))
        taken.append(m.span())
    for pattern in (_BRACKETED, _MONTH_DAY):
        for m in pattern.finditer(text):
            if any(a <= m.start() < b for a, b in taken):
                continue
            found.append((m.start(), _month_day(int(m[1]), int(m[2]), today)))
            taken.append(m.span())
    if not found:
        return None
    _, day = max(found, key=lambda pair: pair[0])
    return day if day is not None and day <= today else None
