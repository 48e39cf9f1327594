"""`monitor run --serve`: the daemon and the API in one process, stopped by SIGTERM."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def serve_until_answered(
    tmp_path: Path, env: dict[str, str], args: list[str], path: str
) -> tuple[int | None, str, httpx.Response | None]:
    """Start `monitor ARGS --port P`, wait for GET path to answer, SIGTERM it: (exit, stderr, answer)."""
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "monitor", *args, "--port", str(port)],
        env=env,
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    answer, code = None, None
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                answer = httpx.get(f"http://127.0.0.1:{port}{path}", timeout=2)
                break
            except httpx.TransportError:
                time.sleep(0.2)
        proc.send_signal(signal.SIGTERM)
        code = proc.wait(20)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(5)
    return code, proc.stderr.read(), answer


def test_run_serve_answers_the_api_while_the_daemon_runs_and_exits_0_on_sigterm(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("MONITOR_")}
    env["MONITOR_DB"] = str(tmp_path / "m.db")
    # The daemon writes last month's report at start: keep it in the test's folder.
    env["MONITOR_REPORTS__FOLDER"] = str(tmp_path / "reports")
    # Accounts without a source: the daemon has nothing to fetch, nothing leaves loopback.
    roster = tmp_path / "r.csv"
    roster.write_text(
        "类别,主办单位,平台,账号名称\n市直部门,市统计局,抖音,统计抖音\n", encoding="utf-8"
    )
    subprocess.run(
        [sys.executable, "-m", "monitor", "import", str(roster)],
        env=env,
        check=True,
        capture_output=True,
    )
    code, stderr, answer = serve_until_answered(tmp_path, env, ["run", "--serve"], "/api/accounts")
    assert answer is not None and answer.status_code == 200
    assert answer.json()["items"][0]["name"] == "统计抖音"
    assert code == 0
    assert "Traceback" not in stderr


def test_run_serve_with_once_is_a_usage_error(tmp_path, capsys):
    from monitor.cli import main

    assert main(["run", "--once", "--serve", "--db", str(tmp_path / "m.db")]) == 2


def _warning_of(tmp_path: Path, args: list[str], token: str | None) -> str:
    """The `without api.token` warning line (without its timestamp) a server logs, or ""."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("MONITOR_")}
    env["MONITOR_DB"] = str(tmp_path / "m.db")
    if token:
        env["MONITOR_API__TOKEN"] = token
    _code, stderr, _answer = serve_until_answered(
        tmp_path, env, [*args, "--host", "0.0.0.0"], "/healthz"
    )
    lines = [line for line in stderr.splitlines() if "without api.token" in line]
    return lines[0].split(" ", 2)[2] if lines else ""


def test_run_serve_warns_like_serve_when_it_listens_beyond_loopback_without_a_token(tmp_path):
    run_warning = _warning_of(tmp_path, ["run", "--serve"], None)
    serve_warning = _warning_of(tmp_path, ["serve"], None)
    assert "listening on 0.0.0.0 without api.token" in run_warning
    assert run_warning == serve_warning
    assert _warning_of(tmp_path, ["run", "--serve"], "a-long-secret-token") == ""


def test_only_loopback_addresses_count_as_loopback():
    from monitor.cli.serve import is_loopback

    for host in (
        "127.0.0.1",
        "127.0.0.2",
        "::1",
        "[::1]",
        "localhost",
        "LOCALHOST",
        "::ffff:127.0.0.1",
    ):
        assert is_loopback(host), host
    for host in (
        "0.0.0.0",
        "::",
        "",
        "10.0.0.5",
        "192.168.1.2",
        "monitor.example",
        "::ffff:10.0.0.1",
    ):
        assert not is_loopback(host), host
