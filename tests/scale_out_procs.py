"""Processes for scale-out tests and the benchmark: redis-server, fetch workers, a coordinator.

- `redis_server(folder)`: Debian's redis-server on a free loopback port, its files in `folder`;
- `start_workers(env, addresses, folder)`: `monitor worker --source-address A` each, until ready;
- `run_coordinator(env)`: `monitor run --once` (with `MONITOR_QUEUE__BROKER_URL` in `env`);
- `redis_contents(url)`: every key and value in the Redis (for the secret search).
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def redis_server(folder: Path) -> Iterator[str]:
    """A private redis-server on loopback (no persistence); its URL."""
    binary = shutil.which("redis-server")
    assert binary is not None, "redis-server is not installed"
    folder.mkdir(parents=True, exist_ok=True)
    for _attempt in range(5):
        port = free_port()
        proc = subprocess.Popen(
            [
                binary,
                "--port",
                str(port),
                "--bind",
                "127.0.0.1",
                "--dir",
                str(folder),
                "--save",
                "",
                "--appendonly",
                "no",
                "--protected-mode",
                "yes",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=0.2) as c:
                    c.sendall(b"PING\r\n")
                    if c.recv(16).startswith(b"+PONG"):
                        break
            except OSError:
                time.sleep(0.05)
        if proc.poll() is None:
            break
    else:
        raise RuntimeError("redis-server did not start")
    try:
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def start_workers(
    env: dict[str, str], addresses: list[str], folder: Path, *, concurrency: int = 4
) -> list[subprocess.Popen]:
    """`monitor worker --source-address A` for each address, once Celery says each is ready."""
    procs = []
    for address in addresses:
        log = folder / f"worker-{address}.log"
        with log.open("w") as handle:
            procs.append(
                subprocess.Popen(
                    [
                        sys.executable,
                        "-m",
                        "monitor",
                        "worker",
                        "--source-address",
                        address,
                        "--concurrency",
                        str(concurrency),
                    ],
                    env=env,
                    cwd=folder,
                    stdout=handle,
                    stderr=subprocess.STDOUT,
                    text=True,
                )
            )
    deadline = time.monotonic() + 90
    for address, proc in zip(addresses, procs, strict=True):
        log = folder / f"worker-{address}.log"
        while " ready." not in log.read_text(encoding="utf-8", errors="replace"):
            if proc.poll() is not None or time.monotonic() > deadline:
                for p in procs:
                    p.kill()
                raise AssertionError(f"worker on {address} never became ready:\n{log.read_text()}")
            time.sleep(0.05)
    return procs


def stop_worker(proc: subprocess.Popen) -> None:
    """SIGTERM (a warm shutdown), then kill."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def run_coordinator(
    env: dict[str, str], cwd: Path, timeout: float = 300
) -> subprocess.CompletedProcess:
    """`monitor run --once` to the end."""
    return subprocess.run(
        [sys.executable, "-m", "monitor", "run", "--once"],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def base_env(extra: dict[str, str]) -> dict[str, str]:
    """This process's environment without MONITOR_* variables, plus `extra`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("MONITOR_")}
    env["PYTHONPATH"] = str(ROOT)
    return env | extra


def redis_contents(url: str) -> list[bytes]:
    """Every key of the Redis and every value under it, as bytes."""
    import redis

    client = redis.Redis.from_url(url)
    out: list[bytes] = []
    for key in client.scan_iter(count=1000):
        out.append(key)
        kind = client.type(key)
        if kind == b"string":
            out.append(client.get(key) or b"")
        elif kind == b"list":
            out += client.lrange(key, 0, -1)
        elif kind == b"hash":
            for field, value in client.hgetall(key).items():
                out += [field, value]
        elif kind == b"set":
            out += list(client.smembers(key))
        elif kind == b"zset":
            out += [m for m, _ in client.zrange(key, 0, -1, withscores=True)]
    client.close()
    return out
