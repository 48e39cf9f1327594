"""Weibo's `created_at` texts, absolute and relative, as aware datetimes.

Weibo writes times for a reader in China, so forms without a zone or a year are
read in Asia/Shanghai relative to `now` (the observation time).
"""

from __future__ import annotations

import re
from datetime import date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

from monitor.messages import message
from monitor.models import MessageCode as C

SHANGHAI = ZoneInfo("Asia/Shanghai")

_MONTHS = {
    name: i
    for i, name in enumerate(
        ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"),
        start=1,
    )
}
# "Sun Dec 01 09:21:00 +0800 2024" (parsed by hand: %a/%b would follow the C locale).
_ABSOLUTE = re.compile(
    r"^[A-Za-z]{3} ([A-Za-z]{3}) (\d{1,2}) (\d{2}):(\d{2}):(\d{2}) ([+-])(\d{2})(\d{2}) (\d{4})$"
)
_AGO = re.compile(r"^(\d+)\s*(秒|分钟|小时)前$")
_DAY_WORD = re.compile(r"^(今天|昨天)\s*(\d{1,2}):(\d{2})$")
_MONTH_DAY = re.compile(r"^(\d{1,2})-(\d{1,2})(?:\s+(\d{1,2}):(\d{2}))?$")
_FULL_DATE = re.compile(r"^(\d{4})-(\d{1,2})-(\d{1,2})(?:\s+(\d{1,2}):(\d{2})(?::(\d{2}))?)?$")
_AGO_UNITS = {"秒": "seconds", "分钟": "minutes", "小时": "hours"}


def parse_weibo_time(text: str, now: datetime) -> datetime:
    """An aware datetime for a Weibo `created_at`; ValueError for a form not known here."""
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    raw = " ".join(str(text).split())
    local_now = now.astimezone(SHANGHAI)
    if m := _ABSOLUTE.match(raw):
        return _absolute(m)
    if raw == "刚刚":
        return local_now
    if m := _AGO.match(raw):
        return local_now - timedelta(**{_AGO_UNITS[m[2]]: int(m[1])})
    if m := _DAY_WORD.match(raw):
        day = local_now.date() - timedelta(days=1 if m[1] == "昨天" else 0)
        return _at(day, int(m[2]), int(m[3]))
    if m := _MONTH_DAY.match(raw):
        day = _month_day_in_past(int(m[1]), int(m[2]), local_now.date(), raw)
        return _at(day, int(m[3] or 0), int(m[4] or 0))
    if m := _FULL_DATE.match(raw):
        try:
            day = date(int(m[1]), int(m[2]), int(m[3]))
        except ValueError as exc:
            why = message(C.WEIBO_BAD_DATE_WHY, text=str(text), error=str(exc))
            raise ValueError(why) from exc
        return _at(day, int(m[4] or 0), int(m[5] or 0), int(m[6] or 0))
    raise ValueError(message(C.WEIBO_TIME_FORM, text=str(text)))


def _absolute(m: re.Match[str]) -> datetime:
    month = _MONTHS.get(m[1].lower())
    if month is None:
        raise ValueError(message(C.WEIBO_BAD_MONTH, month=m[1]))
    sign = 1 if m[6] == "+" else -1
    offset = sign * timedelta(hours=int(m[7]), minutes=int(m[8]))
    return datetime(
        int(m[9]), month, int(m[2]), int(m[3]), int(m[4]), int(m[5]), tzinfo=timezone(offset)
    )


def _at(day: date, hour: int, minute: int, second: int = 0) -> datetime:
    try:
        return datetime.combine(day, time(hour, minute, second), tzinfo=SHANGHAI)
    except ValueError as exc:
        raise ValueError(
            message(C.WEIBO_BAD_TIME, hour=hour, minute=minute, second=second, error=str(exc))
        ) from exc


def _month_day_in_past(month: int, day: int, today: date, raw: str) -> date:
    """MM-DD in the current year, or last year when that date is still to come (or invalid)."""
    for year in (today.year, today.year - 1):
        try:
            candidate = date(year, month, day)
        except ValueError:
            continue
        if candidate <= today:
            return candidate
    raise ValueError(message(C.WEIBO_BAD_DATE, text=raw))
