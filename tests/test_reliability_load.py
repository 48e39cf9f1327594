"""Reliability: one sweep of 5,000 accounts under rate limits while the API serves reads.

The same shape as `bench/bench_load.py` (which this test runs, at a CI-friendly size):
the simulator in its own process (`python -m monitor simulate --scenario F
--ready-file R`, 250 requests/s per protocol, 20 ms latency), the roster imported,
`python -m monitor serve` on the same database file, and ONE `python -m monitor run
--once` with the monitor's limits at 0.9 x the simulator's, while four reader threads
keep issuing GET /api/accounts/{id}, GET /api/accounts?region=..&limit=50 and
GET /healthz (about 20 a second) for the whole sweep. The sweep process's VmRSS and
the progress (observations written) are sampled every second.

The city: 1,500 weibo accounts (two requests a check), 3,495 feed accounts
(Douyin/Toutiao/Bilibili, one request a check) and 5 WeChat accounts (a first
datacube scan each).

Asserted: the sweep exits 0 with one sweep line (due = checked = 5,000, nothing
deferred); no Traceback, ERROR or "database is locked" in its stderr or the API
server's; every account has exactly one observation and every check succeeded, so no
request went over the limit (a 418/429/45009 would be a `rate_limited` observation);
every API read answered 200; and the sweep's RSS at the end is below its RSS at 20%
of the sweep + 100 MB (a structural bound, not a timing). The figures are printed.

Reproduce: /work/venv/bin/python -m pytest tests/test_reliability_load.py -q -s
"""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
ACCOUNTS = 5_000
RATE = 250.0  # simulator limit per protocol; the monitor paces at 0.9 x this
RSS_BOUND_MB = 100


def load_bench():
    spec = importlib.util.spec_from_file_location("bench_load", ROOT / "bench" / "bench_load.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_one_sweep_under_rate_limits_with_api_reads_has_no_errors_and_flat_memory(tmp_path):
    bench = load_bench()
    figures = bench.run_load(ACCOUNTS, RATE, workdir=tmp_path, log=lambda _m: None)
    print("\nRELIABILITY-LOAD " + json.dumps(figures, ensure_ascii=False))
    err = (tmp_path / "run.stderr").read_text(encoding="utf-8", errors="replace")

    # The sweep: exit 0, one round over every account, nothing left for later.
    assert figures["run_exit"] == 0, err[-3000:]
    assert figures["sweep_lines"] == 1, err[-3000:]
    assert figures["due"] == figures["checked"] == ACCOUNTS
    assert figures["deferred"] == 0
    assert figures["mix"] == {"wechat": 5, "feed": 3495, "weibo": 1500}
    assert figures["run_stderr_problems"] == []
    assert figures["api_stderr_problems"] == []

    # Every account checked exactly once, every check succeeded: nothing over the limit.
    assert figures["accounts_in_db"] == ACCOUNTS
    assert figures["observations_per_account"] == {"1": ACCOUNTS}
    assert figures["rate_limited"] == 0
    assert figures["sweep_failed"] == {}
    assert figures["outcomes"] == {"ok": ACCOUNTS}

    # The API answered every read made during the sweep with 200.
    reads = figures["api_reads"]
    assert figures["api_read_errors"] == []
    assert reads["non_200"] == 0, reads["statuses"]
    assert reads["reads"] >= 50, reads  # reads really ran for the whole sweep
    assert {"account", "region_list", "healthz"} <= reads.keys()

    # Memory: no growth with the number of checks (generous structural bound only).
    at20, at100 = figures["rss_at"]["20%"], figures["rss_at"]["100%"]
    assert at20 is not None and at100 is not None, figures["rss_at"]
    assert at100["rss_mb"] < at20["rss_mb"] + RSS_BOUND_MB, figures["rss_at"]
