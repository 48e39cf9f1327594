"""Regressions found by the reliability suites: each was a traceback or a wrong verdict."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from datetime import UTC, datetime

import httpx
import pytest

from adapters.base import AdapterContext, CheckTarget
from adapters.weibo import WeiboAdapter
from monitor.models import Outcome, Platform
from monitor.settings import Settings

ROOT = "/work/main"


def _run(tmp_path, args, env=None):
    clean = {k: v for k, v in os.environ.items() if not k.startswith("MONITOR_")}
    return subprocess.run(
        [sys.executable, "-m", "monitor", *args],
        env={**clean, "MONITOR_DB": str(tmp_path / "m.db"), **(env or {})},
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


# Bug 1: monitor/settings.py read_toml() (line 259-269) catches FileNotFoundError,
# OSError and TOMLDecodeError, not UnicodeDecodeError, which tomllib raises for a
# file that is not UTF-8 (e.g. saved as GBK by a Windows editor).
def test_bug1_a_config_file_that_is_not_utf8_is_a_clear_error(tmp_path):
    (tmp_path / "bad.toml").write_bytes("timezone = '上海'\n".encode("gbk"))
    proc = _run(tmp_path, ["--config", "bad.toml", "status"])
    assert "Traceback" not in proc.stderr, proc.stderr
    assert proc.returncode == 2
    proc = _run(tmp_path, ["config", "check", "bad.toml"])
    assert "Traceback" not in proc.stderr and proc.returncode == 2


# Bug 2: monitor/settings.py load_settings() (line 278-285) catches only pydantic's
# ValidationError; an env var for a list/dict field whose value is not JSON makes
# pydantic-settings raise SettingsError ("error parsing value for field ...").
@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("MONITOR_SCHEDULE__RETRY_DELAYS_MIN", "5,30,120"),
        ("MONITOR_NOTIFY__OPERATORS", "mailto://ops@example.org"),
        ("MONITOR_REPORTS__FORMATS", "xlsx"),
    ],
)
def test_bug2_a_non_json_env_value_for_a_list_setting_is_a_clear_error(tmp_path, name, value):
    proc = _run(tmp_path, ["status"], env={name: value})
    assert "Traceback" not in proc.stderr, proc.stderr[-600:]
    assert proc.returncode == 2


# Bug 3: adapters/weibo.py _Check.run() line 101 sends any profile without ok == 1
# to profile_refusal(), which (line 222-225) records NOT_FOUND *evidence* when the
# msg is not recognised: an empty object, a string "1", null ... from a broken proxy
# or a changed API becomes "account gone" -> verdict cancelled (已注销) with the
# roster problem "account missing on the platform while the roster says operating".
NOW = datetime(2024, 12, 6, 7, 30, tzinfo=UTC)


class _NoSecrets:
    def get(self, name):
        return None


def _check(profile: bytes):
    def handler(request):
        return httpx.Response(200, content=profile)

    async def go():
        async with httpx.AsyncClient(transport=httpx.MockTransport(handler)) as client:
            ctx = AdapterContext(
                http=client, settings=Settings(), secrets=_NoSecrets(), clock=lambda: NOW
            )
            target = CheckTarget(id=1, platform=Platform.WEIBO, account_id="5550001111", name="x")
            return (await WeiboAdapter().check(target, ctx)).observation

    return asyncio.run(go())


@pytest.mark.parametrize(
    "profile",
    [
        b"{}",
        b'{"foo": 1}',
        b'{"ok": null}',
        b'{"ok": "1", "data": {"userInfo": {"screen_name": "x", "statuses_count": 3}}}',
        b'{"ok": [], "data": {"userInfo": {"screen_name": "x"}}}',
    ],
)
def test_bug3_a_malformed_weibo_profile_is_never_evidence_that_the_account_is_gone(profile):
    obs = _check(profile)
    assert not obs.outcome.is_evidence, (obs.outcome, obs.detail)


def test_a_datacube_day_of_garbage_items_is_a_parse_error_not_a_post():
    from adapters.wechat import BadBody, _Datacube

    class _Cube:
        def _post(self, endpoint, data):
            return {"list": ["x"]}

    class _FakeClient:
        datacube = _Cube()

    with pytest.raises(BadBody, match="not an article"):
        _Datacube(_FakeClient()).day(datetime(2024, 12, 5).date())  # type: ignore[arg-type]


def _weibo(profile: dict, timeline: dict):
    import json as _json

    def handler(request):
        body = timeline if "containerid" in str(request.url) else profile
        return httpx.Response(200, content=_json.dumps(body).encode())

    async def go():
        async with httpx.AsyncClient(transport=httpx.MockTransport(handler)) as client:
            ctx = AdapterContext(
                http=client, settings=Settings(), secrets=_NoSecrets(), clock=lambda: NOW
            )
            target = CheckTarget(id=1, platform=Platform.WEIBO, account_id="5550001111", name="x")
            return (await WeiboAdapter().check(target, ctx)).observation

    return asyncio.run(go())


WEIBO_TAB = {"tabsInfo": {"tabs": [{"tab_type": "weibo", "containerid": "1076035550001111"}]}}


@pytest.mark.parametrize(
    ("profile", "timeline"),
    [
        # ok:1 with no posts and no statuses_count: not the platform's 这里还没有内容.
        (
            {"ok": 1, "data": {"userInfo": {"screen_name": "x"}, **WEIBO_TAB}},
            {"ok": 1, "data": {"cards": []}},
        ),
        # No weibo tab: the container is guessed, so an empty answer proves nothing.
        (
            {"ok": 1, "data": {"userInfo": {"screen_name": "x"}}},
            {"ok": 0, "msg": "这里还没有内容", "data": {"cards": []}},
        ),
        (
            {"ok": 1, "data": {"userInfo": {"screen_name": "x", "statuses_count": 0}}},
            {"ok": 1, "data": {"cards": []}},
        ),
    ],
)
def test_an_empty_timeline_is_never_no_content_without_the_platform_saying_so(profile, timeline):
    obs = _weibo(profile, timeline)
    assert obs.outcome is not Outcome.NO_CONTENT, obs.detail
    assert not obs.outcome.is_evidence


def test_the_platforms_own_no_content_answer_with_a_zero_count_is_no_content():
    profile = {
        "ok": 1,
        "data": {"userInfo": {"screen_name": "x", "statuses_count": 0}, **WEIBO_TAB},
    }
    obs = _weibo(profile, {"ok": 0, "msg": "这里还没有内容", "data": {"cards": []}})
    assert obs.outcome is Outcome.NO_CONTENT


@pytest.mark.parametrize(
    "args",
    [
        ["simulate", "--generate", "5", "--port", "70000"],
        ["simulate", "--generate", "5", "--no-serve", "--scenario-out", "."],
        ["simulate", "--generate", "5", "--no-serve", "--roster-out", "/proc/nope/x.csv"],
        ["demo", "--dir", "/proc/x"],
    ],
)
def test_simulate_and_demo_user_errors_are_one_line_not_tracebacks(tmp_path, args):
    proc = _run(tmp_path, args)
    assert proc.returncode in (1, 2), proc.stderr
    assert "Traceback" not in proc.stderr
    assert proc.stderr.strip().count("\n") == 0, proc.stderr
