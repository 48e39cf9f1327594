"""Entry times of RSS, Atom and JSON feeds; a time written without a zone is local time.

Government CMS and news feeds often write `2016-04-05 08:54:33` with no zone: that
is the configured zone's wall time (Beijing), not UTC. feedparser reads such a value
as UTC and cannot say it had no zone, so the raw text decides:

- a date and a time without a zone: that wall time in the configured zone;
- a date alone: the start of that calendar day in the configured zone;
- a value with a zone (`+0800`, `+08:00`, `Z`, `GMT`, ...): read as written
  (feedparser's reading where it has one), so the zone is kept.

Forms read here: ISO 8601 and its CMS variants (`-`, `/`, `.` or 年月日 between the
parts, `T` or spaces before the time), and RFC 822 (`Tue, 05 Apr 2016 08:54:33`).
Anything else falls back to feedparser's reading, as before.
"""

from __future__ import annotations

import calendar
import re
from datetime import UTC, date, datetime, time, tzinfo
from email.utils import parsedate_to_datetime
from time import struct_time
from typing import Any

_ISO = re.compile(
    r"^(?P<y>\d{4})[-/.年](?P<mo>\d{1,2})[-/.月](?P<d>\d{1,2})日?"
    r"(?:(?:T|\s+)(?P<h>\d{1,2}):(?P<mi>\d{2})(?::(?P<s>\d{2})(?:[.,]\d+)?)?)?"
    r"\s*(?P<zone>.*)$",
    re.IGNORECASE,
)
_RFC822 = re.compile(
    r"^(?:[A-Za-z]{3},?\s+)?(?P<d>\d{1,2})\s+(?P<mon>[A-Za-z]{3})[A-Za-z]*\.?\s+(?P<y>\d{2,4})"
    r"(?:\s+(?P<h>\d{1,2}):(?P<mi>\d{2})(?::(?P<s>\d{2}))?)?\s*(?P<zone>.*)$"
)
_MONTHS = {name.lower(): i for i, name in enumerate(calendar.month_abbr) if name}
# The raw field and feedparser's parsed field of each time an entry may carry
# (feedparser files dc:date and dcterms:modified under `updated`).
ENTRY_FIELDS = (("published", "published_parsed"), ("updated", "updated_parsed"))


def entry_time(entry: Any, tz: tzinfo) -> datetime | None:
    """The newest of a feedparser entry's published/updated times (see the module docstring)."""
    times = [
        when
        for raw, parsed in ENTRY_FIELDS
        # dict.get: FeedParserDict.get maps updated->published with a warning.
        if (when := read_time(dict.get(entry, raw), dict.get(entry, parsed), tz))
    ]
    return max(times) if times else None


def read_time(raw: Any, parsed: struct_time | None, tz: tzinfo) -> datetime | None:
    """One feed time: local wall time when written without a zone, else as written."""
    text = raw.strip() if isinstance(raw, str) else ""
    match = _ISO.match(text) or _RFC822.match(text)
    if match is None:
        return _utc(parsed)
    if match["zone"]:
        return _utc(parsed) or _with_zone(text)
    try:
        day = date(_year(match["y"]), _month(match), int(match["d"]))
        if match["h"] is None:
            return datetime.combine(day, time.min, tzinfo=tz)
        clock = time(int(match["h"]), int(match["mi"]), int(match["s"] or 0))
    except ValueError:
        return None
    return datetime.combine(day, clock, tzinfo=tz)


def _utc(parsed: struct_time | None) -> datetime | None:
    """feedparser's reading (a UTC time tuple) as an aware datetime."""
    if not parsed:
        return None
    return datetime.fromtimestamp(calendar.timegm(parsed), UTC)


def _with_zone(text: str) -> datetime | None:
    """A time with a zone that feedparser did not read (JSON Feed values, for one)."""
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        try:
            moment = parsedate_to_datetime(text)
        except (TypeError, ValueError, IndexError):
            return None
    # "-0000" means UTC with no local zone known (RFC 5322); a naive result is that.
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def _year(text: str) -> int:
    year = int(text)
    # RFC 2822: two-digit years 00-49 are 20xx, 50-99 are 19xx.
    if len(text) == 2:
        year += 2000 if year < 50 else 1900
    return year


def _month(match: re.Match[str]) -> int:
    groups = match.groupdict()
    if "mon" in groups:
        month = _MONTHS.get(groups["mon"].lower())
        if month is None:
            raise ValueError(f"unknown month {groups['mon']!r}")
        return month
    return int(groups["mo"])
