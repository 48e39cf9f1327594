"""Reliability: dates, durations and ids at the ends of their ranges, at every edge.

The family: dates at the calendar's ends (0001-01-01, 9999-12-31, with offsets
that push them over), months such as 0001-01, windows such as 9999999999d or
99999y, integers beyond 64 bits where an id goes, and numbers that are not
numbers (nan, inf). Through the CLI, the API, the dashboard and the environment:
a 422 or exit 2 with a message naming the field, never a 5xx or a traceback; an
id that names nothing is exit 1 or 404, never a silent success. Hand-made cases
pin the boundaries; hypothesis properties throw arbitrary values at the same
parsers and count what they sent (printed with `-s`, quoted in RELIABILITY.md).

Reproduce: .venv/bin/python -m pytest tests/test_reliability_edges.py -q -s
"""

from __future__ import annotations

import json
import socket
from collections import Counter
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path
from urllib.parse import quote

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st
from test_api_support import City, build_city

from monitor.api import create_app
from monitor.cli import main
from monitor.dates import today
from monitor.models import MAX_ID
from monitor.settings import Settings

TOKEN = "edge-token-5e1f"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
SENT: Counter[str] = Counter()
FUZZ = hsettings(
    max_examples=120,
    deadline=None,
    database=None,
    derandomize=True,
    suppress_health_check=list(HealthCheck),
)


@pytest.fixture(scope="module", autouse=True)
def _no_monitor_env(no_monitor_env: None) -> None:
    pass


@pytest.fixture(scope="module", autouse=True)
def _report_counts() -> Iterator[None]:
    yield
    detail = ", ".join(f"{k} {v}" for k, v in sorted(SENT.items()))
    print(f"\nedges: {sum(SENT.values())} inputs, no 5xx, no traceback ({detail})")


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def city(tmp_path_factory) -> City:
    return build_city(tmp_path_factory.mktemp("edges"))


@pytest.fixture(scope="module")
def client(city) -> TestClient:
    nowhere = f"http://127.0.0.1:{closed_port()}"
    settings = Settings(
        api={"token": TOKEN},
        weibo={"base_url": nowhere},
        wechat={"api_base_url": nowhere},
        http={"timeout_s": 2},
        network={"allow_private_addresses": True},
    )
    app = create_app(settings, city.db, warm=False)
    return TestClient(app, raise_server_exceptions=False)


@pytest.fixture
def cli_db(city, monkeypatch) -> Path:
    # Sources point at a closed loopback port: a check fails at once, never leaves the machine.
    nowhere = f"http://127.0.0.1:{closed_port()}"
    monkeypatch.setenv("MONITOR_DB", str(city.db))
    monkeypatch.setenv("MONITOR_WEIBO__BASE_URL", nowhere)
    monkeypatch.setenv("MONITOR_WECHAT__API_BASE_URL", nowhere)
    monkeypatch.setenv("MONITOR_NETWORK__ALLOW_PRIVATE_ADDRESSES", "true")
    return city.db


def cli(capsys, *args: str) -> tuple[int, str, str]:
    SENT["cli"] += 1
    code = main(list(args))
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err, (args, err[-2000:])
    assert code in (0, 1, 2), (args, code, err)
    if code == 2:
        assert err.startswith("monitor") and err.count("\n") == 1, (args, err)
    return code, out, err


def get(client: TestClient, url: str, **kwargs) -> int:
    SENT["api"] += 1
    response = client.get(url, headers=AUTH, **kwargs)
    assert response.status_code < 500, (url, response.status_code, response.text[:500])
    return response.status_code


def post(client: TestClient, url: str, body: object) -> int:
    SENT["api"] += 1
    response = client.post(url, headers=AUTH, json=body)
    assert response.status_code < 500, (url, body, response.status_code, response.text[:500])
    return response.status_code


def tomorrow() -> date:
    return today(Settings().tz) + timedelta(days=1)


# --- the boundaries, by hand --------------------------------------------------------------

OUT_OF_RANGE_DAYS = ["0001-01-01", "9999-12-31", "1999-12-31", "3000-01-01", "0001.1.1"]
IN_RANGE_DAYS = ["2000-01-01", "2999-12-31", "2020.2.9"]
OUT_OF_RANGE_MONTHS = ["0001-01", "9999-12", "1999-12", "3000-01"]
TOO_LONG = ["9999999999d", "99999y", "1201mo", "5218w", "36526d", "1" * 5000 + "d", "100y1mo"]
BIG_IDS = [str(MAX_ID + 1), str(2**64), "9" * 40]


@pytest.mark.parametrize("day", OUT_OF_RANGE_DAYS)
def test_an_as_of_date_out_of_range_is_exit_2_and_422(cli_db, capsys, client, day):
    code, _, err = cli(capsys, "status", "--as-of", day)
    assert code == 2 and "--as-of" in err and "out of range" in err
    for url in (f"/api/accounts?as_of={day}", f"/api/units?as_of={day}", f"/?as_of={day}"):
        assert get(client, url) == 422


@pytest.mark.parametrize("day", IN_RANGE_DAYS)
def test_an_as_of_date_in_range_is_answered(cli_db, capsys, client, day):
    assert cli(capsys, "status", "--as-of", day)[0] == 0
    assert get(client, f"/api/accounts?as_of={day}") == 200
    assert get(client, f"/problems?as_of={day}") == 200


@pytest.mark.parametrize("month", OUT_OF_RANGE_MONTHS)
def test_a_month_out_of_range_is_exit_2_and_422(cli_db, capsys, client, month):
    code, _, err = cli(capsys, "report", "--month", month)
    assert code == 2 and "--month" in err and month in err
    assert get(client, f"/api/reports/{month}") == 422


@pytest.mark.parametrize("window", TOO_LONG)
@pytest.mark.parametrize("flag", ["--zombie-after", "--suspended-after", "--warn-before"])
def test_a_window_too_long_is_exit_2_naming_the_flag(cli_db, capsys, window, flag):
    code, _, err = cli(capsys, "status", flag, window)
    assert code == 2 and flag in err and "too long" in err and len(err) < 300


@pytest.mark.parametrize("window", TOO_LONG)
def test_a_window_too_long_in_the_environment_names_the_key(cli_db, capsys, monkeypatch, window):
    monkeypatch.setenv("MONITOR_POLICY__EVIDENCE_MAX_AGE", window)
    code, _, err = cli(capsys, "status")
    assert code == 2 and "policy.evidence_max_age" in err


def test_the_longest_windows_still_judge_at_both_ends_of_the_range(cli_db, capsys):
    for day in ("2000-01-01", "2999-12-31"):
        code, out, _ = cli(
            capsys, "status", "--json", "--as-of", day, "--zombie-after", "100y36525d",
            "--suspended-after", "100y36525d", "--warn-before", "100y36525d",
            "--evidence-max-age", "100y36525d",
        )  # fmt: skip
        assert code == 0 and json.loads(out)


@pytest.mark.parametrize("big", BIG_IDS)
def test_an_id_beyond_64_bits_is_refused_or_names_nothing(cli_db, capsys, client, big):
    code, _, err = cli(capsys, "alerts", "ack", big)
    assert code == 2 and "ID" in err
    for args in (["check", big], ["observe", big, "--no-content"], ["status", big]):
        code, _, err = cli(capsys, *args)
        assert code == 1 and "no account matches" in err
    assert get(client, f"/api/accounts/{big}") == 422
    assert get(client, f"/accounts/{big}") == 422
    assert post(client, "/api/observations", {"account": big, "no_content": True}) == 404
    assert post(client, "/api/observations", {"account": int(big), "no_content": True}) == 404


@pytest.mark.parametrize("small", ["0", "-1", str(-(2**64))])
def test_a_zero_or_negative_alert_id_is_exit_2(cli_db, capsys, small):
    assert cli(capsys, "alerts", "ack", "--", small)[0] == 2


def test_an_id_in_range_that_names_nothing_is_exit_1_never_a_silent_success(cli_db, capsys, client):
    code, _, err = cli(capsys, "alerts", "ack", str(MAX_ID))
    assert code == 1 and "no alert" in err
    for args in (["check", "999999"], ["observe", "999999", "--no-content"]):
        assert cli(capsys, *args)[0] == 1
    assert get(client, f"/api/accounts/{MAX_ID}") == 404
    assert get(client, "/api/units/999999") == 404


@pytest.mark.parametrize("flag", ["--latest-post", "--at"])
def test_a_post_or_observation_date_must_lie_between_2000_and_tomorrow(
    cli_db, capsys, client, city, flag
):
    account = str(min(city.ids.values()))
    late = (tomorrow() + timedelta(days=1)).isoformat()
    for bad in ("1999-12-31", late, "0001-01-01T00:00+14:00", "9999-12-31T23:59-14:00"):
        args = ["observe", account, flag, bad] + (["--no-content"] if flag == "--at" else [])
        code, _, err = cli(capsys, *args)
        assert code == 2 and flag in err, (bad, err)
        field = "latest_post" if flag == "--latest-post" else "at"
        body = {"account": account, field: bad}
        if field == "at":
            body["no_content"] = True
        assert post(client, "/api/observations", body) == 422
    # Tomorrow is the last day accepted for a post (clock skew): stored at the observation time.
    code, _, err = cli(capsys, "observe", account, "--latest-post", tomorrow().isoformat())
    assert code == 0, err


@pytest.mark.parametrize(
    "args",
    [
        ["healthcheck", "--max-age-min", "nan"],
        ["healthcheck", "--max-age-min", "-5"],
        ["simulate", "--generate", str(2**64), "--no-serve"],
        ["simulate", "--generate", "5", "--no-serve", "--latency-ms", "inf"],
        ["simulate", "--generate", "5", "--no-serve", "--rate-limit", "-1"],
        ["run", "--serve", "--port", "99999"],
        ["serve", "--port", "-1"],
        ["demo", "--accounts", str(2**64)],
    ],
)
def test_numbers_out_of_range_on_other_commands_are_exit_2(cli_db, capsys, args):
    assert cli(capsys, *args)[0] == 2


# --- properties: arbitrary values at the same parsers ----------------------------------------

# A date written as a user would, anywhere in (and around) the calendar.
DAYS = st.dates(min_value=date(1, 1, 1), max_value=date(9999, 12, 31))
DATE_TEXT = st.one_of(
    DAYS.map(date.isoformat),
    DAYS.map(lambda d: f"{d.year}.{d.month}.{d.day}"),
    st.builds(
        lambda d, h, off: f"{d.isoformat()}T{h:02d}:00{off}",
        DAYS,
        st.integers(0, 23),
        st.sampled_from(["", "Z", "+14:00", "-12:00", "+08:00"]),
    ),
    st.from_regex(r"-?[0-9]{1,6}-[0-9]{1,3}-[0-9]{1,3}", fullmatch=True),
    st.text(max_size=30),
)
MONTH_TEXT = st.one_of(
    st.builds(lambda y, m: f"{y:04d}-{m:02d}", st.integers(0, 99999), st.integers(0, 99)),
    st.text(max_size=12),
)
DURATION_TEXT = st.one_of(
    st.builds(
        lambda n, unit: f"{n}{unit}",
        st.integers(min_value=-(10**30), max_value=10**30),
        st.sampled_from(["d", "w", "mo", "y", "D", "MO", "", "h"]),
    ),
    st.text(max_size=20),
)
# Small ids name the city's accounts and units (the happy paths run too).
BIG_INT = st.one_of(
    st.integers(), st.integers(min_value=2**62, max_value=2**80), st.integers(0, 12)
)
NUMBER_TEXT = st.one_of(
    BIG_INT.map(str),
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.sampled_from(["nan", "inf", "-inf", "1e309", "0", "-0.0"]),
)


@FUZZ
@given(day=DATE_TEXT, month=MONTH_TEXT, ident=BIG_INT, number=BIG_INT)
def test_the_api_never_answers_5xx_for_any_date_month_or_integer(client, day, month, ident, number):
    get(client, "/api/accounts", params={"as_of": day, "limit": number, "offset": number})
    get(client, f"/api/accounts/{ident}", params={"as_of": day, "observations": number})
    get(client, f"/api/units/{ident}", params={"as_of": day})
    get(client, f"/api/reports/{quote(month, safe='')}", params={"as_of": day, "format": "json"})
    get(client, "/problems", params={"as_of": day, "page": number})
    get(client, f"/accounts/{ident}", params={"as_of": day})
    get(client, "/api/alerts", params={"limit": number, "offset": number})
    post(client, "/api/observations", {"account": ident, "latest_post": day, "at": day})
    post(client, "/api/observations", {"account": str(ident), "no_content": True, "at": day})


@FUZZ
@given(day=DATE_TEXT, month=MONTH_TEXT, window=DURATION_TEXT, ident=BIG_INT)
def test_the_cli_never_gives_a_traceback_for_any_date_duration_or_integer(
    cli_db, capsys, day, month, window, ident
):
    cli(capsys, "status", "--as-of", day, "--zombie-after", window)
    cli(capsys, "report", "--month", month, "--format", "json", "--warn-before", window)
    cli(capsys, "alerts", "ack", "--", str(ident))
    cli(capsys, "observe", str(ident), "--latest-post", day, "--at", day)


@FUZZ
@given(
    window=DURATION_TEXT,
    number=NUMBER_TEXT,
    at=st.one_of(st.text(max_size=8), st.from_regex(r"[0-9]{1,3}:[0-9]{1,3}", fullmatch=True)),
    key=st.sampled_from(
        [
            "SCHEDULE__INTERVAL_H",
            "SCHEDULE__TICK_S",
            "SCHEDULE__JITTER_S",
            "HTTP__TIMEOUT_S",
            "LIMITS__WEIBO__RATE_PER_S",
            "ALERTS__CHECK_FAILING_HOURS",
            "NOTIFY__MAX_ATTEMPTS",
            "WEIBO__MAX_PAGES",
            "API__PORT",
        ]
    ),
)
def test_settings_from_the_environment_are_valid_or_refused_in_one_line(
    cli_db, capsys, monkeypatch, window, number, at, key
):
    with monkeypatch.context() as env:
        env.setenv("MONITOR_POLICY__ZOMBIE_AFTER", window)
        env.setenv(f"MONITOR_{key}", number)
        env.setenv("MONITOR_SCHEDULE__RECLASSIFY_AT", at)
        env.setenv("MONITOR_SCHEDULE__RETRY_DELAYS_MIN", f"[{number}]")
        cli(capsys, "status", "--json", "--as-of", "2020-03-04")
