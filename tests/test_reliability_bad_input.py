"""Reliability: bad rosters, bad configuration and bad platform payloads.

Always a clear message and an exit code (1 or 2), never a traceback, and nothing
half-written (the database dump is byte-identical before and after a refused
import). Platform payloads that are truncated, wrongly nested, of the wrong types,
enormous (10 MB) or 100,000 levels deep go through each adapter (httpx.MockTransport
for weibo and feed, a scripted `requests` adapter for wechatpy) and end as a failed
check, never an exception and never evidence.

Reproduce: /work/venv/bin/python -m pytest tests/test_reliability_bad_input.py -q
"""

from __future__ import annotations

import asyncio
import copy
import json
import os
import string
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
import requests
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from requests.adapters import BaseAdapter

from adapters.base import AdapterContext, CheckTarget
from adapters.feed import FeedAdapter
from adapters.wechat import WechatApiAdapter
from adapters.weibo import WeiboAdapter
from monitor.cli import main
from monitor.models import Observation, Outcome, Platform
from monitor.settings import Settings
from monitor.store import Store

HEADER = "类别,主办单位,平台,账号名称,账号ID,状态"
GOOD = f"{HEADER}\n市直部门,市统计局,微博,统计发布,1001,运行\n石泉县,石泉县统计局,微信,石泉统计,wx01,运行\n"
FORMULAS = ["=cmd|' /C calc'!A0", "+SUM(A1:A9)", "-2+3", '@HYPERLINK("http://x")', "=1+1"]


@pytest.fixture
def db(tmp_path, monkeypatch):
    for key in list(os.environ):
        if key.startswith("MONITOR_"):
            monkeypatch.delenv(key)
    path = tmp_path / "m.db"
    monkeypatch.setenv("MONITOR_DB", str(path))
    return path


def run(capsys, *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    assert "Traceback" not in err and "Traceback" not in out
    return code, out, err


def dump(db: Path) -> list[str]:
    with Store.open(db) as store:
        return list(store.conn.iterdump())


def seeded(db: Path, tmp_path: Path, capsys) -> list[str]:
    """Import a small good roster and return the database dump to compare with."""
    path = tmp_path / "good.csv"
    path.write_text(GOOD, encoding="utf-8")
    assert run(capsys, "import", str(path))[0] == 0
    return dump(db)


# === rosters ============================================================================


@settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    content=st.one_of(
        st.binary(min_size=1, max_size=400),
        st.text(min_size=1, max_size=400).map(lambda t: t.encode("utf-8")),
        # A real header and random rows: the rows must be judged, never crash.
        st.lists(
            st.lists(
                st.text(alphabet=string.printable + "微博信运行停注销市县局", max_size=12),
                max_size=8,
            ),
            max_size=6,
        ).map(lambda rows: (HEADER + "\n" + "\n".join(",".join(r) for r in rows)).encode()),
    )
)
def test_random_roster_bytes_never_crash_and_a_refusal_writes_nothing(
    db, tmp_path, capsys, content
):
    if not db.exists():
        seeded(db, tmp_path, capsys)
    before = dump(db)
    path = tmp_path / "random.csv"
    path.write_bytes(content)
    code, _out, err = run(capsys, "import", str(path))
    assert code in (0, 1), err
    if code == 1:
        assert err.strip(), "a refusal says why"
        assert dump(db) == before


@pytest.mark.parametrize(
    ("text", "encoding"),
    [
        (GOOD, "utf-16-le"),  # Excel "Unicode text" without its BOM
        (GOOD, "utf-16-be"),
        (
            "region,unit,platform,name,account_id\nCity,Büro Café,weibo,Ünïcödé façade,1\n",
            "latin-1",
        ),
        ("region,unit,platform,name,account_id\nCity,Bureau,weibo,naïve “quoted”,1\n", "cp1252"),
    ],
    ids=["utf16le-no-bom", "utf16be-no-bom", "latin1", "cp1252"],
)
def test_rosters_in_unsupported_encodings_are_refused_naming_the_encodings(
    db, tmp_path, capsys, text, encoding
):
    before = seeded(db, tmp_path, capsys)
    path = tmp_path / "enc.csv"
    path.write_bytes(text.encode(encoding))
    code, _out, err = run(capsys, "import", str(path))
    assert code == 1
    assert "enc.csv" in err and "encoding" in err and "nothing imported" in err
    assert dump(db) == before


def test_a_shift_jis_roster_never_crashes(db, tmp_path, capsys):
    # Shift-JIS bytes are (usually) valid GB18030, so this file may be read as GB18030:
    # see RELIABILITY.md, "Bad input", for what that means for the names.
    before = seeded(db, tmp_path, capsys)
    path = tmp_path / "sjis.csv"
    path.write_bytes(
        "region,unit,platform,name,account_id\n東京都,統計局,weibo,統計発表,1\n".encode("shift_jis")
    )
    code, _out, _err = run(capsys, "import", str(path))
    assert code in (0, 1)
    if code == 1:
        assert dump(db) == before


@pytest.mark.parametrize("column", ["name", "note", "unit"])
def test_a_one_megabyte_cell_is_refused_with_its_row_and_column(db, tmp_path, capsys, column):
    before = seeded(db, tmp_path, capsys)
    cells = {"name": "统计二", "note": "", "unit": "市统计局"}
    cells[column] = "长" * 1_000_000
    path = tmp_path / "huge.csv"
    path.write_text(
        "类别,主办单位,平台,账号名称,账号ID,状态,备注\n"
        "市直部门,市统计局,微博,统计发布,1001,运行,\n"
        f"市直部门,{cells['unit']},微博,{cells['name']},1002,运行,{cells['note']}\n",
        encoding="utf-8",
    )
    code, _out, err = run(capsys, "import", str(path))
    assert code == 1
    assert "row 3" in err and "too long" in err
    assert len(err) < 5000, "the message must not echo the megabyte"
    assert dump(db) == before


def test_a_cell_over_the_csv_field_limit_is_a_clear_problem(db, tmp_path, capsys):
    before = seeded(db, tmp_path, capsys)
    path = tmp_path / "giant.csv"
    path.write_text(f'{HEADER}\n市直部门,市统计局,微博,"{"x" * 10_500_000}",1003,运行\n')
    code, _out, err = run(capsys, "import", str(path))
    assert code == 1
    assert "row 2" in err and len(err) < 5000
    assert dump(db) == before


def _big_roster(path: Path, rows: int, bad_row: int | None = None) -> None:
    lines = [HEADER]
    for i in range(rows):
        number = i + 2  # the header is row 1
        if number == bad_row:
            lines.append("市直部门,单位0,微博,账号0,1000000000,运行")  # duplicates row 2
        else:
            lines.append(f"市直部门,单位{i // 4},微博,账号{i},{1_000_000_000 + i},运行")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def test_200000_valid_rows_import(db, tmp_path, capsys):
    path = tmp_path / "big.csv"
    _big_roster(path, 200_000)
    code, out, err = run(capsys, "import", str(path), "--json")
    assert code == 0, err
    summary = json.loads(out)
    assert summary["accounts"]["added"] == 200_000
    with Store.open(db) as store:
        counts = store.table_counts()
    assert counts["accounts"] == 200_000 and counts["account_versions"] == 200_000


def test_200000_rows_with_one_bad_row_report_it_and_write_nothing(db, tmp_path, capsys):
    before = seeded(db, tmp_path, capsys)
    path = tmp_path / "big_bad.csv"
    _big_roster(path, 200_000, bad_row=150_001)
    code, _out, err = run(capsys, "import", str(path))
    assert code == 1
    assert "row 150001" in err and "row 2" in err
    assert "nothing imported" in err
    assert err.count("\n") <= 5, err[:2000]
    assert dump(db) == before


def test_duplicate_and_conflicting_rows_are_all_reported_and_nothing_is_written(
    db, tmp_path, capsys
):
    before = seeded(db, tmp_path, capsys)
    path = tmp_path / "dups.csv"
    path.write_text(
        f"{HEADER}\n"
        "市直部门,市统计局,微博,统计发布,2001,运行\n"  # row 2
        "市直部门,市统计局,微博,统计发布,2001,运行\n"  # row 3: exact duplicate of 2
        "市直部门,市统计局,微博,统计发布改,2001,停运\n"  # row 4: same id, other name/status
        "市直部门,市统计局,微信,统计发布,,运行\n"  # row 5: same name, other platform: fine
        "市直部门,市统计局,微信,统计发布,,运行\n",  # row 6: duplicate by (platform, name)
        encoding="utf-8",
    )
    code, _out, err = run(capsys, "import", str(path))
    assert code == 1
    for row in ("row 3", "row 4", "row 6"):
        assert row in err, (row, err)
    assert "3 problem(s)" in err  # row 5 only appears as the first listing of row 6's account
    assert dump(db) == before


def test_formula_text_stays_plain_text_through_import_and_status_json(db, tmp_path, capsys):
    lines = [f"{HEADER},备注,联系人"]
    for i, text in enumerate(FORMULAS):
        lines.append(
            f'市直部门,"{text.replace(chr(34), chr(34) * 2)}",微博,"{text.replace(chr(34), chr(34) * 2)}",{3000 + i},运行,"{text.replace(chr(34), chr(34) * 2)}",{text[:1]}x'
        )
    path = tmp_path / "formula.csv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    code, _out, err = run(capsys, "import", str(path))
    assert code == 0, err
    code, out, err = run(capsys, "status", "--json")
    assert code == 0, err
    records = {r["account_id"]: r for r in json.loads(out)}
    code, out, _ = run(capsys, "accounts", "--json")
    accounts = {a["account_id"]: a for a in json.loads(out)}
    for i, text in enumerate(FORMULAS):
        rec, acc = records[str(3000 + i)], accounts[str(3000 + i)]
        assert rec["name"] == text and rec["unit"] == text
        assert acc["note"] == text and acc["contact"] == text[:1] + "x"


def test_formula_cells_of_an_xlsx_roster_are_literal_text(db, tmp_path, capsys):
    import openpyxl

    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(["类别", "主办单位", "平台", "账号名称", "账号ID", "状态"])
    ws.append(["市直部门", "市统计局", "微博", FORMULAS[0], 4001, "运行"])
    ws.append(["市直部门", "市统计局", "微博", "=1+1", 4002, "运行"])
    path = tmp_path / "formula.xlsx"
    wb.save(path)
    code, _out, err = run(capsys, "import", str(path))
    assert code == 0, err
    code, out, _ = run(capsys, "status", "--json")
    names = {r["account_id"]: r["name"] for r in json.loads(out)}
    assert names == {"4001": FORMULAS[0], "4002": "=1+1"}


# === configuration ============================================================================

CONFIG_CASES = [
    ("syntax", "[policy\nzombie_after = '14d'\n", "(syntax)"),
    ("syntax-value", "[policy]\nzombie_after = 14d\n", "(syntax)"),
    ("type-duration-int", "[policy]\nzombie_after = 14\n", "policy.zombie_after"),
    ("type-float-str", "[http]\ntimeout_s = 'fast'\n", "http.timeout_s"),
    (
        "type-bool",
        "[network]\nallow_private_addresses = 'maybe'\n",
        "network.allow_private_addresses",
    ),
    ("type-table-as-str", "policy = '14d'\n", "policy"),
    ("type-list", "[schedule]\nretry_delays_min = 'often'\n", "schedule.retry_delays_min"),
    ("unknown-top", "zombie_after = '14d'\n", "zombie_after"),
    ("unknown-section", "[polcy]\nzombie_after = '14d'\n", "polcy"),
    ("unknown-nested", "[weibo]\nbase = 'http://x'\n", "weibo.base"),
    ("duration-words", "[policy]\nzombie_after = '14 days'\n", "policy.zombie_after"),
    ("duration-negative", "[policy]\nwarn_before = '-3d'\n", "policy.warn_before"),
    ("duration-fraction", "[policy]\nsuspended_after = '0.5mo'\n", "policy.suspended_after"),
    ("duration-empty", "[policy]\nevidence_max_age = ''\n", "policy.evidence_max_age"),
    ("timezone", "timezone = 'Mars/Olympus_Mons'\n", "timezone"),
    ("timezone-offset", "timezone = '+08:00'\n", "timezone"),
    ("timezone-path", "timezone = '../../etc/passwd'\n", "timezone"),
    ("negative-timeout", "[http]\ntimeout_s = -1\n", "http.timeout_s"),
    ("negative-rate", "[limits.weibo]\nrate_per_s = -5\n", "limits.weibo.rate_per_s"),
    ("zero-concurrency", "[limits.feed]\nmax_concurrent = 0\n", "limits.feed.max_concurrent"),
    ("negative-port", "[api]\nport = -1\n", "api.port"),
    ("negative-pages", "[weibo]\nmax_pages = -2\n", "weibo.max_pages"),
    ("negative-body", "[http]\nmax_body_bytes = -1\n", "http.max_body_bytes"),
]


@pytest.mark.parametrize(
    ("text", "key"), [c[1:] for c in CONFIG_CASES], ids=[c[0] for c in CONFIG_CASES]
)
def test_every_config_mistake_is_one_clear_line_naming_the_key(db, tmp_path, capsys, text, key):
    cfg = tmp_path / "bad.toml"
    cfg.write_text(text, encoding="utf-8")
    code, _out, err = run(capsys, "--config", str(cfg), "status")
    assert code == 2, err
    assert err.startswith("monitor: config error:") and err.count("\n") == 1, err
    assert key in err, (key, err)
    assert not db.exists(), "nothing is written before the configuration is valid"
    code, _out, err = run(capsys, "config", "check", str(cfg))
    assert code == 2
    assert f": {key}" in err or key in err


ENV_CASES = [
    ("MONITOR_HTTP__TIMEOUT_S", "abc", "http.timeout_s"),
    ("MONITOR_HTTP__TIMEOUT_S", "-3", "http.timeout_s"),
    ("MONITOR_POLICY__ZOMBIE_AFTER", "forever", "policy.zombie_after"),
    ("MONITOR_TIMEZONE", "Mars/Base", "timezone"),
    ("MONITOR_NETWORK__ALLOW_PRIVATE_ADDRESSES", "maybe", "network.allow_private_addresses"),
    ("MONITOR_LIMITS__WEIBO__RATE_PER_S", "-1", "limits.weibo.rate_per_s"),
    ("MONITOR_WEIBO__MAX_PAGES", "two", "weibo.max_pages"),
]


@pytest.mark.parametrize(("name", "value", "key"), ENV_CASES)
def test_an_env_var_with_a_bad_value_names_its_key(db, capsys, monkeypatch, name, value, key):
    monkeypatch.setenv(name, value)
    code, _out, err = run(capsys, "status")
    assert code == 2, err
    assert err.count("\n") == 1 and key in err and "environment" in err, err
    assert not db.exists()


def test_a_config_file_that_is_missing_or_a_directory_is_a_clear_error(db, tmp_path, capsys):
    for target in (tmp_path / "nope.toml", tmp_path):
        code, _out, err = run(capsys, "--config", str(target), "status")
        assert code == 2 and str(target) in err and err.count("\n") == 1, err


def test_a_database_in_a_missing_folder_is_a_clear_error(db, tmp_path, capsys, monkeypatch):
    monkeypatch.delenv("MONITOR_DB")
    cfg = tmp_path / "c.toml"
    cfg.write_text(f"database = '{tmp_path / 'no' / 'such' / 'm.db'}'\n", encoding="utf-8")
    code, _out, err = run(capsys, "--config", str(cfg), "status")
    assert code == 1 and "does not exist" in err and err.count("\n") == 1, err


@pytest.mark.parametrize(
    ("files", "env", "args", "code", "needle"),
    [
        (
            {"bad.toml": "[policy]\nzombie_after = 'soon'\n"},
            {},
            ["--config", "bad.toml", "status"],
            2,
            "policy.zombie_after",
        ),
        ({"bad.toml": "[http\n"}, {}, ["--config", "bad.toml", "check", "--all"], 2, "(syntax)"),
        ({}, {"MONITOR_TIMEZONE": "Nowhere/City"}, ["status"], 2, "timezone"),
        ({"r.csv": "\ufeff类别,主办单位\n,,\n"}, {}, ["import", "r.csv"], 1, "r.csv"),
        ({"r.csv": "\x00\x01\x02binary"}, {}, ["import", "r.csv"], 1, "binary"),
    ],
    ids=["bad-duration", "toml-syntax", "env-timezone", "roster-no-columns", "roster-binary"],
)
def test_real_processes_print_one_line_and_no_traceback(tmp_path, files, env, args, code, needle):
    for name, text in files.items():
        (tmp_path / name).write_text(text, encoding="utf-8")
    clean = {k: v for k, v in os.environ.items() if not k.startswith("MONITOR_")}
    proc = subprocess.run(
        [sys.executable, "-m", "monitor", *args],
        env={**clean, "MONITOR_DB": str(tmp_path / "m.db"), **env},
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode == code, proc.stderr
    assert "Traceback" not in proc.stderr and needle in proc.stderr, proc.stderr
    assert proc.stderr.startswith("monitor") or proc.stderr.startswith("r.csv")


# === platform payloads =============================================================================

NOW = datetime(2024, 12, 6, 7, 30, tzinfo=UTC)
UID = "5550001111"
DEEP_LIST = b"[" * 100_000 + b"]" * 100_000
DEEP_DICT = b'{"a":' * 100_000 + b"1" + b"}" * 100_000
TEN_MB = 10 * 1024 * 1024


class _NoSecrets:
    def get(self, name: str) -> str | None:
        return "sim-secret" if name == "WX_SECRET" else None


def _ctx(client: Any, **settings: Any) -> AdapterContext:
    return AdapterContext(
        http=client,
        settings=Settings(**settings),
        secrets=_NoSecrets(),
        clock=lambda: NOW,
        url_guard=lambda url: None,
    )


def weibo_profile() -> dict[str, Any]:
    return {
        "ok": 1,
        "data": {
            "userInfo": {"id": int(UID), "screen_name": "平安示例", "statuses_count": 3},
            "tabsInfo": {
                "tabs": [
                    {"tab_type": "profile", "containerid": f"230283{UID}"},
                    {"tab_type": "weibo", "containerid": f"107603{UID}"},
                ]
            },
        },
    }


WEIBO_POSTS = ["Thu Dec 05 09:00:00 +0800 2024", "Mon Dec 02 18:30:00 +0800 2024"]


def weibo_timeline() -> dict[str, Any]:
    cards = [
        {"card_type": 9, "mblog": {"id": f"50{i}", "created_at": when, "text": f"post {i}"}}
        for i, when in enumerate(WEIBO_POSTS)
    ]
    return {"ok": 1, "data": {"cards": cards, "cardlistInfo": {"page": None}}}


def _body(value: Any) -> bytes:
    return value if isinstance(value, bytes) else json.dumps(value, ensure_ascii=False).encode()


def check_weibo(profile: Any, timeline: Any) -> Observation:
    def handler(request: httpx.Request) -> httpx.Response:
        body = timeline if "containerid" in request.url.params else profile
        return httpx.Response(200, content=_body(body))

    async def go() -> Observation:
        async with httpx.AsyncClient(transport=httpx.MockTransport(handler)) as client:
            target = CheckTarget(id=7, platform=Platform.WEIBO, account_id=UID, name="平安示例")
            return (await WeiboAdapter().check(target, _ctx(client))).observation

    return asyncio.run(go())


def test_a_good_weibo_payload_is_evidence_of_its_newest_post():
    obs = check_weibo(weibo_profile(), weibo_timeline())
    assert obs.outcome is Outcome.OK
    assert obs.latest_post_at == datetime.fromisoformat("2024-12-05T09:00:00+08:00")


def _set(obj: Any, path: tuple, value: Any) -> Any:
    obj = copy.deepcopy(obj)
    node = obj
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value
    return obj


WEIBO_BAD = {
    # truncated
    "profile-truncated": (_body(weibo_profile())[:60], weibo_timeline()),
    "timeline-truncated": (weibo_profile(), _body(weibo_timeline())[:80]),
    "empty-body": (b"", weibo_timeline()),
    # lists where objects are expected
    "profile-is-list": ([weibo_profile()], weibo_timeline()),
    "data-is-list": (_set(weibo_profile(), ("data",), []), weibo_timeline()),
    "userInfo-is-list": (_set(weibo_profile(), ("data", "userInfo"), [1]), weibo_timeline()),
    "cards-is-object": (weibo_profile(), _set(weibo_timeline(), ("data", "cards"), {"0": 1})),
    "card-is-list": (weibo_profile(), _set(weibo_timeline(), ("data", "cards", 0), [9])),
    "mblog-is-list": (weibo_profile(), _set(weibo_timeline(), ("data", "cards", 0, "mblog"), [])),
    "timeline-data-is-string": (weibo_profile(), _set(weibo_timeline(), ("data",), "cards")),
    # strings / numbers where the other is expected
    "created_at-number": (
        weibo_profile(),
        _set(weibo_timeline(), ("data", "cards", 0, "mblog", "created_at"), 1733360400),
    ),
    "created_at-garbage": (
        weibo_profile(),
        _set(weibo_timeline(), ("data", "cards", 0, "mblog", "created_at"), "soon"),
    ),
    "created_at-null": (
        weibo_profile(),
        _set(weibo_timeline(), ("data", "cards", 0, "mblog", "created_at"), None),
    ),
    "timeline-ok-string": (weibo_profile(), _set(weibo_timeline(), ("ok",), "1")),
    "statuses_count-string-empty-timeline": (
        _set(weibo_profile(), ("data", "userInfo", "statuses_count"), "many"),
        _set(weibo_timeline(), ("data", "cards"), []),
    ),
    # enormous and deep
    "profile-10MB": (b'{"ok":1,"data":{"pad":"' + b"x" * TEN_MB + b'"}}', weibo_timeline()),
    "timeline-10MB": (
        weibo_profile(),
        b'{"ok":1,"data":{"cards":[' + b"{}," * (TEN_MB // 3) + b"{}]}}",
    ),
    "profile-deep-list": (DEEP_LIST, weibo_timeline()),
    "profile-deep-object": (DEEP_DICT, weibo_timeline()),
    "timeline-deep-list": (weibo_profile(), DEEP_LIST),
    "timeline-deep-in-cards": (weibo_profile(), b'{"ok":1,"data":{"cards":' + DEEP_LIST + b"}}"),
    "nan": (b"NaN", weibo_timeline()),
}


@pytest.mark.parametrize(("profile", "timeline"), WEIBO_BAD.values(), ids=WEIBO_BAD.keys())
def test_bad_weibo_payloads_are_failed_checks_never_evidence(profile, timeline):
    obs = check_weibo(profile, timeline)
    assert not obs.outcome.is_evidence, (obs.outcome, obs.detail)
    assert obs.latest_post_at is None
    assert obs.detail and len(obs.detail) < 1000


# Values hypothesis puts where they do not belong: never a string that could be a date.
JUNK = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False)
    | st.text(alphabet=string.ascii_letters + "{}[]<>", max_size=12),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3)
    ),
    max_leaves=8,
)


def _paths(obj: Any, prefix: tuple = ()) -> list[tuple]:
    out = []
    items = (
        obj.items() if isinstance(obj, dict) else enumerate(obj) if isinstance(obj, list) else []
    )
    for key, value in items:
        out.append((*prefix, key))
        out.extend(_paths(value, (*prefix, key)))
    return out


TRUE_POSTS = {datetime.strptime(p, "%a %b %d %H:%M:%S %z %Y") for p in WEIBO_POSTS}


@settings(max_examples=300, deadline=None)
@given(data=st.data(), junk=JUNK, in_profile=st.booleans())
def test_a_weibo_payload_with_any_field_replaced_never_invents_a_post_date(data, junk, in_profile):
    profile, timeline = weibo_profile(), weibo_timeline()
    target = profile if in_profile else timeline
    # The profile's `ok` is left alone here: see RELIABILITY.md, "Bad input" (reported).
    paths = [p for p in _paths(target) if not (in_profile and p == ("ok",))]
    path = data.draw(st.sampled_from(paths))
    mutated = _set(target, path, junk)
    obs = check_weibo(mutated, timeline) if in_profile else check_weibo(profile, mutated)
    # Evidence only when it is true: the real newest post (or an older real one when a
    # card is unreadable and skipped), never "account gone" or "never posted".
    assert obs.outcome not in (Outcome.NOT_FOUND, Outcome.NO_CONTENT), (path, junk, obs)
    if obs.outcome is Outcome.OK:
        assert obs.latest_post_at in TRUE_POSTS, (path, junk, obs)
    else:
        assert obs.detail


# --- feeds -----------------------------------------------------------------------------

RSS_OK = (
    b'<?xml version="1.0" encoding="UTF-8"?><rss version="2.0"><channel><title>t</title>'
    b"<lastBuildDate>Fri, 06 Dec 2024 15:00:00 +0800</lastBuildDate>"
    b"<item><title>a</title><link>https://x/1</link><pubDate>Thu, 05 Dec 2024 09:00:00 +0800</pubDate></item>"
    b"<item><title>b</title><link>https://x/2</link><pubDate>Mon, 02 Dec 2024 09:00:00 +0800</pubDate></item>"
    b"</channel></rss>"
)


def check_feed(body: bytes, content_type: str = "application/rss+xml") -> Observation:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=body, headers={"Content-Type": content_type})

    async def go() -> Observation:
        async with httpx.AsyncClient(transport=httpx.MockTransport(handler)) as client:
            target = CheckTarget(
                id=8,
                platform=Platform.DOUYIN,
                account_id="",
                name="抖音示例",
                feed_url="https://rss.example.org/douyin/user/x",
            )
            return (await FeedAdapter().check(target, _ctx(client))).observation

    return asyncio.run(go())


FEED_BAD = {
    "truncated": RSS_OK[: len(RSS_OK) // 2],
    "truncated-after-first-item": RSS_OK[: RSS_OK.index(b"</item>") + 7],
    "empty": b"",
    "json-not-xml": json.dumps(
        {"items": [{"date_published": "2024-12-05T09:00:00+08:00"}]}
    ).encode(),
    "json-feed-list": b"[" + RSS_OK + b"]",
    "dates-garbage": RSS_OK.replace(b"Thu, 05 Dec 2024 09:00:00 +0800", b"yesterday").replace(
        b"Mon, 02 Dec 2024 09:00:00 +0800", b"[1,2]"
    ),
    "no-items-fresh-build-date": RSS_OK[: RSS_OK.index(b"<item>")] + b"</channel></rss>",
    "ten-megabytes": RSS_OK.replace(b"<title>a</title>", b"<title>" + b"a" * TEN_MB + b"</title>"),
    "deep-unclosed": b'<?xml version="1.0"?><rss version="2.0"><channel>' + b"<item>" * 100_000,
    "billion-laughs": (
        b'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY a "aaaaaaaaaa">'
        + b"".join(
            f'<!ENTITY {chr(98 + i)} "{("&" + chr(97 + i) + ";") * 10}">'.encode() for i in range(8)
        )
        + b']><rss version="2.0"><channel><item><title>&i;</title>'
        b"<pubDate>Thu, 05 Dec 2024 09:00:00 +0800</pubDate></item></channel></rss>"
    ),
}


@pytest.mark.parametrize("body", FEED_BAD.values(), ids=FEED_BAD.keys())
def test_bad_feed_payloads_are_failed_checks_never_evidence(body):
    started = time.monotonic()
    obs = check_feed(body)
    assert not obs.outcome.is_evidence, (obs.outcome, obs.detail)
    assert obs.latest_post_at is None
    assert obs.detail and len(obs.detail) < 1000
    assert time.monotonic() - started < 20


def test_a_well_formed_but_100000_deep_feed_gives_only_its_true_date():
    deep = b"<x>" * 100_000 + b"</x>" * 100_000
    body = RSS_OK.replace(b"<title>a</title>", b"<title>a</title>" + deep)
    obs = check_feed(body)
    if obs.outcome is Outcome.OK:
        assert obs.latest_post_at == datetime.fromisoformat("2024-12-05T09:00:00+08:00")
    else:
        assert not obs.outcome.is_evidence


# --- WeChat (wechatpy speaks `requests`: a scripted transport adapter stands in) ------------


class Scripted(BaseAdapter):
    """A `requests` transport answering by path from a table (default: an empty answer)."""

    def __init__(self, answers: dict[str, bytes]):
        super().__init__()
        self.answers = answers
        self.seen: list[str] = []

    def send(self, request, **kwargs):
        path = urlsplit(request.url).path
        self.seen.append(path)
        resp = requests.Response()
        resp.status_code = 200
        resp._content = self.answers.get(path, b'{"list":[]}')
        resp.url = request.url
        resp.request = request
        resp.headers["Content-Type"] = "application/json"
        resp.encoding = "utf-8"
        return resp

    def close(self) -> None:
        pass


TOKEN = json.dumps({"access_token": "TOKEN", "expires_in": 7200}).encode()
FREEPUBLISH = json.dumps(
    {
        "total_count": 1,
        "item_count": 1,
        "item": [
            {
                "article_id": "a1",
                "update_time": 1733360400,  # 2024-12-05 09:00 +08:00
                "content": {"news_item": [{"title": "t", "url": "https://mp.weixin.qq.com/s/x"}]},
            }
        ],
    }
).encode()


def check_wechat(answers: dict[str, bytes]) -> Observation:
    adapter = WechatApiAdapter(
        max_days_per_check=3,
        http_factory=lambda: _session(answers),
    )

    async def go() -> Observation:
        # This module's clock (2024) predates getarticletotaldetail's data: scan anyway.
        ctx = _ctx(
            None, wechat={"api_base_url": "http://wechat.test", "datacube_from": "2014-12-01"}
        )
        target = CheckTarget(
            id=9,
            platform=Platform.WECHAT,
            account_id="wx1",
            name="示例发布",
            secret_env="WX_SECRET",
        )
        return (await adapter.check(target, ctx)).observation

    try:
        return asyncio.run(go())
    finally:
        adapter.close()


def _session(answers: dict[str, bytes]) -> requests.Session:
    session = requests.Session()
    session.mount("http://", Scripted(answers))
    return session


def test_a_good_wechat_payload_is_evidence_of_its_newest_post():
    obs = check_wechat({"/cgi-bin/token": TOKEN, "/cgi-bin/freepublish/batchget": FREEPUBLISH})
    assert obs.outcome is Outcome.OK
    assert obs.latest_post_at == datetime.fromisoformat("2024-12-05T09:00:00+08:00")


T, FP, DC = "/cgi-bin/token", "/cgi-bin/freepublish/batchget", "/datacube/getarticletotaldetail"
WECHAT_BAD = {
    "token-truncated": {T: TOKEN[:12]},
    "token-empty": {T: b""},
    "token-is-list": {T: b"[]"},
    "token-expires-in-string": {T: b'{"access_token":"T","expires_in":"soon"}'},
    "token-errcode-string": {T: b'{"errcode":"bad","errmsg":[]}'},
    "token-access-token-object": {T: b'{"access_token":{},"expires_in":7200}'},
    "token-deep": {T: DEEP_LIST},
    "token-10MB": {T: b'{"access_token":"' + b"x" * TEN_MB},
    "freepublish-truncated": {T: TOKEN, FP: FREEPUBLISH[:40]},
    "freepublish-item-object": {T: TOKEN, FP: b'{"item":{"0":{}}}'},
    "freepublish-item-strings": {T: TOKEN, FP: b'{"item":["x"]}'},
    "freepublish-time-string": {T: TOKEN, FP: b'{"item":[{"update_time":"yesterday"}]}'},
    "freepublish-time-huge": {T: TOKEN, FP: b'{"item":[{"update_time":1e300}]}'},
    "freepublish-null": {T: TOKEN, FP: b"null"},
    "freepublish-deep": {T: TOKEN, FP: DEEP_DICT},
    "freepublish-10MB": {T: TOKEN, FP: b'{"item":[' + b"0," * (TEN_MB // 2) + b"0]}"},
    "datacube-list-object": {T: TOKEN, FP: b'{"item":[]}', DC: b'{"list":{}}'},
    "datacube-truncated": {T: TOKEN, FP: b'{"item":[]}', DC: b'{"list":[{"ref_date":'},
    "datacube-deep": {T: TOKEN, FP: b'{"item":[]}', DC: DEEP_LIST},
    "datacube-errcode-string": {T: TOKEN, FP: b'{"item":[]}', DC: b'{"errcode":"x"}'},
}


@pytest.mark.parametrize("answers", WECHAT_BAD.values(), ids=WECHAT_BAD.keys())
def test_bad_wechat_payloads_are_failed_checks_never_evidence(answers):
    obs = check_wechat(answers)
    assert not obs.outcome.is_evidence, (obs.outcome, obs.detail)
    assert obs.latest_post_at is None and obs.silent_since is None
    assert obs.detail and len(obs.detail) < 1000
    assert "sim-secret" not in obs.detail
