"""Every setting is validated by its pydantic model, so what `config check` accepts works.

The family: check intervals that are zero, negative, not numbers (nan, inf) or
absurdly long, keyed by an unknown platform or by something that names no
account; retry ladders with such delays; times of day that are no time of day
(25:99, 99:99, xx, 24:00, full-width digits) for every HH:MM key; numbers that
are not numbers anywhere. `config check` and every command refuse the same
input: exit 2, one line per problem naming the key, no traceback, before any
daemon starts. And the ends of what is accepted still work in the daemon's
timing rules (no overflow).
"""

from __future__ import annotations

import math
import random
from datetime import UTC, datetime, timedelta

import pytest
from pydantic import BaseModel, ValidationError
from test_timing import view

from adapters import manifests
from monitor.checks.backoff import pause_for as source_pause
from monitor.checks.timing import next_check_at
from monitor.cli import main
from monitor.models import Outcome
from monitor.settings import HOURS_IN_A_YEAR, Settings, SourceLimit, SourceLimits


@pytest.fixture
def db(tmp_path, monkeypatch):
    path = tmp_path / "m.db"
    monkeypatch.setenv("MONITOR_DB", str(path))
    return path


def refused_everywhere(capsys, tmp_path, db, toml: str, key: str) -> None:
    """`config check`, `status` and `run --once` all refuse the file naming `key`."""
    cfg = tmp_path / "bad.toml"
    cfg.write_text(toml, encoding="utf-8")
    code = main(["config", "check", str(cfg)])
    _out, err = capsys.readouterr()
    assert code == 2 and f": {key}" in err and "Traceback" not in err, err
    for args in (["status"], ["run", "--once"]):
        code = main(["--config", str(cfg), *args])
        _out, err = capsys.readouterr()
        assert code == 2, (args, err)
        assert err.startswith("monitor: config error:") and err.count("\n") == 1, err
        assert key in err and "Traceback" not in err
    assert not db.exists(), "nothing runs before the configuration is valid"


TIME_KEYS = [("schedule", "reclassify_at"), ("reports", "monthly_at"), ("notify", "digest_at")]
BAD_TIMES = ["25:99", "99:99", "xx", "24:00", "9:60", "", "-1:00", "12", "12:05:00", "１２:００"]


@pytest.mark.parametrize("value", BAD_TIMES)
@pytest.mark.parametrize(("section", "name"), TIME_KEYS)
def test_a_time_of_day_that_is_no_time_is_refused_for_every_key(
    capsys, tmp_path, db, section, name, value
):
    toml = f'[{section}]\n{name} = "{value}"\n'
    refused_everywhere(capsys, tmp_path, db, toml, f"{section}.{name}")


@pytest.mark.parametrize("value", ["0:00", "00:00", "9:05", "23:59", " 08:30 "])
@pytest.mark.parametrize(("section", "name"), TIME_KEYS)
def test_every_real_time_of_day_is_accepted(section, name, value):
    settings = Settings(**{section: {name: value}})
    assert getattr(getattr(settings, section), name) == value.strip()


INTERVAL_CASES = [
    ("[schedule.platform_interval_h]\nweibo = 0\n", "schedule.platform_interval_h.weibo"),
    ("[schedule.platform_interval_h]\nweibo = -1\n", "schedule.platform_interval_h.weibo"),
    ("[schedule.platform_interval_h]\nweibo = 1e9\n", "schedule.platform_interval_h.weibo"),
    ("[schedule.platform_interval_h]\nweibo = inf\n", "schedule.platform_interval_h.weibo"),
    ("[schedule.platform_interval_h]\nweibo = nan\n", "schedule.platform_interval_h.weibo"),
    ("[schedule.platform_interval_h]\nwiebo = 12\n", "schedule.platform_interval_h.wiebo"),
    ('[schedule.account_interval_h]\n"12" = 0\n', "schedule.account_interval_h.12"),
    ('[schedule.account_interval_h]\n"12" = -3\n', "schedule.account_interval_h.12"),
    ('[schedule.account_interval_h]\n"x:1" = 1\n', "schedule.account_interval_h.x:1"),
    ('[schedule.account_interval_h]\n"abc" = 1\n', "schedule.account_interval_h.abc"),
    ('[schedule.account_interval_h]\n"weibo:" = 1\n', "schedule.account_interval_h.weibo:"),
    ('[schedule.account_interval_h]\n"0" = 1\n', "schedule.account_interval_h.0"),
    (f'[schedule.account_interval_h]\n"{2**64}" = 1\n', f"schedule.account_interval_h.{2**64}"),
    ("[schedule]\ninterval_h = 0\n", "schedule.interval_h"),
    ("[schedule]\ninterval_h = 9000\n", "schedule.interval_h"),
    ("[schedule]\ntick_s = 0\n", "schedule.tick_s"),
    ("[schedule]\ntick_s = inf\n", "schedule.tick_s"),
    ("[schedule]\nretry_delays_min = [-5]\n", "schedule.retry_delays_min.0"),
    ("[schedule]\nretry_delays_min = [5, 0]\n", "schedule.retry_delays_min.1"),
    ("[schedule]\nretry_delays_min = [1e9]\n", "schedule.retry_delays_min.0"),
    ("[schedule]\nretry_delays_min = [nan]\n", "schedule.retry_delays_min.0"),
    ("[schedule]\njitter_s = -1\n", "schedule.jitter_s"),
    ("[schedule]\nsource_backoff_max_s = 1e308\n", "schedule.source_backoff_max_s"),
    ("[schedule]\nsource_backoff_base_s = 0\n", "schedule.source_backoff_base_s"),
    ("[schedule]\nshutdown_grace_s = inf\n", "schedule.shutdown_grace_s"),
    ("[notify]\nretry_delays_min = [-1]\n", "notify.retry_delays_min.0"),
    ("[notify]\nmax_attempts = 0\n", "notify.max_attempts"),
    ("[alerts]\ncheck_failing_hours = 0\n", "alerts.check_failing_hours"),
    ("[http]\ntimeout_s = nan\n", "http.timeout_s"),
    ("[limits.feed]\nrate_per_s = 1e-9\n", "limits.feed.rate_per_s"),
    ("[weibo]\nprofile_every_days = 100000\n", "weibo.profile_every_days"),
]


@pytest.mark.parametrize(("toml", "key"), INTERVAL_CASES, ids=[c[1] for c in INTERVAL_CASES])
def test_a_number_the_daemon_cannot_live_with_is_refused_naming_its_key(
    capsys, tmp_path, db, toml, key
):
    refused_everywhere(capsys, tmp_path, db, toml, key)


def float_fields(model: type[BaseModel], prefix: str = "") -> list[tuple[str, dict]]:
    """(dotted key, the nested dict that sets it) of every float field under `model`."""
    found = []
    if model is SourceLimits:  # one `limits.<source>` per adapter manifest
        for source in manifests():
            for key, nested in float_fields(SourceLimit, f"{prefix}{source}."):
                found.append((key, {source: nested}))
    for name, info in model.model_fields.items():
        annotation = info.annotation
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            for key, nested in float_fields(annotation, f"{prefix}{name}."):
                found.append((key, {name: nested}))
        elif annotation is float or "float" in str(annotation):
            found.append((f"{prefix}{name}", {name: math.nan}))
    return found


FLOATS = float_fields(Settings)


def test_every_section_has_float_settings_to_check():
    assert len(FLOATS) >= 15, [k for k, _ in FLOATS]


@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf])
@pytest.mark.parametrize(("key", "shape"), FLOATS, ids=[k for k, _ in FLOATS])
def test_no_float_setting_accepts_nan_or_infinity(key, shape, bad):
    def with_value(node: dict) -> dict:
        out = {}
        for name, value in node.items():
            out[name] = with_value(value) if isinstance(value, dict) else bad
        return out

    values = with_value(shape)
    field = key.rsplit(".", 1)[-1]
    if "interval_h" in field and field != "interval_h":  # a mapping of hours
        values = {"schedule": {field: {"weibo" if "platform" in field else "12": bad}}}
    if "retry_delays_min" in field:
        section = key.split(".")[0]
        values = {section: {field: [bad]}}
    with pytest.raises(ValidationError) as caught:
        Settings(**values)
    assert key in ".".join(str(p) for p in caught.value.errors()[0]["loc"])


def test_the_ends_of_what_is_accepted_still_work_in_the_daemons_timing_rules():
    week = 7 * 24 * 60
    settings = Settings(
        schedule={
            "interval_h": HOURS_IN_A_YEAR,
            "platform_interval_h": {"weibo": HOURS_IN_A_YEAR},
            "account_interval_h": {"7": HOURS_IN_A_YEAR, "weibo:123": 0.001},
            "retry_delays_min": [week] * 3,
            "jitter_s": 7 * 86400,
            "source_backoff_base_s": 86400,
            "source_backoff_max_s": 7 * 86400,
        }
    )
    account = view(7)
    now = datetime(2999, 1, 1, tzinfo=UTC)
    rng = random.Random(0)
    for outcome, failures in ((Outcome.OK, 0), (Outcome.TRANSIENT, 1), (Outcome.TRANSIENT, 9)):
        after = next_check_at(settings, account, outcome, failures, 10**9, now, rng)
        assert now < after <= now + timedelta(days=366 + 8)  # a year and a week of jitter
    assert source_pause(settings, 10_000, 1e300) == timedelta(days=7)
