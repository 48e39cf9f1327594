"""The API over real sockets: a check through the simulator, a real uvicorn, and reads
that run while another process writes the same database file."""

from __future__ import annotations

import os
import random
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient
from test_api_support import build_city, settings_for

from monitor.api import create_app, serve_in_background
from monitor.cli import main
from monitor.settings import load_settings
from monitor.simulator import SimulatorServer, env_lines, generate_city, write_roster
from monitor.simulator.roster import roster_platform

TOKEN = "live-test-token"
ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def simulated(tmp_path, monkeypatch):
    """A simulated city on loopback, its roster imported, the env pointed at it."""

    def start(size: int, **knobs: float):
        scenario = generate_city(size, seed=11)
        if knobs:
            scenario = scenario.model_copy(update=knobs)
        server = SimulatorServer(scenario, seed=11)
        url = server.start()
        servers.append(server)
        roster = tmp_path / "city.csv"
        write_roster(scenario, roster, url)
        env = {k: v for k, v in os.environ.items() if not k.startswith("MONITOR_")}
        for key in list(os.environ):
            if key.startswith("MONITOR_"):
                monkeypatch.delenv(key)
        for line in env_lines(url, scenario.wechat_secret):
            key, _, value = line.partition("=")
            env[key] = value
        db = tmp_path / "m.db"
        env.update(
            MONITOR_DB=str(db),
            MONITOR_HTTP__TIMEOUT_S="2",
            MONITOR_API__TOKEN=TOKEN,
        )
        for source in ("WEIBO", "WECHAT_API", "FEED"):
            env[f"MONITOR_LIMITS__{source}__RATE_PER_S"] = "1000"
            env[f"MONITOR_LIMITS__{source}__MAX_CONCURRENT"] = "20"
        for key, value in env.items():
            if key.startswith(("MONITOR_", "SIM_")):
                monkeypatch.setenv(key, value)
        assert main(["import", str(roster)]) == 0
        return scenario, db, env

    servers: list[SimulatorServer] = []
    yield start
    for server in servers:
        server.stop()


def test_a_check_through_the_simulator_stores_an_observation_and_returns_the_verdict(
    simulated, capsys
):
    scenario, db, _env = simulated(40)
    capsys.readouterr()
    settings = load_settings()
    assert settings.network.allowed_networks == ["127.0.0.1/32"]  # the simulator's own address
    sim = next(
        a
        for a in scenario.accounts
        if a.platform == "weibo" and a.fault is None and a.exists and a.posts
    )
    with TestClient(create_app(settings, db, warm=False)) as client:
        listed = client.get(
            "/api/accounts", params={"q": sim.name, "limit": 500}, headers=_auth()
        ).json()
        account = next(
            i
            for i in listed["items"]
            if i["account_id"] == sim.account_id and i["platform"] == roster_platform(sim)
        )
        assert account["state"] == "unknown"  # never checked yet
        r = client.post(f"/api/accounts/{account['id']}/check", headers=_auth())
        assert r.status_code == 200, r.text
        body = r.json()
        assert body["source"] == "weibo"
        assert body["observation"]["outcome"] == "ok"
        assert body["verdict"]["state"] in ("active", "warning", "zombie", "suspended")
        assert body["verdict"]["last_outcome"] == "ok"
        detail = client.get(f"/api/accounts/{account['id']}", headers=_auth()).json()
        assert detail["observations"][0]["id"] == body["observation"]["id"]
        assert client.post("/api/accounts/999999/check", headers=_auth()).status_code == 404


def test_the_app_answers_on_a_real_uvicorn_on_a_free_loopback_port(tmp_path):
    city = build_city(tmp_path)
    with serve_in_background(settings_for(TOKEN), str(city.db), "127.0.0.1", 0) as server:
        assert server.port > 0 and server.url.startswith("http://127.0.0.1:")
        with httpx.Client(base_url=server.url, headers=_auth(), timeout=10) as client:
            assert client.get("/api/accounts").json()["total"] == 8
            assert client.get("/healthz").json()["database"]["ok"] is True
            assert "政务新媒体监测" in client.get("/").text
            assert client.get("/api/accounts", headers={"Authorization": ""}).status_code == 401
    with pytest.raises(httpx.TransportError):
        httpx.get(server.url + "/healthz", timeout=2)


def test_a_thousand_reads_while_another_process_checks_every_account(simulated, capsys):
    # A slow simulator keeps the writer busy for the whole read phase.
    _scenario, db, env = simulated(300, latency_ms=40.0)
    capsys.readouterr()
    settings = load_settings()
    with serve_in_background(settings, str(db), "127.0.0.1", 0) as server:
        writer = subprocess.Popen(
            [sys.executable, "-m", "monitor", "check", "--all", "--json"],
            cwd=ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            statuses, overlapped = _hammer(server.url, writer, total=1000, threads=8)
            _out, err = writer.communicate(timeout=240)
        finally:
            if writer.poll() is None:
                writer.kill()
    assert writer.returncode == 0, err
    assert "locked" not in err.lower()
    assert len(statuses) == 1000
    bad = [s for s in statuses if s != 200]
    assert bad == [], f"{len(bad)} non-200 answers: {sorted(set(bad))}"
    assert overlapped > 100, f"only {overlapped} reads ran while the writer was running"


def _hammer(url: str, writer: subprocess.Popen, total: int, threads: int) -> tuple[list, int]:
    """`total` GETs from `threads` threads; how many of them finished while `writer` ran."""
    paths = ["/api/accounts?state=zombie&limit=20", "/api/accounts?platform=weibo", "/healthz"]

    def worker(n: int) -> list[tuple[int, bool]]:
        rng = random.Random(n)
        out = []
        with httpx.Client(base_url=url, headers=_auth(), timeout=30) as client:
            for i in range(total // threads):
                path = f"/api/accounts/{rng.randint(1, 300)}" if i % 2 else rng.choice(paths)
                r = client.get(path)
                out.append((r.status_code, writer.poll() is None))
        return out

    time.sleep(0.3)  # let the writer start its sweep
    with ThreadPoolExecutor(threads) as pool:
        results = [x for chunk in pool.map(worker, range(threads)) for x in chunk]
    return [s for s, _ in results], sum(1 for _, running in results if running)


def _auth() -> dict[str, str]:
    return {"Authorization": f"Bearer {TOKEN}"}


def test_serve_runs_inside_an_event_loop_until_should_exit_is_set(tmp_path):
    import asyncio
    import socket

    from monitor.api import serve

    city = build_city(tmp_path)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]

    async def scenario() -> int:
        stop = asyncio.Event()
        task = asyncio.create_task(
            serve(create_app(settings_for(), city.db), "127.0.0.1", port, stop)
        )
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=5) as client:
            for _ in range(100):
                try:
                    status = (await client.get("/healthz")).status_code
                    break
                except httpx.TransportError:
                    await asyncio.sleep(0.05)
        stop.set()
        await asyncio.wait_for(task, 10)
        return status

    assert asyncio.run(scenario()) == 200
