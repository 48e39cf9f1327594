"""Reliability: fuzz every API endpoint with schemathesis (the OpenAPI schema of
`create_app`) and the dashboard pages with hypothesis; no answer is a 5xx, and no write
gets through without the token.

Each app serves its own copy of the small city of `test_api_support` (8 accounts in
every state, observations, alerts, an outbox row). Schemathesis generates valid
(positive) and invalid (negative) requests for each operation, with path ids drawn
from the city half of the time so the happy paths run too:

- reads on an app without a token: never a 5xx;
- writes on an app without a token: 403 always, with or without a bearer header;
- an app with a token: reads and writes with a wrong or missing token are 401
  (403 allowed) and change nothing; writes with the right token never give a 5xx
  (the monitor's sources point at a closed loopback port, so a check fails fast
  and never leaves the machine);
- dashboard pages (outside the schema) with arbitrary query text and ids: never a 5xx.

The number of requests made is printed at the end (`-s`), as RELIABILITY.md quotes it.

Reproduce: /work/venv/bin/python -m pytest tests/test_reliability_api_fuzz.py -q -s
"""

from __future__ import annotations

import socket
import sqlite3
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
import schemathesis
from fastapi import FastAPI
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from test_api_support import City, build_city

from monitor.api import create_app
from monitor.settings import Settings

TOKEN = "fuzz-token-0b1d"
READS = [
    ("GET", "/api/accounts"),
    ("GET", "/api/accounts/{account_id}"),
    ("GET", "/api/units"),
    ("GET", "/api/units/{unit_id}"),
    ("GET", "/api/alerts"),
    ("GET", "/api/sites"),
    ("GET", "/api/sites/{site_id}"),
    ("GET", "/api/reports/{month}"),
    ("GET", "/api/cases"),
    ("GET", "/api/cases/{case_id}"),
    ("GET", "/healthz"),
    ("GET", "/metrics"),
    ("GET", "/api/audit"),
]
WRITES = [
    ("POST", "/api/accounts/{account_id}/check"),
    ("POST", "/api/observations"),
    ("POST", "/api/cases/{case_id}/response"),
    ("POST", "/api/cases/{case_id}/decision"),
]
# Examples per operation and mode (positive, negative): the module stays well under 90 s.
READ_EXAMPLES = 250
WRITE_EXAMPLES = 120
PAGE_EXAMPLES = 120
FUZZ = hsettings(
    max_examples=READ_EXAMPLES,
    deadline=None,
    database=None,
    derandomize=True,
    suppress_health_check=list(HealthCheck),
)
REQUESTS: Counter[str] = Counter()
# A header-safe bearer: visible ASCII, as any HTTP client can send.
BEARER = st.none() | st.from_regex(r"[!-~]{0,40}", fullmatch=True)


def closed_port() -> int:
    """A loopback port nobody listens on (connections are refused at once)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Served:
    city: City
    app: FastAPI
    schema: Any


@pytest.fixture(scope="module", autouse=True)
def _no_monitor_env(no_monitor_env: None) -> None:
    pass


@pytest.fixture(scope="module", autouse=True)
def _report_request_count() -> Iterator[None]:
    yield
    total = sum(REQUESTS.values())
    detail = ", ".join(f"{k} {v}" for k, v in sorted(REQUESTS.items()))
    print(f"\napi fuzz: {total} requests, no 5xx ({detail})")


def serve(folder: Path, token: str | None) -> Served:
    folder.mkdir(parents=True, exist_ok=True)
    city = build_city(folder)
    nowhere = f"http://127.0.0.1:{closed_port()}"
    settings = Settings(
        timezone="Asia/Shanghai",
        api={"token": token} if token else {},
        weibo={"base_url": nowhere},
        wechat={"api_base_url": nowhere},
        http={"timeout_s": 2},
        network={"allow_private_addresses": True},
    )
    app = create_app(settings, city.db, warm=False)
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    schema = schemathesis.openapi.from_asgi("/openapi.json", app, headers=headers)
    return Served(city, app, schema)


@pytest.fixture(scope="module")
def open_api(tmp_path_factory) -> Served:
    return serve(tmp_path_factory.mktemp("open"), None)


@pytest.fixture(scope="module")
def locked_api(tmp_path_factory) -> Served:
    return serve(tmp_path_factory.mktemp("locked"), TOKEN)


@pytest.fixture(scope="module")
def writable_api(tmp_path_factory) -> Served:
    return serve(tmp_path_factory.mktemp("writable"), TOKEN)


def operations(served: Served) -> set[tuple[str, str]]:
    return {
        (op.method.upper(), op.path)
        for result in served.schema.get_all_operations()
        for op in [result.ok()]
    }


def cases(served: Served, method: str, path: str) -> st.SearchStrategy[Any]:
    """Positive and negative cases; path ids from the city half of the time."""
    op = served.schema[path][method]
    strategies = [
        op.as_strategy(mode) for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE)
    ]
    real: dict[str, Any] = {}
    if "{account_id}" in path:
        real["account_id"] = st.sampled_from(sorted(served.city.ids.values()))
    if "{unit_id}" in path:
        real["unit_id"] = st.sampled_from(sorted(served.city.units.values()))
    if "{month}" in path:
        real["month"] = st.sampled_from(["2020-02", "2024-02", "2026-01", "1999-12"])
    if real:
        strategies += [
            st.fixed_dictionaries(real).flatmap(
                lambda params, mode=mode: op.as_strategy(mode, path_parameters=params)
            )
            for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE)
        ]
    return st.one_of(strategies)


def call(served: Served, case: Any, label: str, headers: dict[str, str] | None = None) -> Any:
    REQUESTS[label] += 1
    response = case.call(headers=headers or {})
    assert response.status_code < 500, (
        f"{case.method} {case.formatted_path} query={case.query} body={case.body!r} -> "
        f"{response.status_code}: {response.text[:500]}"
    )
    return response


def observation_count(served: Served) -> int:
    conn = sqlite3.connect(served.city.db)
    try:
        return conn.execute("SELECT COUNT(*) FROM observations").fetchone()[0]
    finally:
        conn.close()


# -- the schema covers every endpoint ------------------------------------------------------------


def test_the_schema_lists_exactly_the_endpoints_fuzzed_here(open_api, locked_api):
    assert operations(open_api) == set(READS + WRITES)
    assert operations(locked_api) == set(READS + WRITES)


# -- reads ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("method", "path"), READS, ids=[p for _, p in READS])
def test_fuzzed_reads_never_answer_5xx(open_api, method, path):
    @FUZZ
    @given(case=cases(open_api, method, path))
    def fuzz(case: Any) -> None:
        call(open_api, case, "read")

    fuzz()


@pytest.mark.parametrize(("method", "path"), READS, ids=[p for _, p in READS])
def test_fuzzed_reads_with_a_wrong_or_no_token_are_401(locked_api, method, path):
    @hsettings(FUZZ, max_examples=WRITE_EXAMPLES // 2)
    @given(case=cases(locked_api, method, path), bearer=BEARER)
    def fuzz(case: Any, bearer: str | None) -> None:
        if bearer == TOKEN:
            return
        headers = {} if bearer is None else {"Authorization": f"Bearer {bearer}"}
        response = call(locked_api, case, "read without the token", headers)
        assert response.status_code == 401, (case.formatted_path, response.status_code)

    fuzz()


# -- writes -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(("method", "path"), WRITES, ids=[p for _, p in WRITES])
def test_fuzzed_writes_without_a_configured_token_are_403(open_api, method, path):
    before = observation_count(open_api)

    @hsettings(FUZZ, max_examples=WRITE_EXAMPLES)
    @given(case=cases(open_api, method, path), bearer=BEARER)
    def fuzz(case: Any, bearer: str | None) -> None:
        headers = {} if bearer is None else {"Authorization": f"Bearer {bearer}"}
        response = call(open_api, case, "write, no token configured", headers)
        assert response.status_code == 403, (case.formatted_path, response.status_code)

    fuzz()
    assert observation_count(open_api) == before


@pytest.mark.parametrize(("method", "path"), WRITES, ids=[p for _, p in WRITES])
def test_fuzzed_writes_with_a_wrong_or_no_token_are_refused(locked_api, method, path):
    before = observation_count(locked_api)

    @hsettings(FUZZ, max_examples=WRITE_EXAMPLES)
    @given(
        case=cases(locked_api, method, path),
        bearer=BEARER | st.just(TOKEN[:-1]) | st.just(TOKEN + "x"),
        cookie=st.booleans(),
    )
    def fuzz(case: Any, bearer: str | None, cookie: bool) -> None:
        if bearer == TOKEN:
            return
        headers = {} if bearer is None else {"Authorization": f"Bearer {bearer}"}
        if cookie:  # the dashboard cookie authorizes reads only, never writes
            from monitor.api.auth import COOKIE_NAME, cookie_value

            headers["Cookie"] = f"{COOKIE_NAME}={cookie_value(TOKEN)}"
        response = call(locked_api, case, "write with a wrong token", headers)
        assert response.status_code in (401, 403), (case.formatted_path, response.status_code)

    fuzz()
    assert observation_count(locked_api) == before


@pytest.mark.parametrize(("method", "path"), WRITES, ids=[p for _, p in WRITES])
def test_fuzzed_writes_with_the_token_never_answer_5xx(writable_api, method, path):
    @hsettings(FUZZ, max_examples=WRITE_EXAMPLES)
    @given(case=cases(writable_api, method, path))
    def fuzz(case: Any) -> None:
        call(writable_api, case, "write with the token", {"Authorization": f"Bearer {TOKEN}"})

    fuzz()


# -- dashboard pages (not in the schema) -----------------------------------------------------------

TEXT = st.none() | st.text(max_size=30) | st.sampled_from(["", "2020-02-29", "zombie", "weibo"])


@pytest.mark.parametrize(
    "page",
    ["/", "/problems", "/units", "/units/{id}", "/accounts/{id}", "/cases", "/cases/{id}",
     "/units/{id}/cases", "/sites", "/sites/{id}"],
)  # fmt: skip
def test_fuzzed_dashboard_pages_never_answer_5xx(open_api, page):
    ids = sorted(open_api.city.units.values() if "units" in page else open_api.city.ids.values())

    @hsettings(FUZZ, max_examples=PAGE_EXAMPLES)
    @given(
        ident=st.sampled_from(ids) | st.integers() | st.text(max_size=12),
        params=st.fixed_dictionaries(
            {},
            optional={
                k: TEXT for k in ("as_of", "region", "unit", "state", "platform", "q", "page")
            },
        ),
    )
    def fuzz(ident: Any, params: dict[str, str | None]) -> None:
        url = page.replace("{id}", quote(str(ident), safe=""))
        query = {k: v for k, v in params.items() if v is not None}
        REQUESTS["dashboard"] += 1
        with TestClient(open_api.app, raise_server_exceptions=False) as client:
            response = client.get(url, params=query)
        assert response.status_code < 500, (url, query, response.status_code, response.text[:300])

    fuzz()
