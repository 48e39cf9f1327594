"""Weibo `created_at` forms: a table of every form, the year rule, and round trips."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from adapters.weibo_dates import SHANGHAI, parse_weibo_time

# 2024-12-06 15:30 in Shanghai.
NOW = datetime(2024, 12, 6, 7, 30, tzinfo=UTC)


def sh(*args: int) -> datetime:
    return datetime(*args, tzinfo=SHANGHAI)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "Sun Dec 01 09:21:00 +0800 2024",
            datetime(2024, 12, 1, 9, 21, tzinfo=timezone(timedelta(hours=8))),
        ),
        ("Tue Jun 18 23:59:59 +0000 2019", datetime(2019, 6, 18, 23, 59, 59, tzinfo=UTC)),
        ("刚刚", sh(2024, 12, 6, 15, 30)),
        ("5分钟前", sh(2024, 12, 6, 15, 25)),
        ("30秒前", sh(2024, 12, 6, 15, 29, 30)),
        ("3小时前", sh(2024, 12, 6, 12, 30)),
        ("16小时前", sh(2024, 12, 5, 23, 30)),
        ("昨天 21:40", sh(2024, 12, 5, 21, 40)),
        ("昨天 00:05", sh(2024, 12, 5, 0, 5)),
        ("今天 08:00", sh(2024, 12, 6, 8, 0)),
        ("11-28", sh(2024, 11, 28)),
        ("12-06", sh(2024, 12, 6)),
        ("12-07", sh(2023, 12, 7)),  # tomorrow's date can only be last year's
        ("06-14 10:30", sh(2024, 6, 14, 10, 30)),
        ("2019-06-14", sh(2019, 6, 14)),
        ("2019-6-4", sh(2019, 6, 4)),
        (" 2023-01-02 ", sh(2023, 1, 2)),
    ],
)
def test_it_reads_every_known_form(text: str, expected: datetime) -> None:
    assert parse_weibo_time(text, NOW) == expected


@pytest.mark.parametrize(
    "text", ["", "大约三天前", "Sun Foo 01 09:21:00 +0800 2024", "13-01", "2019-02-30", "昨天"]
)
def test_it_rejects_unknown_or_impossible_forms(text: str) -> None:
    with pytest.raises(ValueError):
        parse_weibo_time(text, NOW)


def test_it_requires_an_aware_now() -> None:
    with pytest.raises(ValueError):
        parse_weibo_time("刚刚", datetime(2024, 1, 1))


def test_month_day_year_follows_shanghai_not_utc() -> None:
    # 2025-01-01 00:30 in Shanghai is still 2024-12-31 in UTC.
    now = datetime(2024, 12, 31, 16, 30, tzinfo=UTC)
    assert parse_weibo_time("01-01", now) == sh(2025, 1, 1)
    assert parse_weibo_time("昨天 23:00", now) == sh(2024, 12, 31, 23, 0)


def test_february_29_in_a_non_leap_year_means_last_leap_year() -> None:
    now = datetime(2025, 3, 1, 4, tzinfo=UTC)
    assert parse_weibo_time("02-29", now) == sh(2024, 2, 29)


moments = st.datetimes(
    min_value=datetime(2010, 1, 1), max_value=datetime(2035, 12, 31), timezones=st.just(SHANGHAI)
)


@given(moments)
def test_absolute_form_round_trips(moment: datetime) -> None:
    moment = moment.replace(microsecond=0)
    text = moment.strftime("%a %b %d %H:%M:%S +0800 %Y")
    assert parse_weibo_time(text, NOW) == moment


@given(moments, st.integers(min_value=0, max_value=364))
def test_month_day_form_round_trips_within_the_past_year(now: datetime, days_back: int) -> None:
    day = now.date() - timedelta(days=days_back)
    got = parse_weibo_time(day.strftime("%m-%d"), now)
    assert got.date() == day


@given(moments, st.integers(min_value=0, max_value=59), st.integers(min_value=0, max_value=23))
def test_relative_forms_never_move_forward(now: datetime, minutes: int, hours: int) -> None:
    assert parse_weibo_time(f"{minutes}分钟前", now) == now - timedelta(minutes=minutes)
    assert parse_weibo_time(f"{hours}小时前", now) == now - timedelta(hours=hours)
    assert parse_weibo_time("昨天 12:00", now).date() == now.date() - timedelta(days=1)


@given(st.dates(min_value=date(2009, 8, 1), max_value=date(2035, 1, 1)))
def test_full_date_form_round_trips(day: date) -> None:
    assert parse_weibo_time(day.isoformat(), NOW) == sh(day.year, day.month, day.day)
