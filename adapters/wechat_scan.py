"""The incremental day-by-day scan of WeChat's datacube (articles by send date), as pure state logic.

A day's articles come from an endpoint whose date IS the send date (see
`adapters.wechat`), so a day with articles is a day the account posted on. The
scan walks days newest-first and stops at the first day with articles, so an
active account costs one or two calls. What it knows is kept between checks:

- `through`: the newest day scanned (the last RECHECK_DAYS are scanned again anyway);
- `latest` (+ `title`, `msgid`, `url`): the newest day found with articles;
- `empty_from`: every day from here to `through` had no articles;
- `floor`: when set, days `floor .. empty_from - 1` are still to scan (the first
  scan, or a long gap, was cut short by the per-check cap); None once resolved.

While a gap remains, `latest` (if any) is older than the gap and is not claimed:
the observation only says "nothing since `empty_from`".
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import date, timedelta
from typing import Any

DEFAULT_MAX_DAYS = 200
# datacube fills a day in some hours after it ends: a day scanned too early reads as
# empty, so the newest days are always scanned again (a missed 群发 would look like silence).
RECHECK_DAYS = 2

DayFetcher = Callable[[date], list[dict[str, Any]]]


@dataclass(frozen=True, slots=True)
class ScanState:
    """What the datacube scan knows after some checks (see the module docstring)."""

    through: date
    empty_from: date
    floor: date | None
    latest: date | None = None
    title: str | None = None
    msgid: str | None = None
    url: str | None = None

    @property
    def resolved(self) -> bool:
        return self.floor is None

    @classmethod
    def initial(cls, first_day: date) -> ScanState:
        """Nothing scanned yet; the first scan reaches back to `first_day`."""
        before = first_day - timedelta(days=1)
        return cls(through=before, empty_from=first_day, floor=first_day)

    @classmethod
    def from_dict(cls, data: dict[str, Any], first_day: date) -> ScanState:
        """The state kept in CheckTarget.state, or a fresh one when absent or unreadable."""
        try:
            through = date.fromisoformat(data["dc_through"])
            empty_from = date.fromisoformat(data["dc_empty_from"])
            floor = date.fromisoformat(data["dc_floor"]) if data.get("dc_floor") else None
            latest = date.fromisoformat(data["dc_latest"]) if data.get("dc_latest") else None
        except (KeyError, TypeError, ValueError):
            return cls.initial(first_day)
        return cls(
            through,
            empty_from,
            floor,
            latest,
            data.get("dc_title"),
            data.get("dc_msgid"),
            data.get("dc_url"),
        )

    def reaching_back_to(self, reach: date) -> ScanState:
        """The state with days before `reach` (where the datacube has no data) left out.

        A gap that only covered such days is closed: nothing is claimed about them,
        so a scan that found nothing says "no post since `reach`" at most.
        """
        if self.floor is None or self.floor >= reach:
            return self
        if self.empty_from <= reach:
            return replace(self, floor=None, empty_from=max(self.empty_from, reach))
        return replace(self, floor=reach)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "dc_through": self.through.isoformat(),
            "dc_empty_from": self.empty_from.isoformat(),
            "dc_floor": self.floor.isoformat() if self.floor else None,
            "dc_latest": self.latest.isoformat() if self.latest else None,
            "dc_title": self.title,
            "dc_msgid": self.msgid,
            "dc_url": self.url,
        }
        return out


@dataclass(frozen=True, slots=True)
class ScanRun:
    """The outcome of one check's walk: the new state, how many calls, and any error."""

    state: ScanState
    days_scanned: int
    error: BaseException | None = None


def _days_desc(first: date, last: date) -> list[date]:
    n = (last - first).days
    return [last - timedelta(days=i) for i in range(n + 1)] if n >= 0 else []


def walk(
    state: ScanState,
    newest: date,
    fetch_day: DayFetcher,
    max_days: int,
    recheck_days: int = RECHECK_DAYS,
    known_latest: date | None = None,
) -> ScanRun:
    """Scan new days (after `through` up to `newest`, the last `recheck_days` always), then any gap.

    With `known_latest` (the day of a post seen elsewhere, e.g. freepublish), days on
    or before it are not scanned: they cannot hold a newer post. They stay unscanned
    (part of the gap), so nothing is claimed about them.
    """
    state = replace(state, through=min(state.through, newest - timedelta(days=recheck_days)))
    new_days = _days_desc(state.through + timedelta(days=1), newest)
    gap_days = _days_desc(state.floor, state.empty_from - timedelta(days=1)) if state.floor else []
    scanned = 0
    oldest: date | None = None
    in_gap = False
    error: BaseException | None = None
    for phase_is_gap, days in ((False, new_days), (True, gap_days)):
        for day in days:
            if scanned >= max_days or (known_latest is not None and day <= known_latest):
                break
            try:
                items = fetch_day(day)
            except Exception as exc:  # handed back so progress so far is kept
                error = exc
                break
            scanned += 1
            if items:
                first = items[0] if isinstance(items[0], dict) else {}
                found = ScanState(
                    through=max(newest, state.through),
                    empty_from=day + timedelta(days=1),
                    floor=None,
                    latest=day,
                    title=_str_or_none(first.get("title")),
                    msgid=_str_or_none(first.get("msgid")),
                    url=_str_or_none(first.get("content_url") or first.get("url")),
                )
                return ScanRun(found, scanned, None)
            oldest, in_gap = day, phase_is_gap
        else:
            continue
        break
    return ScanRun(
        _after_empty_walk(state, newest, new_days, gap_days, oldest, in_gap), scanned, error
    )


def _after_empty_walk(
    state: ScanState,
    newest: date,
    new_days: list[date],
    gap_days: list[date],
    oldest: date | None,
    in_gap: bool,
) -> ScanState:
    """The state after a walk that found nothing, down to `oldest` (None: nothing scanned)."""
    new_done = not new_days or (oldest is not None and (in_gap or oldest == new_days[-1]))
    if not new_done:
        if oldest is None:
            return state  # not a single day scanned: nothing learned
        # New days cut short: [oldest, newest] is empty, everything older is unknown
        # again. The gap restarts at the old floor (or just after `through`).
        restart = state.floor if state.floor else state.through + timedelta(days=1)
        return replace(state, through=newest, empty_from=oldest, floor=restart)
    through = max(newest, state.through)
    if in_gap and oldest is not None:
        floor = None if oldest == gap_days[-1] else state.floor
        return replace(state, through=through, empty_from=oldest, floor=floor)
    # New days all empty; the gap (if any) was not started.
    return replace(state, through=through, floor=state.floor if gap_days else None)


def _str_or_none(value: Any) -> str | None:
    return None if value is None else str(value)
