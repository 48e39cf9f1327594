"""Every message code is worded in Chinese and English; durations read 1 个月, 6 个月, 3 天."""

from __future__ import annotations

import json
import re
from datetime import UTC, date, datetime

import pytest
from zh_check import english_words

from monitor.classify import Windows, classify
from monitor.dates import zone
from monitor.messages import (
    LANGS,
    WORDINGS,
    duration_text,
    message,
    params_of,
    parts,
    policy_text,
    render,
)
from monitor.models import MessageCode, Observation, Outcome, Platform, RosterFacts, RosterStatus
from monitor.settings import Settings

# A nested message and a list of them, as check details carry (rendered in either language).
NESTED = {"code": MessageCode.NEVER_CHECKED.value, "params": {}}
# Sample parameters with no Latin letters, so any English left in a Chinese wording shows.
SAMPLES = {
    "day": "2026-11-01",
    "post": "2026-11-01",
    "since": "2026-06-01",
    "earliest": "2000-01-01",
    "latest": "2026-12-05",
    "limit": "2026-11-03",
    "window": "1mo",
    "warn": "3d",
    "verified": False,
    "verified_type": 3,
    "verified_reason": "示例市公安局官方微博",
    "screen_name": "石泉统计局",
    "error_type": "值错误",
    "error": "无法读取",
    # check details (adapters)
    "detail": NESTED,
    "body": "内部错误",
    "parts": [NESTED, "自由文本"],
    "what": NESTED,
    "status": 503,
    "seconds": "1.5",
    "reason": NESTED,
    "inner": NESTED,
    "addr": "一号地址",
    "host": "一号主机",
    "peer": "一号对端",
    "url": "一号网址",
    "scheme": "文件",
    "address": "二号地址",
    "path": "一号套接字",
    "hop": 2,
    "max": 5,
    "cap": 1000,
    "entries": 3,
    "dated": 2,
    "env": "一号变量",
    "endpoint": NESTED,
    "reach": "2025-11-01",
    "newest": "2025-12-01",
    "errcode": 40125,
    "errmsg": "无效",
    "refusal": NESTED,
    "ref_date": "2025-11-02",
    "scope": NESTED,
    "through": "2025-12-01",
    "floor": "2025-06-01",
    "until": "2025-10-31",
    "page": 2,
    "days": 30,
    "uid": "一号",
    "type": "列表",
    "text": "三天前",
    "hour": 25,
    "minute": 0,
    "second": 0,
    "month": "十三月",
    "wall": NESTED,
    "why": NESTED,
    "location": "一号网址",
    "msg": "用户不存在",
    "ok": 0,
    "container": "107603123",
    "statuses": 5,
    "posts": 3,
    "pinned": 1,
    "read_at": "2025-12-01 08:00",
    "retcode": 50000,
    "kind": "private",
    "problem": "invalid AppSecret",
    "via": "freepublish",
    # websites
    "checked": 12,
    "broken": 1,
}


def test_every_code_has_a_wording_and_every_wording_a_code():
    assert set(WORDINGS) == {c.value for c in MessageCode}


@pytest.mark.parametrize("code", list(MessageCode), ids=lambda c: c.value)
def test_every_code_renders_in_both_languages(code):
    wording = WORDINGS[code]
    missing = params_of(wording) - set(SAMPLES)
    assert not missing, f"add samples for {missing}"
    texts = {lang: render(code, SAMPLES, lang) for lang in LANGS}
    for lang, text in texts.items():
        template = getattr(wording, lang)
        assert text and "{" not in text, (lang, text)
        assert text.count("?") == template.count("?"), (lang, text)  # "?" marks a missing one
    assert re.search(r"[\u4e00-\u9fff]", texts["zh"]), texts["zh"]
    assert not english_words(texts["zh"]), f"English in the Chinese wording: {texts['zh']}"
    assert texts["zh"] != texts["en"]
    assert set(wording.durations) <= params_of(wording)
    assert set(wording.quoted) | set(wording.terms) <= params_of(wording)


TERMED = [(code, key, term) for code, w in WORDINGS.items() for key, terms in w.terms.items()
          for term in terms]  # fmt: skip


@pytest.mark.parametrize(("code", "key", "term"), TERMED, ids=lambda x: str(x))
def test_every_english_term_a_detail_may_carry_has_its_chinese(code, key, term):
    zh = render(code, {**SAMPLES, key: term}, "zh")
    assert term in render(code, {**SAMPLES, key: term}, "en")
    assert WORDINGS[code].terms[key][term] in zh and not english_words(zh), zh


def test_a_nested_message_and_a_list_of_them_are_worded_in_the_readers_language():
    params = {"detail": {"code": MessageCode.FEED_NO_URL.value, "params": {}}, "body": "x"}
    assert render(MessageCode.WITH_BODY, params, "en") == "no feed URL configured; body: 'x'"
    assert render(MessageCode.WITH_BODY, params, "zh") == "未配置订阅地址；响应内容：'x'"
    listed = {"parts": [NESTED, {"code": MessageCode.NO_SOURCE.value, "params": {}}]}
    assert render(MessageCode.PARTS, listed, "en") == "never checked; no source configured"
    assert render(MessageCode.PARTS, listed, "zh") == "尚未检测；未配置数据源（只能人工核查）"


def test_a_message_is_its_english_text_and_keeps_its_code_and_json_parameters():
    inner = message(MessageCode.WEIBO_TIMELINE_PAGE, page=2)
    detail = message(MessageCode.STEP_HTTP, what=inner, status=503)
    assert detail == "timeline page 2: HTTP 503" and isinstance(detail, str)
    assert detail.code == "check.step_http"
    assert detail.params == {
        "what": {"code": "weibo.timeline_page", "params": {"page": 2}},
        "status": 503,
    }
    assert json.loads(json.dumps(detail.params)) == detail.params
    assert render(detail.code, detail.params, "zh") == "时间线第 2 页：HTTP 503"
    assert parts(detail, "") is detail


@pytest.mark.parametrize(
    ("text", "zh", "en"),
    [
        ("1mo", "1 个月", "1mo"),
        ("6mo", "6 个月", "6mo"),
        ("3d", "3 天", "3d"),
        ("14d", "2 周", "2w"),
        ("1y", "1 年", "1y"),
        ("1mo15d", "1 个月 15 天", "1mo15d"),
        ("0d", "0 天", "0d"),
    ],
)
def test_durations_are_spelled_out_for_chinese_readers(text, zh, en):
    assert duration_text(text, "zh") == zh
    assert duration_text(text, "en") == en


def test_the_rule_line_has_no_config_shorthand_in_chinese():
    line = policy_text(
        {"zombie_after": "1mo", "suspended_after": "6mo", "warn_before": "3d",
         "evidence_max_age": "3d"},
        "Asia/Shanghai",
        "zh",
    )  # fmt: skip
    assert line.startswith("超过 1 个月未更新为僵尸，超过 6 个月为停运未注销，提前 3 天预警")
    assert "mo" not in line and "3d" not in line


def test_an_unknown_code_or_a_missing_parameter_never_breaks_a_page():
    assert render("adapter.someday", {"x": 1}, "zh", "2 posts read") == "2 posts read"
    assert render(None, None, "zh", "free text") == "free text"
    assert render(MessageCode.EVIDENCE_STALE, {}, "zh") == "? 以来没有成功的检测"


def test_the_settings_default_policy_reads_in_chinese():
    line = policy_text(
        {k: str(v) for k, v in Settings().policy.model_dump().items()}, "Asia/Shanghai", "zh"
    )
    assert "个月" in line and "天" in line


def _verdict(status=RosterStatus.OPERATING, **obs):
    seen = datetime(2020, 3, 4, 2, tzinfo=UTC)
    evidence = Observation(account=1, observed_at=seen, source="weibo", **obs)
    return classify(
        RosterFacts(Platform.WEIBO, status),
        evidence,
        Windows(),
        date(2020, 3, 4),
        zone("Asia/Shanghai"),
        last_checked_at=seen,
    )


def test_a_verdict_keeps_its_english_reason_and_carries_the_code_and_parameters():
    v = _verdict(outcome=Outcome.OK, latest_post_at=datetime(2020, 1, 10, 4, tzinfo=UTC))
    assert v.reason == "last post 2020-01-10, before 2020-02-04"
    assert v.reason_code == "verdict.zombie.last_post"
    assert v.reason_params == {"post": "2020-01-10", "limit": "2020-02-04", "window": "1mo"}
    assert render(v.reason_code, v.reason_params, "zh") == (
        "最后发布于 2020-01-10，早于 2020-02-04（超过 1 个月未更新）"
    )
    warning = _verdict(outcome=Outcome.OK, latest_post_at=datetime(2020, 2, 5, 4, tzinfo=UTC))
    assert warning.reason == "last post 2020-02-05; within 3d of the zombie window"
    assert render(warning.reason_code, warning.reason_params, "zh") == (
        "最后发布于 2020-02-05，距僵尸账号判定不足 3 天"
    )
    missing = _verdict(outcome=Outcome.NOT_FOUND)
    assert missing.roster_problem_code == "roster.missing_on_platform"
    assert missing.roster_problem == (
        "account missing on the platform while the roster says operating"
    )
