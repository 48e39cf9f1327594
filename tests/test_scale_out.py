"""Scale out: a real redis-server, real `monitor worker` processes on 127.0.0.2-4, the simulator.

The simulator limits each client address separately (`rate_limit_per_client_s`);
every worker paces itself under it. The coordinator (`monitor run --once` with
queue.broker_url) sends the checks and records them; it has no WeChat secret and
the workers no database. Compared with the single-process daemon over the same city.
"""

from __future__ import annotations

import base64
import re
import secrets
import shutil
import signal
import sqlite3
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from scale_out_procs import (
    base_env,
    redis_contents,
    redis_server,
    run_coordinator,
    start_workers,
    stop_worker,
)
from simulated_city import clean_monitor_env
from system_tools import missing_tool

from monitor.checks.record import Seen
from monitor.checks.remote import RemoteChecks
from monitor.cli import main
from monitor.models import Observation, Outcome
from monitor.settings import Settings
from monitor.simulator import (
    SECRET_ENV,
    Scenario,
    SimulatorServer,
    env_lines,
    generate_city,
    write_roster,
)
from monitor.store import SentCheck, Store

ROOT = Path(__file__).resolve().parent.parent
ADDRESSES = ["127.0.0.2", "127.0.0.3", "127.0.0.4"]
PER_CLIENT = 20.0  # requests/s per protocol and client address, as the simulator enforces


def small_city(weibo: int, feed: int, wechat: int, canary: str) -> Scenario:
    """A generated city cut down to a few accounts per platform, without faults."""
    big = generate_city(weibo + feed + wechat + 200, seed=3)
    want = {"weibo": weibo, "feed": feed, "wechat": wechat}
    chosen = []
    for account in big.accounts:
        if account.fault is None and want[account.platform] > 0:
            want[account.platform] -= 1
            chosen.append(account)
    assert not any(want.values()), want
    return big.model_copy(
        update={"accounts": chosen, "wechat_secret": canary, "rate_limit_per_client_s": PER_CLIENT}
    )


def monitor_env(url: str, scenario: Scenario, **extra: str) -> dict[str, str]:
    """Point a monitor at the simulator, paced under the per-client limit."""
    env = dict(line.split("=", 1) for line in env_lines(url, scenario.wechat_secret))
    env |= {
        "MONITOR_HTTP__TIMEOUT_S": "5",
        "MONITOR_LIMITS__WEIBO__RATE_PER_S": str(0.8 * PER_CLIENT),
        "MONITOR_LIMITS__WEIBO__MAX_CONCURRENT": "8",
        "MONITOR_LIMITS__FEED__RATE_PER_S": str(0.8 * PER_CLIENT),
        "MONITOR_LIMITS__FEED__MAX_CONCURRENT": "8",
        # A first WeChat check makes about a dozen requests, unpaced within the check.
        "MONITOR_LIMITS__WECHAT_API__RATE_PER_S": "0.5",
        "MONITOR_LIMITS__WECHAT_API__MAX_CONCURRENT": "1",
        "MONITOR_SCHEDULE__JITTER_S": "0",
    }
    return base_env(env | {f"MONITOR_{k}": v for k, v in extra.items()})


def secret_forms(secret: str) -> list[bytes]:
    """The secret as bytes, and as it reads inside base64 (kombu's message bodies) at each offset."""
    raw = secret.encode()
    forms = [raw]
    for shift in range(3):
        encoded = base64.b64encode(b"\0" * shift + raw)
        # Drop the characters that also depend on the bytes around the secret.
        forms.append(encoded[(shift * 4 + 2) // 3 + 1 : -3])
    return forms


def leaked(secret: str, blobs: list[bytes]) -> list[bytes]:
    forms = secret_forms(secret)
    return [b for b in blobs if any(f in b for f in forms)]


class RedisMonitor:
    """Every command any client sends to the Redis, seen through MONITOR."""

    def __init__(self, url: str):
        import redis

        self._client = redis.Redis.from_url(url, socket_timeout=None)
        self.commands: list[bytes] = []
        self.error: BaseException | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        try:
            with self._client.monitor() as m:
                for event in m.listen():
                    self.commands.append(str(event.get("command", "")).encode())
                    if self._stop.is_set():
                        return
        except BaseException as exc:  # surfaced by the test
            self.error = exc

    def __enter__(self) -> RedisMonitor:
        self._thread.start()
        time.sleep(0.2)
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._client.ping()  # one more command wakes the listener
        self._thread.join(5)


def verdicts(db: Path) -> dict[tuple[str, str], str]:
    conn = sqlite3.connect(db)
    try:
        rows = conn.execute(
            "SELECT a.platform, a.account_id, v.state FROM verdicts v JOIN accounts a ON a.id = v.account"
        ).fetchall()
    finally:
        conn.close()
    return {(p, a): s for p, a, s in rows}


def observations_per_account(db: Path) -> dict[int, int]:
    conn = sqlite3.connect(db)
    try:
        accounts = [r[0] for r in conn.execute("SELECT id FROM accounts")]
        counts = dict(conn.execute("SELECT account, COUNT(*) FROM observations GROUP BY account"))
    finally:
        conn.close()
    return {a: counts.get(a, 0) for a in accounts}


def sent_checks(db: Path) -> dict[str, int]:
    conn = sqlite3.connect(db)
    try:
        return dict(
            conn.execute("SELECT COALESCE(ended, 'open'), COUNT(*) FROM sent_checks GROUP BY 1")
        )
    finally:
        conn.close()


@pytest.fixture
def redis_url(tmp_path) -> Iterator[str]:
    if shutil.which("redis-server") is None:
        missing_tool("redis-server is not installed (apt-get install redis-server)")
    with redis_server(tmp_path / "redis") as url:
        yield url


@pytest.fixture
def city(tmp_path, monkeypatch) -> Iterator[tuple[Scenario, SimulatorServer, Path]]:
    clean_monitor_env(monkeypatch)
    canary = "CANARY" + secrets.token_hex(12)
    scenario = small_city(weibo=30, feed=15, wechat=2, canary=canary)
    server = SimulatorServer(scenario, seed=3)
    url = server.start()
    roster = tmp_path / "city.csv"
    write_roster(scenario, roster, url)
    try:
        yield scenario, server, roster
    finally:
        server.stop()


def test_three_workers_on_three_addresses_sweep_without_refusal_with_the_daemons_verdicts_and_no_secret_in_redis(
    city, redis_url, tmp_path
):
    scenario, server, roster = city
    canary = scenario.wechat_secret
    single, scaled = tmp_path / "single.db", tmp_path / "scaled.db"
    for db in (single, scaled):
        assert main(["--db", str(db), "import", str(roster)]) == 0
    env = monitor_env(server.url, scenario)

    done = run_coordinator(env | {"MONITOR_DB": str(single)}, tmp_path)
    assert done.returncode == 0, done.stderr
    assert server.stats["over_limit"] == 0, server.stats
    server.reset_stats()

    # Workers: no database (a path that cannot be created), the secret in their own env.
    nowhere = tmp_path / "no-such-folder" / "m.db"
    worker_env = env | {
        "MONITOR_QUEUE__BROKER_URL": redis_url,
        "MONITOR_QUEUE__REDELIVER_AFTER_S": "30",
        "MONITOR_DB": str(nowhere),
    }
    coordinator_env = {k: v for k, v in worker_env.items() if k != SECRET_ENV}
    coordinator_env |= {"MONITOR_DB": str(scaled), "MONITOR_QUEUE__BATCH_SIZE": "4"}
    from monitor.checks.celery_app import make_app

    with RedisMonitor(redis_url) as seen_by_redis:
        workers = start_workers(worker_env, ADDRESSES, tmp_path)
        try:
            done = run_coordinator(coordinator_env, tmp_path)
        finally:
            for proc in workers:
                stop_worker(proc)
        time.sleep(0.5)
        sweep_commands = len(seen_by_redis.commands)
        sweep_contents = redis_contents(redis_url)
        import redis

        left = redis.Redis.from_url(redis_url).keys("celery-task-meta-*")
        # The search finds the secret where a task would carry it (base64 in kombu's body).
        settings = Settings(queue={"broker_url": redis_url})  # type: ignore[arg-type]
        make_app(settings).send_task("monitor.canary", args=[{"appsecret": canary}])
        time.sleep(0.5)
    assert done.returncode == 0, done.stderr

    stats = server.stats
    assert stats["over_limit"] == 0, stats
    by_client = stats["by_client"]
    assert set(by_client) == set(ADDRESSES), by_client  # every worker worked; nobody else
    assert not nowhere.parent.exists()

    per_account = observations_per_account(scaled)
    assert set(per_account.values()) == {1}, per_account
    assert sent_checks(scaled) == {"recorded": len(scenario.accounts)}
    assert verdicts(scaled) == verdicts(single)
    conn = sqlite3.connect(scaled)
    wechat_ok = conn.execute(
        "SELECT COUNT(*) FROM observations o JOIN accounts a ON a.id = o.account "
        "WHERE a.platform = 'wechat' AND o.outcome IN ('ok', 'no_content')"
    ).fetchone()[0]
    conn.close()
    assert wechat_ok == 2  # the workers used the AppSecret from their own environment

    assert seen_by_redis.error is None, seen_by_redis.error
    assert sweep_commands > 100
    assert leaked(canary, seen_by_redis.commands[:sweep_commands]) == []
    assert leaked(canary, sweep_contents) == []
    assert left == []  # the coordinator deletes each result once it is recorded
    assert leaked(canary, seen_by_redis.commands[sweep_commands:]) != []
    assert leaked(canary, redis_contents(redis_url)) != []


def test_kill_9_of_a_worker_mid_sweep_still_gives_exactly_one_observation_per_account(
    city, redis_url, tmp_path
):
    scenario, server, roster = city
    server.set_latency(120)
    db = tmp_path / "m.db"
    assert main(["--db", str(db), "import", str(roster)]) == 0
    env = monitor_env(server.url, scenario) | {
        "MONITOR_QUEUE__BROKER_URL": redis_url,
        "MONITOR_QUEUE__REDELIVER_AFTER_S": "3",
        "MONITOR_QUEUE__BATCH_SIZE": "3",
        # Slow enough that the sweep is still running when a worker dies.
        "MONITOR_LIMITS__WEIBO__RATE_PER_S": "4",
        "MONITOR_LIMITS__FEED__RATE_PER_S": "4",
    }
    workers = start_workers(env, ADDRESSES, tmp_path, concurrency=2)
    import subprocess
    import sys

    coordinator = subprocess.Popen(
        [sys.executable, "-m", "monitor", "run", "--once"],
        env=env | {"MONITOR_DB": str(db)},
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        victim = ADDRESSES[0]
        deadline = time.monotonic() + 60
        # Kill once the victim has fetched for a while and the sweep is far from done.
        while server.stats["by_client"].get(victim, 0) < 12:
            assert coordinator.poll() is None, coordinator.communicate()
            assert time.monotonic() < deadline, server.stats
            time.sleep(0.02)
        recorded_before = sum(observations_per_account(db).values())
        workers[0].send_signal(signal.SIGKILL)
        workers[0].wait(10)
        _out, err = coordinator.communicate(timeout=240)
    finally:
        if coordinator.poll() is None:
            coordinator.kill()
        for proc in workers:
            stop_worker(proc)
    assert coordinator.returncode == 0, err
    assert recorded_before < len(scenario.accounts)
    per_account = observations_per_account(db)
    assert set(per_account.values()) == {1}, per_account
    assert sent_checks(db) == {"recorded": len(scenario.accounts)}
    assert server.stats["over_limit"] == 0, server.stats
    conn = sqlite3.connect(db)
    claimed = conn.execute("SELECT COUNT(*) FROM schedule WHERE claimed_by IS NOT NULL").fetchone()
    conn.close()
    assert claimed == (0,)
    # The victim died holding tasks: the others got them again after redeliver_after_s.
    held = received_tasks(tmp_path / f"worker-{victim}.log")
    redelivered = held & set().union(
        *(received_tasks(tmp_path / f"worker-{a}.log") for a in ADDRESSES[1:])
    )
    assert redelivered, "the killed worker held no task"


def received_tasks(log: Path) -> set[str]:
    """Ids of the tasks a worker's log says it received."""
    text = log.read_text(encoding="utf-8", errors="replace")
    return set(re.findall(r"monitor\.fetch_batch\[([0-9a-f]+)\] received", text))


def test_a_check_whose_result_comes_twice_is_recorded_once(tmp_path, no_monitor_env):
    roster = tmp_path / "one.csv"
    roster.write_text(
        "类别,主办单位,平台,账号名称,账号ID\n市直部门,市政府,微博,政务微博,1001\n", encoding="utf-8"
    )
    db = tmp_path / "m.db"
    assert main(["--db", str(db), "import", str(roster)]) == 0
    now = datetime.now(UTC)
    settings = Settings(queue={"broker_url": "redis://127.0.0.1:1/0"})  # type: ignore[arg-type]
    with Store.open(db) as store:
        account = store.accounts_at(now)[0]
        remote = RemoteChecks(store, settings, owner="host:1:x", clock=lambda: now)
        with store.transaction():
            store.ensure_schedule(now)
            store.add_sent_checks([SentCheck("c1", account.id, "weibo", "t1", "host:1:x", now)])
        obs = Observation(account.id, now, "weibo", Outcome.OK, latest_post_at=now)
        first = remote._record([("c1", Seen(account, "weibo", obs))], [], [])
        again = remote._record([("c1", Seen(account, "weibo", obs))], [], [])
        assert [r.account.id for r in first] == [account.id]
        assert again == []
        assert len(store.observations(account.id)) == 1
        assert store.sent_check_counts() == {"recorded": 1}
        # A task that failed by its retry policy: the check closes as failed, the account
        # is due again at once (its claim released), nothing is observed.
        later = now + timedelta(days=2)
        with store.transaction():
            assert store.claim_checks([account.id], "host:1:x", later, later + timedelta(hours=6))
            store.add_sent_checks([SentCheck("c2", account.id, "weibo", "t2", "host:1:x", later)])
        assert remote._record([], [], [("c2", account)]) == []
        assert store.sent_check_counts() == {"recorded": 1, "failed": 1}
        assert store.schedule_row(account.id).claimed_by is None
        assert len(store.observations(account.id)) == 1


def test_ci_installs_redis_server_and_the_deployment_files_run_workers_without_the_database():
    ci = (ROOT / ".ci" / "run").read_text()
    assert "missing+=(redis-server)" in ci
    unit = (ROOT / "config" / "monitor-worker@.service").read_text()
    assert "ExecStart=/opt/newmedia-monitor/bin/monitor worker --source-address %i" in unit
    assert "MONITOR_DB" not in unit and "ReadWritePaths" not in unit
    compose = (ROOT / "config" / "docker-compose.scale-out.yml").read_text()
    for n in (1, 2, 3):
        assert f'"--source-address", "${{WORKER{n}_ADDRESS}}"' in compose
    assert "MONITOR_QUEUE__BROKER_URL: redis://redis:6379/0" in compose
    assert compose.count("monitor-data:/data") == 1  # only the coordinator has the database


def test_the_readmes_default_commands_need_no_redis():
    readme = (ROOT / "README.md").read_text()
    for first, after in (
        ("## Quickstart", "## Concepts"),
        ("## Running as a service", "## Scale out"),
    ):
        section = readme[readme.index(first) : readme.index(after)]
        assert "redis" not in section.lower() and "monitor worker" not in section, first
    assert "](docs/scale-out.md)" in readme


def test_the_simulator_limits_each_client_address_on_its_own(tmp_path):
    import httpx

    scenario = Scenario(accounts=[], rate_limit_per_client_s=2)
    with SimulatorServer(scenario) as server:
        answers: dict[str, list[int]] = {}
        for address in ("127.0.0.2", "127.0.0.3"):
            transport = httpx.HTTPTransport(local_address=address)
            with httpx.Client(transport=transport) as client:
                url = f"{server.url}/api/container/getIndex?type=uid&value=1"
                answers[address] = [client.get(url).status_code for _ in range(3)]
        stats = server.stats
    # A burst of the limit passes from each address; the third is the platform's refusal.
    assert [a[2] for a in answers.values()] == [418, 418]
    assert all(418 not in a[:2] for a in answers.values()), answers
    assert stats["over_limit_by_client"] == {"127.0.0.2": 1, "127.0.0.3": 1}
    assert stats["by_client"] == {"127.0.0.2": 3, "127.0.0.3": 3}


def test_simulate_takes_a_per_client_limit_into_the_scenario(tmp_path, no_monitor_env):
    out = tmp_path / "s.json"
    code = main(
        [
            "simulate",
            "--generate",
            "5",
            "--no-serve",
            "--rate-limit-per-client",
            "5",
            "--scenario-out",
            str(out),
        ]
    )
    assert code == 0
    assert Scenario.model_validate_json(out.read_text()).rate_limit_per_client_s == 5


def test_worker_refuses_to_start_without_a_broker_or_with_an_address_it_cannot_use(
    capsys, monkeypatch, no_monitor_env
):
    assert main(["worker"]) == 2
    assert "MONITOR_QUEUE__BROKER_URL" in capsys.readouterr().err
    monkeypatch.setenv("MONITOR_QUEUE__BROKER_URL", "redis://127.0.0.1:1/0")
    assert main(["worker", "--source-address", "not-an-ip"]) == 2
    assert "--source-address" in capsys.readouterr().err
    # TEST-NET-3: an address this host does not have.
    assert main(["worker", "--source-address", "203.0.113.77"]) == 1
    assert "cannot send from 203.0.113.77" in capsys.readouterr().err


def test_queue_settings_refuse_a_broker_that_is_not_redis_and_a_source_address_that_is_not_ip(
    monkeypatch, no_monitor_env
):
    from monitor.settings import ConfigError, load_settings

    monkeypatch.setenv("MONITOR_QUEUE__BROKER_URL", "amqp://guest:pw@host//")
    with pytest.raises(ConfigError) as err:
        load_settings()
    assert "queue.broker_url" in str(err.value) and "pw" not in str(err.value)
    monkeypatch.delenv("MONITOR_QUEUE__BROKER_URL")
    monkeypatch.setenv("MONITOR_HTTP__SOURCE_ADDRESS", "eth0")
    with pytest.raises(ConfigError) as err:
        load_settings()
    assert "http.source_address" in str(err.value)
    monkeypatch.setenv("MONITOR_HTTP__SOURCE_ADDRESS", "127.0.0.2")
    assert load_settings().queue.redeliver_after_s == 300


def test_a_coordinator_restart_gives_up_a_dead_coordinators_sent_checks_and_claims(
    tmp_path, no_monitor_env
):
    import asyncio
    import socket
    from datetime import timedelta

    from monitor.daemon import Daemon

    roster = tmp_path / "one.csv"
    roster.write_text(
        "类别,主办单位,平台,账号名称,账号ID\n市直部门,市政府,微博,政务微博,1001\n", encoding="utf-8"
    )
    db = tmp_path / "m.db"
    assert main(["--db", str(db), "import", str(roster)]) == 0
    now = datetime.now(UTC)
    dead = f"{socket.gethostname()}:{2**22 + 4321}:gone"  # no such process
    settings = Settings(queue={"broker_url": "redis://127.0.0.1:1/0"})  # type: ignore[arg-type]
    with Store.open(db) as store:
        account = store.accounts_at(now)[0]
        with store.transaction():
            store.ensure_schedule(now)
            assert store.claim_checks([account.id], dead, now, now + timedelta(hours=6))
            store.add_sent_checks([SentCheck("old", account.id, "weibo", "t", dead, now)])

        async def start() -> None:
            async with Daemon(store, settings) as daemon:
                assert daemon.remote is not None

        asyncio.run(start())
        assert store.sent_check_counts() == {"abandoned": 1}
        assert store.due_accounts(datetime.now(UTC)) == [account.id]  # due again at once
        # A late result of the dead coordinator's check is never recorded.
        assert store.end_sent_checks(["old"], "recorded", now) == set()


def _claims(db: Path) -> int:
    conn = sqlite3.connect(db)
    try:
        return conn.execute(
            "SELECT COUNT(*) FROM schedule WHERE claimed_by IS NOT NULL"
        ).fetchone()[0]
    finally:
        conn.close()


def test_without_workers_run_once_gives_up_after_three_redeliveries_and_sigterm_leaves_nothing_claimed(
    city, redis_url, tmp_path
):
    import subprocess
    import sys

    scenario, server, roster = city
    db = tmp_path / "m.db"
    assert main(["--db", str(db), "import", str(roster)]) == 0
    env = monitor_env(server.url, scenario) | {
        "MONITOR_DB": str(db),
        "MONITOR_QUEUE__BROKER_URL": redis_url,
        "MONITOR_QUEUE__REDELIVER_AFTER_S": "1",
        "MONITOR_SCHEDULE__SHUTDOWN_GRACE_S": "1",
    }
    started = time.monotonic()
    done = run_coordinator(env, tmp_path, timeout=60)
    assert done.returncode == 0, done.stderr
    assert "no result from any fetch worker" in done.stderr
    assert time.monotonic() - started < 30
    assert sent_checks(db) == {"abandoned": len(scenario.accounts)}
    assert _claims(db) == 0  # every account stays due for the next sweep

    proc = subprocess.Popen(
        [sys.executable, "-m", "monitor", "run", "--once"],
        env=env | {"MONITOR_QUEUE__REDELIVER_AFTER_S": "300"},
        cwd=tmp_path,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 30
    while sent_checks(db).get("open", 0) == 0:
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline
        time.sleep(0.05)
    proc.send_signal(signal.SIGTERM)
    _out, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    assert '"stopped": true' in err
    assert "open" not in sent_checks(db)
    assert _claims(db) == 0
    assert sum(observations_per_account(db).values()) == 0  # no worker ran: nothing to record


def test_with_redis_unreachable_run_once_ends_with_every_account_still_due(city, tmp_path):
    from scale_out_procs import free_port

    scenario, server, roster = city
    db = tmp_path / "m.db"
    assert main(["--db", str(db), "import", str(roster)]) == 0
    env = monitor_env(server.url, scenario) | {
        "MONITOR_DB": str(db),
        "MONITOR_QUEUE__BROKER_URL": f"redis://127.0.0.1:{free_port()}/0",  # nobody listens
    }
    done = run_coordinator(env, tmp_path, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "cannot send a task" in done.stderr
    assert f'"deferred": {len(scenario.accounts)}' in done.stderr
    assert "open" not in sent_checks(db) and _claims(db) == 0
    assert sum(observations_per_account(db).values()) == 0
