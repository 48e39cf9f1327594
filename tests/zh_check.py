"""What counts as English left in a Chinese text (no tests here).

A Chinese wording may keep technical names in Latin letters: protocols and formats
(HTTP, JSON, RSS), the platforms' API and field names (freepublish, errcode,
statuses_count), setting names (weibo.cookie) and IDs. Anything else made of
Latin letters is an untranslated English word.
"""

from __future__ import annotations

import re
from typing import Any

from monitor.messages import WORDINGS, render

TERMS = frozenset(
    (
        *("HTTP", "HTTPS", "http", "https", "JSON", "JSONP", "Feed", "RSS", "Atom", "XML"),
        *("HTML", "URL", "IP", "DNS", "UID", "UTC", "ID", "Teredo", "AppID", "AppSecret"),
        *("Cookie", "auto", "errcode", "retcode", "freepublish", "datacube", "incarnate"),
        *("getarticletotaldetail", "getarticletotal", "tid", "sub", "subp", "data", "list"),
        *("item", "items", "mblog", "userInfo", "containerid", "Location", "ok", "id", "RFC"),
    )
)
# A token that is an identifier, a setting, a path or a number-bearing name: kept as is.
_NAMEISH = re.compile(r"[_./:\-0-9@]")
_TOKEN = re.compile(r"[A-Za-z][A-Za-z0-9_./:\-@]*")
QUOTED = "…"


def english_words(text: str) -> list[str]:
    """The Latin-letter words of `text` that are neither technical terms nor identifiers."""
    words = (t.rstrip(".:-") for t in _TOKEN.findall(text))
    return [w for w in words if len(w) >= 2 and w not in TERMS and not _NAMEISH.search(w)]


def masked(code: str, params: dict[str, Any] | None) -> dict[str, Any]:
    """`params` with every quoted parameter (platform or library text) replaced, nested too."""
    wording = WORDINGS[code]
    out: dict[str, Any] = {}
    for key, value in (params or {}).items():
        out[key] = QUOTED if key in wording.quoted else _masked_value(value)
    return out


def _masked_value(value: Any) -> Any:
    if isinstance(value, dict) and "code" in value:
        return {"code": value["code"], "params": masked(value["code"], value.get("params"))}
    if isinstance(value, list):
        return [_masked_value(v) for v in value]
    return value


def codes_in(code: str, params: dict[str, Any] | None) -> list[str]:
    """`code` and the codes of every message nested in its parameters."""
    found = [code]
    for value in (params or {}).values():
        for item in value if isinstance(value, list) else [value]:
            if isinstance(item, dict) and "code" in item:
                found += codes_in(item["code"], item.get("params"))
    return found


def assert_worded(obs: Any) -> None:
    """An observation's detail is a known code, worded in both languages, English kept as is."""
    assert obs.detail_code, f"no code for the detail {obs.detail!r}"
    for code in codes_in(obs.detail_code, obs.detail_params):
        assert code in WORDINGS, f"{code} has no wording ({obs.detail!r})"
    assert render(obs.detail_code, obs.detail_params, "en") == obs.detail
    zh = render(obs.detail_code, masked(obs.detail_code, obs.detail_params), "zh")
    assert re.search(r"[\u4e00-\u9fff]", zh), zh
    assert "{" not in zh and "?" not in zh, zh
    assert not english_words(zh), f"English in {zh!r} (from {obs.detail!r})"
