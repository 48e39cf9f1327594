"""The least CPU per check any client can spend on the sweep's traffic on this machine.

`bench_sweep.py` measures the monitor. This measures stripped-down clients doing
only the traffic of a Weibo check (two paced GETs to the same simulator: the
profile, then the timeline), so the monitor's figure can be read against the
machine's floor:

- blocking: one thread, one keep-alive socket, `time.sleep` pacing, the body read
  by Content-Length and nothing else (no asyncio at all);
- asyncio: an `asyncio.Protocol` client on keep-alive connections, a pacer that
  lets a due start go on an answer's wakeup, `--concurrency` workers (the least
  an asyncio daemon can do for this traffic);
- asyncio+json: the same, plus `json.loads` of both answers;
- blocking+adapter: the real `WeiboAdapter` (parsing, dates, the observation),
  run outside any event loop on a blocking getter in one thread: the best case of
  moving checks off the event loop, before any verdict or database work;
- cold factor: CPU of one `json.loads` of a timeline answer after a 1/rate pause,
  over the same back to back (what running at the sweep's pace costs here), and
  per parse when 5 or 10 of them follow one pause.

Usage:
    python bench/bench_floor.py --checks 300 --rate 20 --latency-ms 50 --concurrency 4
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from collections import deque
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_sweep import ROOT, city, wait_ready

from adapters._http import Fetched
from adapters.base import AdapterContext, CheckTarget
from adapters.weibo import WeiboAdapter
from monitor.models import Platform
from monitor.settings import Settings

FIRST_UID = 1_000_000_000


def check_paths(i: int) -> tuple[str, str]:
    """The two requests of one Weibo check, as the adapter sends them."""
    uid = FIRST_UID + i
    profile = f"/api/container/getIndex?type=uid&value={uid}"
    return profile, f"{profile}&containerid=107603{uid}"


def request(path: str, netloc: str) -> bytes:
    return f"GET {path} HTTP/1.1\r\nHost: {netloc}\r\nUser-Agent: bench\r\n\r\n".encode()


def split_head(head: bytes) -> tuple[int, int]:
    """Status and Content-Length of a response head."""
    lines = head.split(b"\r\n")
    length = 0
    for line in lines[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value)
    return int(lines[0].split()[1]), length


def blocking(netloc: str, checks: int, rate: float) -> list[int]:
    """Paced GETs from one thread with a blocking socket; the statuses."""
    host, _, port = netloc.rpartition(":")
    sock = socket.create_connection((host, int(port)))
    buf, statuses = b"", []
    interval, due = 1 / rate, time.monotonic()
    for i in range(checks):
        for path in check_paths(i):
            pause = due - time.monotonic()
            if pause > 0:
                time.sleep(pause)
            due = max(due, time.monotonic()) + interval
            sock.sendall(request(path, netloc))
            while b"\r\n\r\n" not in buf:
                buf += sock.recv(65536)
            head, _, buf = buf.partition(b"\r\n\r\n")
            status, length = split_head(head)
            while len(buf) < length:
                buf += sock.recv(65536)
            buf = buf[length:]
            statuses.append(status)
    sock.close()
    return statuses


class _BlockingGetter:
    """An `HttpGetter` whose `get` never suspends: paced blocking GETs on one socket."""

    def __init__(self, netloc: str, rate: float):
        host, _, port = netloc.rpartition(":")
        self.sock = socket.create_connection((host, int(port)))
        self.netloc, self.interval, self.due, self.buf = netloc, 1 / rate, time.monotonic(), b""
        self.statuses: list[int] = []

    async def get(self, url: str, **_: Any) -> Fetched:
        pause = self.due - time.monotonic()
        if pause > 0:
            time.sleep(pause)
        self.due = max(self.due, time.monotonic()) + self.interval
        parts = urlsplit(url)
        self.sock.sendall(request(f"{parts.path}?{parts.query}", self.netloc))
        while b"\r\n\r\n" not in self.buf:
            self.buf += self.sock.recv(65536)
        head, _, self.buf = self.buf.partition(b"\r\n\r\n")
        status, length = split_head(head)
        while len(self.buf) < length:
            self.buf += self.sock.recv(65536)
        body, self.buf = self.buf[:length], self.buf[length:]
        self.statuses.append(status)
        return Fetched(url, status, {"content-type": "application/json"}, body)


def blocking_adapter(netloc: str, checks: int, rate: float) -> list[int]:
    """WeiboAdapter checks driven to completion without an event loop; the statuses."""
    getter = _BlockingGetter(netloc, rate)
    ctx = AdapterContext(
        http=getter,
        settings=Settings(weibo={"base_url": f"http://{netloc}"}),
        secrets={},  # type: ignore[arg-type]
        clock=lambda: datetime.now(UTC),
    )
    adapter = WeiboAdapter()
    for i in range(checks):
        target = CheckTarget(i, Platform.WEIBO, str(FIRST_UID + i), "bench")
        coro = adapter.check(target, ctx)
        try:
            coro.send(None)
        except StopIteration as done:
            if not done.value.observation.is_evidence:
                getter.statuses.append(-1)
        else:
            raise SystemExit("the adapter suspended on a getter that never does")
    getter.sock.close()
    return getter.statuses


class _Answer(asyncio.Protocol):
    """One keep-alive connection; `pending` gets (status, body) once a response is complete."""

    def __init__(self) -> None:
        self.buf = b""
        self.head: tuple[int, int] | None = None
        self.pending: asyncio.Future[tuple[int, bytes]] | None = None

    def data_received(self, data: bytes) -> None:
        self.buf += data
        if self.head is None:
            head, sep, rest = self.buf.partition(b"\r\n\r\n")
            if not sep:
                return
            self.head, self.buf = split_head(head), rest
        status, length = self.head
        if len(self.buf) >= length and self.pending is not None:
            body, self.buf, self.head = self.buf[:length], self.buf[length:], None
            self.pending.set_result((status, body))


class _Pacer:
    """Starts at least 1/rate apart; a due start goes on whatever wakeup comes first."""

    def __init__(self, rate: float) -> None:
        self.interval = 1 / rate
        self.last = -1e9
        self.waiters: deque[asyncio.Future[None]] = deque()
        self.timer: asyncio.TimerHandle | None = None

    async def wait(self) -> None:
        if not self.waiters and time.monotonic() - self.last >= self.interval:
            self.last = time.monotonic()
            return
        turn = asyncio.get_running_loop().create_future()
        self.waiters.append(turn)
        self._arm()
        await turn

    def nudge(self) -> None:
        if self.waiters and time.monotonic() - self.last >= self.interval:
            self.last = time.monotonic()
            self.waiters.popleft().set_result(None)
        self._arm()

    def _arm(self) -> None:
        if self.timer is None and self.waiters:
            loop = asyncio.get_running_loop()
            self.timer = loop.call_at(self.last + self.interval * 1.1, self._fire)

    def _fire(self) -> None:
        self.timer = None
        self.nudge()


async def lean_asyncio(
    netloc: str, checks: int, rate: float, concurrency: int, parse: bool
) -> list[int]:
    """Paced GETs from `concurrency` asyncio workers; the statuses."""
    loop = asyncio.get_running_loop()
    host, _, port = netloc.rpartition(":")
    pacer, todo, statuses = _Pacer(rate), deque(range(checks)), []

    async def worker() -> None:
        transport, conn = await loop.create_connection(_Answer, host, int(port))
        while todo:
            for path in check_paths(todo.popleft()):
                await pacer.wait()
                conn.pending = loop.create_future()
                transport.write(request(path, netloc))
                status, body = await conn.pending
                pacer.nudge()
                if parse:
                    json.loads(body)
                statuses.append(status)
        transport.close()

    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return statuses


def cpu_ms_per_check(run: Callable[[], list[int]], checks: int) -> tuple[float, int]:
    """CPU ms per check of `run`, and how many of its answers were not HTTP 200 (or failed)."""
    began = time.process_time()
    statuses = run()
    return round((time.process_time() - began) * 1000 / checks, 3), sum(
        1 for s in statuses if s != 200
    )


def cold_factor(netloc: str, rate: float, rounds: int = 200) -> dict[str, float]:
    """µs of one json.loads of a timeline answer: after a 1/rate pause, back to back,
    and when 5 or 10 parses follow one pause (what handing answers on together saves)."""
    host, _, port = netloc.rpartition(":")
    with socket.create_connection((host, int(port))) as sock:
        sock.sendall(request(check_paths(0)[1], netloc))
        raw = b""
        while True:
            raw += sock.recv(65536)
            head, sep, body = raw.partition(b"\r\n\r\n")
            if sep and len(body) >= split_head(head)[1]:
                break
    out = {}
    for name, pause, batch in (
        ("after_pause_us", 1 / rate, 1),
        ("back_to_back_us", 0.0, 1),
        ("after_pause_5_in_a_row_us", 1 / rate, 5),
        ("after_pause_10_in_a_row_us", 1 / rate, 10),
    ):
        spent, pauses = 0.0, max(1, rounds // batch)
        for _ in range(pauses):
            if pause:
                time.sleep(pause)
            began = time.thread_time()
            for _ in range(batch):
                json.loads(body)
            spent += time.thread_time() - began
        out[name] = round(spent / (pauses * batch) * 1e6, 1)
    out["factor"] = round(out["after_pause_us"] / out["back_to_back_us"], 1)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checks", type=int, default=300)
    parser.add_argument("--rate", type=float, default=20.0, help="requests/s (and sim limit)")
    parser.add_argument("--latency-ms", type=float, default=50.0)
    parser.add_argument("--concurrency", type=int, default=4)
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="bench-floor-"))
    city(args.checks).save(work / "scenario.json")
    env = {k: v for k, v in os.environ.items() if not k.startswith("MONITOR_")}
    env["PYTHONPATH"] = str(ROOT)
    sim = subprocess.Popen(
        [
            *(sys.executable, "-m", "monitor", "simulate"),
            *("--scenario", str(work / "scenario.json")),
            *("--ready-file", str(work / "ready.env")),
            *("--latency-ms", str(args.latency_ms), "--rate-limit", str(args.rate)),
        ],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        netloc = urlsplit(wait_ready(work / "ready.env", sim)["MONITOR_WEIBO__BASE_URL"]).netloc
        n = args.checks
        result: dict[str, object] = {
            "checks": n,
            "rate_per_s": args.rate,
            "latency_ms": args.latency_ms,
            "concurrency": args.concurrency,
        }
        for name, run in (
            ("blocking", lambda: blocking(netloc, n, args.rate)),
            (
                "asyncio",
                lambda: asyncio.run(lean_asyncio(netloc, n, args.rate, args.concurrency, False)),
            ),
            (
                "asyncio+json",
                lambda: asyncio.run(lean_asyncio(netloc, n, args.rate, args.concurrency, True)),
            ),
            ("blocking+adapter", lambda: blocking_adapter(netloc, n, args.rate)),
        ):
            time.sleep(1.5)  # let the simulator's rate bucket fill up again
            ms, refused = cpu_ms_per_check(run, n)
            result[f"{name}_cpu_ms_per_check"] = ms
            result[f"{name}_not_200"] = refused
        result["json_loads_cold"] = cold_factor(netloc, args.rate)
    finally:
        sim.terminate()
        sim.wait(30)
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
