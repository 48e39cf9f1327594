"""Reliability: a faulty simulated city, several `monitor check --all` sweeps, zero wrong verdicts.

The city (600 accounts) gets per-account faults in fixed shares (5% time out, 5%
answer malformed bodies, 2% answer with a login wall), the simulator answers 10% of
all requests with a random HTTP 500, and the second sweep runs into a rate-limit
burst (Weibo 418, WeChat 45009, feeds 429). After every sweep each account's
verdict is compared with the truth its scenario implies (the classification rules
applied to its real posts): a verdict is either that truth or `unknown`, an
account is never zombie/suspended/cancelled unless the truth says so, and the
observations table holds exactly one row per check attempted, with failed
outcomes for the faulted accounts.

Reproduce: /work/venv/bin/python -m pytest tests/test_reliability_faults.py -q -s
(`-s` prints the counts of faults injected, as RELIABILITY.md quotes them).
"""

from __future__ import annotations

import json
import random
import sqlite3
from collections import Counter

import pytest
from simulated_city import point_monitor_at, truth

from monitor.cli import main
from monitor.dates import utcnow, zone
from monitor.models import EVIDENCE_OUTCOMES, State
from monitor.simulator import SimulatorServer, generate_city, write_roster
from monitor.simulator.scenario import SimAccount

SH = zone("Asia/Shanghai")
N_ACCOUNTS = 600
SEED = 20200304
SHARES = {"timeout": 0.05, "malformed": 0.05, "login_wall": 0.02}
ERROR_RATE = 0.10
BURST_RATE_PER_S = 5.0

EVIDENCE = {o.value for o in EVIDENCE_OUTCOMES}
# What a check of an account with each fault may end as. The random 500s and the
# rate-limit burst are applied by the simulator before the account's own fault.
FAULT_OUTCOMES = {
    "timeout": {"transient", "rate_limited"},
    "malformed": {"parse_error", "transient", "rate_limited"},
    "login_wall": {"blocked", "auth_error", "transient", "rate_limited"},
}


# --- the city ----------------------------------------------------------------------


def assign_faults(accounts: list[SimAccount], rng: random.Random) -> dict[tuple[str, str], str]:
    """Clear the generated faults, then fault exact shares of the accounts; key -> fault."""
    for account in accounts:
        account.fault = None
    order = list(range(len(accounts)))
    rng.shuffle(order)
    faults: dict[tuple[str, str], str] = {}
    cut = 0
    for fault, share in SHARES.items():
        take = round(share * len(accounts))
        for i in order[cut : cut + take]:
            accounts[i].fault = fault  # type: ignore[assignment]
            faults[accounts[i].key] = fault
        cut += take
    return faults


@pytest.fixture
def city(tmp_path, monkeypatch):
    scenario = generate_city(N_ACCOUNTS, seed=SEED)
    faults = assign_faults(scenario.accounts, random.Random(SEED))
    scenario = scenario.model_copy(update={"error_rate": ERROR_RATE})
    # Held (timeout) connections are released after 5 s instead of 120 s.
    server = SimulatorServer(scenario, seed=SEED, hold_seconds=5.0)
    url = server.start()
    try:
        roster = tmp_path / "city.csv"
        write_roster(scenario, roster, url)
        db = tmp_path / "m.db"
        point_monitor_at(monkeypatch, url, scenario, db, timeout_s="1", WECHAT__WORKER_THREADS="32")
        yield scenario, server, roster, db, faults
    finally:
        server.stop()


def _json(capsys, *args: str) -> list[dict]:
    code = main(list(args))
    out, err = capsys.readouterr()
    assert code == 0, err
    assert "Traceback" not in err
    return json.loads(out)


def _read_only(db) -> sqlite3.Connection:
    return sqlite3.connect(f"file:{db}?mode=ro", uri=True)


# --- the test ----------------------------------------------------------------------


def test_faults_bursts_and_random_5xx_never_give_a_wrong_verdict(city, capsys):
    scenario, server, roster, db, faults = city
    assert main(["import", str(roster)]) == 0
    capsys.readouterr()
    by_key = {a.key: a for a in scenario.accounts}

    def key_of(record: dict) -> tuple[str, str]:
        platform = record["platform"]
        sim_platform = platform if platform in ("weibo", "wechat") else "feed"
        return (sim_platform, record["account_id"])

    expected_outcomes: Counter[str] = Counter()
    attempted = 0
    figures: dict[str, object] = {"faults_assigned": dict(Counter(faults.values()))}
    sweep_stats = []
    wrong: list[tuple] = []
    unknown_total = 0
    rng = random.Random(SEED + 1)

    for sweep in (1, 2, 3):
        if sweep == 2:
            server.set_rate_limit(BURST_RATE_PER_S)  # the 418 / 45009 / 429 burst
        if sweep == 3:
            server.set_rate_limit(None)
            # Half the faulted accounts recover; as many others (with evidence from the
            # earlier sweeps, or not) start failing: their verdict must not move.
            recovered = sorted(faults)[: len(faults) // 2]
            for key in recovered:
                server.set_fault(key[1], None, key[0])
                del faults[key]
            fresh = rng.sample(sorted(set(by_key) - set(faults) - set(recovered)), len(recovered))
            for i, key in enumerate(fresh):
                fault = list(SHARES)[i % len(SHARES)]
                server.set_fault(key[1], fault, key[0])
                faults[key] = fault
        server.reset_stats()
        checks = _json(capsys, "check", "--all", "--json")
        stats = dict(server.stats)
        sweep_stats.append(
            {
                "sweep": sweep,
                "requests": stats["requests"],
                "injected_errors": stats["injected_errors"],
                "held": stats["held"],
                "over_limit": stats["over_limit"],
                "over_limit_by_protocol": stats["over_limit_by_protocol"],
                "by_status": {str(k): v for k, v in sorted(stats["by_status"].items())},
                "internal_errors": stats["internal_errors"],
                "outcomes": dict(Counter(c["outcome"] for c in checks)),
            }
        )
        assert stats["internal_errors"] == 0
        assert len(checks) == N_ACCOUNTS
        # Every account has a source, so every account was checked and recorded once.
        assert all(c["outcome"] is not None for c in checks), [
            c for c in checks if c["outcome"] is None
        ][:3]
        attempted += len(checks)
        expected_outcomes.update(c["outcome"] for c in checks)

        for c in checks:
            key = key_of(c)
            fault = faults.get(key)
            if fault is not None:
                assert c["outcome"] in FAULT_OUTCOMES[fault], (sweep, fault, c)
                assert c["detail"], c  # every failure says why
            elif c["outcome"] not in EVIDENCE:
                # Unfaulted accounts fail only through the random 500s or the burst.
                allowed = {"transient"} | ({"rate_limited"} if sweep == 2 else set())
                assert c["outcome"] in allowed, (sweep, c)
                assert c["detail"], c

        # The observations table: exactly one row per check attempted, outcomes as reported.
        with _read_only(db) as conn:
            rows = conn.execute("SELECT COUNT(*) FROM observations").fetchone()[0]
            db_outcomes = Counter(
                dict(conn.execute("SELECT outcome, COUNT(*) FROM observations GROUP BY outcome"))
            )
            evidence_rows = dict(
                conn.execute(
                    "SELECT account, COUNT(*) FROM observations WHERE evidence = 1 GROUP BY account"
                )
            )
            newest = dict(
                conn.execute(
                    "SELECT account, outcome FROM observations o WHERE id = "
                    "(SELECT MAX(id) FROM observations WHERE account = o.account)"
                )
            )
            failed_without_detail = conn.execute(
                "SELECT COUNT(*) FROM observations WHERE evidence = 0 "
                "AND (detail IS NULL OR detail = '')"
            ).fetchone()[0]
        assert rows == attempted
        assert db_outcomes == expected_outcomes
        assert failed_without_detail == 0
        for c in checks:
            assert newest[c["id"]] == c["outcome"], c

        # Every verdict is the truth or unknown; unknown only without any evidence.
        now = utcnow()
        status = _json(capsys, "status", "--json")
        assert len(status) == N_ACCOUNTS
        for record in status:
            account = by_key[key_of(record)]
            state = State(record["state"])
            allowed = truth(account, now)
            has_evidence = evidence_rows.get(record["id"], 0) > 0
            if state is State.UNKNOWN:
                unknown_total += 1
                if has_evidence:
                    wrong.append((sweep, account.name, "unknown despite evidence", record))
                continue
            if state not in allowed:
                wrong.append((sweep, account.name, state.value, sorted(allowed), record["reason"]))
            if state in (State.ZOMBIE, State.SUSPENDED, State.CANCELLED):
                assert state in allowed, (sweep, account.name, record)
            assert has_evidence, record
            assert record["evidence_observed_at"] is not None
        assert wrong == [], wrong[:10]

    figures["sweeps"] = sweep_stats
    figures["checks_attempted"] = attempted
    figures["outcomes_total"] = dict(expected_outcomes)
    figures["unknown_verdicts_total"] = unknown_total
    figures["wrong_verdicts"] = len(wrong)
    print("\nRELIABILITY-FAULTS " + json.dumps(figures, ensure_ascii=False, sort_keys=True))
    # The run really exercised every kind of trouble.
    assert sum(s["injected_errors"] for s in sweep_stats) > 0
    assert sweep_stats[1]["over_limit"] > 0
    assert sum(s["held"] for s in sweep_stats) > 0
    assert expected_outcomes["parse_error"] > 0 and expected_outcomes["blocked"] > 0
