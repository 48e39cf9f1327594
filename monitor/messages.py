"""Messages as a code plus parameters, worded in Chinese or English when a reader sees them.

Verdict reasons, check details and roster findings travel as (code, params):
JSON keeps the stable code, each page, report and notification words it in its
reader's language. Parameters are plain JSON values: dates as ISO text and
durations as the config writes them (`1mo`), which the Chinese wording spells
"1 个月". A parameter may be a message itself (`{"code", "params"}`, rendered in
the same language) or a list of them (joined). The English wording is the text
these messages had before they had codes, so the English `reason` and `detail`
fields of the JSON outputs are unchanged.

Adapters build their details with `message(code, **params)`: a `Message` is the
English text (a str, so it goes wherever a detail string went) that keeps its code
and parameters. Check details are worded in `monitor/check_details.py`.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import lru_cache
from string import Formatter
from typing import TYPE_CHECKING, Any

from monitor.check_details import CHECK_WORDINGS
from monitor.durations import Duration, DurationError
from monitor.models import MessageCode as C
from monitor.wording import Wording

if TYPE_CHECKING:
    from monitor.settings import Policy

LANGS = ("zh", "en")
# How `check.parts` joins its parts.
SEPARATORS = {"zh": "；", "en": "; "}


WORDINGS: dict[str, Wording] = {
    C.ROSTER_CANCELLED: Wording("名单登记为已注销", "roster: cancelled (已注销)"),
    C.NO_SOURCE: Wording("未配置数据源（只能人工核查）", "no source configured"),
    C.NEVER_CHECKED: Wording("尚未检测", "never checked"),
    C.NEVER_CHECKED_SUCCESSFULLY: Wording("尚无成功的检测", "never checked successfully"),
    C.EVIDENCE_STALE: Wording("{day} 以来没有成功的检测", "no successful check since {day}"),
    C.NOT_FOUND: Wording("平台上找不到该账号", "not found on the platform"),
    C.RESTRICTED: Wording("平台限制（账号被封禁或冻结）", "平台限制 (restricted by the platform)"),
    C.ROSTER_STOPPED: Wording(
        "停运未注销：名单登记为停运，账号仍在平台上",
        "停运未注销: roster says stopped, account still exists",
    ),
    C.NO_CONTENT: Wording("无内容（从未发布）", "无内容 (never posted)"),
    C.NO_POST_DATE: Wording("证据中没有发布时间", "evidence has no post date"),
    C.SUSPENDED_LAST_POST: Wording(
        "最后发布于 {post}，早于 {limit}（超过 {window}未更新）",
        "last post {post}, before {limit}",
        ("window",),
    ),
    C.SUSPENDED_NO_POST_SINCE: Wording(
        "自 {since} 起未发现发布，早于 {limit}（超过 {window}未更新）",
        "no post since before {since}, before {limit}",
        ("window",),
    ),
    C.ZOMBIE_LAST_POST: Wording(
        "最后发布于 {post}，早于 {limit}（超过 {window}未更新）",
        "last post {post}, before {limit}",
        ("window",),
    ),
    C.ZOMBIE_NO_POST_SINCE: Wording(
        "自 {since} 起未发现发布，早于 {limit}（超过 {window}未更新）",
        "no post since before {since}, before {limit}",
        ("window",),
    ),
    C.WARNING_LAST_POST: Wording(
        "最后发布于 {post}，距僵尸账号判定不足 {warn}",
        "last post {post}; within {warn} of the zombie window",
        ("warn",),
    ),
    C.WARNING_NO_POST_SINCE: Wording(
        "自 {since} 起未发现发布，距僵尸账号判定不足 {warn}",
        "no post since before {since}; within {warn} of the zombie window",
        ("warn",),
    ),
    C.ACTIVE_LAST_POST: Wording("最后发布于 {post}", "last post {post}"),
    C.ACTIVE_NO_POST_SINCE: Wording("自 {since} 起未发现发布", "no post since before {since}"),
    C.MISSING_ON_PLATFORM: Wording(
        "名单登记为运行，但平台上已不存在该账号",
        "account missing on the platform while the roster says operating",
    ),
    C.NOT_VERIFIED: Wording(
        "平台未认证为政府账号（认证 {verified}，认证类型 {verified_type}）{verified_reason}",
        "verified={verified}, verified_type={verified_type} {verified_reason}",
    ),
    C.NAME_DIFFERS: Wording("平台上的名称为「{screen_name}」", "{screen_name}"),
    C.URL_REFUSED: Wording(
        "名单中的地址被出站规则拒绝（指向内网或保留地址），无法检测：请核对地址，"
        "或在配置的允许网段中放行该网段",
        "the roster's URL was refused by the outbound rules (an internal or reserved "
        "address), so the account cannot be checked: correct it, or allow its network in "
        "network.allowed_networks",
    ),
    C.ADAPTER_ERROR: Wording(
        "采集程序出错：{error_type}: {error}",
        "adapter error: {error_type}: {error}",
        quoted=("error_type", "error"),
    ),
    C.POST_DATE_OUT_OF_RANGE: Wording(
        "平台给出的发布日期 {post} 不可信（应在 {earliest} 至 {latest} 之间），本次检测不作为证据",
        "the platform gave post date {post}, outside {earliest} to {latest}: not evidence",
    ),
    **CHECK_WORDINGS,
}


class Message(str):
    """A message as its English text (what a detail read before it had a code) that keeps
    its code and parameters, so each reader can have it in their own language.

    Built by `message()`; being a str, it goes wherever a detail or a reason string went.
    """

    code: str
    params: dict[str, Any]


def message(code: str, **params: Any) -> Message:
    """The message `code` with `params`; a parameter may be a Message (kept as a nested one)."""
    plain = {k: _plain(v) for k, v in params.items()}
    text = Message(render(code, plain, "en"))
    text.code, text.params = str(code), plain
    return text


def _plain(value: Any) -> Any:
    """A parameter as JSON keeps it: a nested Message as {"code", "params"}."""
    if isinstance(value, Message):
        return {"code": value.code, "params": value.params}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


def parts(*items: Message | str) -> Message:
    """The non-empty messages joined ("; " in English, "；" in Chinese); one alone is itself."""
    kept = [m for m in items if m]
    if len(kept) == 1 and isinstance(kept[0], Message):
        return kept[0]
    return message(C.PARTS, parts=kept)


def rewritten(msg: Message, fix: Callable[[str], str]) -> Message:
    """`msg` with `fix` applied to every text parameter, nested ones too (scrubbing secrets)."""
    return message(msg.code, **{k: _rewrite(v, fix) for k, v in msg.params.items()})


def _rewrite(value: Any, fix: Callable[[str], str]) -> Any:
    if isinstance(value, str):
        return fix(value)
    if isinstance(value, list):
        return [_rewrite(v, fix) for v in value]
    if isinstance(value, dict) and "code" in value:
        params = value.get("params") or {}
        return {"code": value["code"], "params": {k: _rewrite(v, fix) for k, v in params.items()}}
    return value


def params_of(wording: Wording) -> set[str]:
    """The parameter names either language's template uses."""
    return {
        field
        for template in (wording.zh, wording.en)
        for _, field, _, _ in Formatter().parse(template)
        if field
    }


def render(
    code: str | None, params: dict[str, Any] | None, lang: str, fallback: str | None = None
) -> str:
    """A message in `lang`; `fallback` (free text, e.g. an inspector's note) for no or unknown code.

    A missing parameter shows as "?" rather than failing: a page must never break
    on an old or partial record.
    """
    wording = WORDINGS.get(code) if code else None
    if wording is None:
        return fallback if fallback is not None else (code or "")
    values = params or {}
    # Only check details nest messages; verdict reasons (100,000 per listing) skip the look.
    if code in CHECK_WORDINGS and any(type(v) is dict or type(v) is list for v in values.values()):
        values = {k: _nested(v, lang) for k, v in values.items()}
    if lang == "zh":
        template = wording.zh
        if wording.terms:
            values = {k: _zh_value(v, k in wording.durations, wording.terms.get(k))
                      for k, v in values.items()}  # fmt: skip
        elif wording.durations or not all(v is not None and v is not True and v is not False
                                          for v in values.values()):  # fmt: skip
            values = {k: _zh_value(v, k in wording.durations) for k, v in values.items()}
    else:
        template = wording.en
    try:  # a plain dict: this runs for every verdict and every row of a report
        return template.format_map(values).strip()
    except KeyError:
        return template.format_map(_Missing(values)).strip()


class _Missing(dict):
    """Parameters with "?" for any the record lacks."""

    def __missing__(self, key: str) -> str:
        return "?"


def _nested(value: Any, lang: str) -> Any:
    """A nested message rendered in `lang`; a list of them joined; anything else as it is."""
    if type(value) is dict and "code" in value:
        return render(value["code"], value.get("params"), lang, str(value.get("code")))
    if type(value) is list:
        return SEPARATORS.get(lang, "; ").join(str(_nested(v, lang)) for v in value)
    return value


def _zh_value(value: Any, duration: bool, terms: Any = None) -> Any:
    """A parameter as Chinese text shows it: durations spelled out, no None or True."""
    if duration:
        return duration_text(value, "zh")
    if terms is not None and isinstance(value, str):
        return terms.get(value, value)
    if value is None:
        return "—"
    if isinstance(value, bool):
        return "是" if value else "否"
    return value


@lru_cache(maxsize=128)
def duration_text(value: Any, lang: str) -> str:
    """A duration for a reader: 1 个月, 6 个月, 3 天, 2 周, 1 年 in Chinese; `1mo` in English."""
    try:
        d = Duration.parse(value)
    except DurationError:
        return str(value)
    if lang != "zh":
        return str(d)
    parts = []
    if d.months:
        parts.append(f"{d.months // 12} 年" if d.months % 12 == 0 else f"{d.months} 个月")
    if d.days or not parts:
        parts.append(f"{d.days // 7} 周" if d.days and d.days % 7 == 0 else f"{d.days} 天")
    return " ".join(parts)


def policy_text(policy: dict[str, Any], timezone: str, lang: str) -> str:
    """The rule line of a report or a listing: the windows, in the reader's language."""
    p = {k: duration_text(v, lang) for k, v in policy.items()}
    if lang == "en":
        return (
            f"zombie after {p['zombie_after']}, suspended after {p['suspended_after']}, "
            f"warn {p['warn_before']} before, evidence max age {p['evidence_max_age']} "
            f"(calendar dates in {timezone})"
        )
    return (
        f"超过 {p['zombie_after']}未更新为僵尸，超过 {p['suspended_after']}为停运未注销，"
        f"提前 {p['warn_before']}预警，检测结果有效期 {p['evidence_max_age']}"
        f"（按 {timezone} 日历日计）"
    )


def policy_of(policy: Policy) -> dict[str, str]:
    """The four windows of a settings Policy (or Windows) as their config texts."""
    return {
        "zombie_after": str(policy.zombie_after),
        "suspended_after": str(policy.suspended_after),
        "warn_before": str(policy.warn_before),
        "evidence_max_age": str(policy.evidence_max_age),
    }


def reason_text(verdict: Any, lang: str) -> str:
    """A verdict's reason in `lang`."""
    return render(verdict.reason_code, verdict.reason_params, lang, verdict.reason)


def roster_problem_text(verdict: Any, lang: str) -> str | None:
    """A verdict's roster problem in `lang`, or None."""
    if not verdict.roster_problem:
        return None
    return render(verdict.roster_problem_code, None, lang, verdict.roster_problem)


def detail_text(observation: Any, lang: str) -> str | None:
    """An observation's detail in `lang` (free text, e.g. an inspector's note, as written), or None."""
    if observation.detail_code is None:
        return observation.detail
    return render(observation.detail_code, observation.detail_params, lang, observation.detail)
