"""Benchmark: the API on a 100,000-account database, server and load in separate processes.

Usage: python bench/bench_api.py [--accounts 100000] [--requests 2000] [--concurrency 8]
       python bench/bench_api.py --load URL PATH_TEMPLATE N C   (the load process itself)

Builds the database directly (Store.apply_import + one evidence observation per
account, a failed check for every 10th), starts `monitor serve` as its own
process, then runs the load from another process with httpx/asyncio:
- GET /api/accounts/{random id}                       target p95 <= 20 ms
- GET /api/accounts?region=R&state=zombie&limit=50    (cached verdict index)
Reports requests per second, p50/p95/max latency, and the cold first filtered list.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

REGIONS = ["市直部门", "汉滨区", "汉阴县", "石泉县", "宁陕县", "紫阳县", "岚皋县", "平利县"]
PLATFORMS = ["weibo", "wechat", "douyin", "toutiao"]


def build_database(path: Path, n: int) -> None:
    """n accounts over n/4 units; latest posts spread over a year; some failed checks."""
    from monitor.models import Observation, Outcome, Platform
    from monitor.store import AccountChange, ImportRecord, Store

    now = datetime.now(UTC)
    rng = random.Random(5)
    with Store.open(path) as store:
        changes = []
        for i in range(n):
            region = REGIONS[(i // 4) % len(REGIONS)]
            changes.append(
                AccountChange(
                    identity=f"{PLATFORMS[i % 4]}:id:{i}",
                    platform=Platform(PLATFORMS[i % 4]),
                    account_id=str(1_000_000_000 + i),
                    unit=f"{region}第{i // 4}单位",
                    roster_order=i,
                    fields={"name": f"账号{i}", "region": region, "status": "operating"},
                )
            )
        store.apply_import(
            ImportRecord("bench.csv", "long", now - timedelta(days=400), None), changes
        )

        def observations():
            for account in range(1, n + 1):
                seen = now - timedelta(hours=rng.uniform(1, 30))
                yield Observation(
                    account=account,
                    observed_at=seen,
                    source="weibo",
                    outcome=Outcome.OK,
                    latest_post_at=now - timedelta(days=rng.expovariate(1 / 25)),
                    post_url=f"https://m.weibo.cn/status/{account}",
                )
                if account % 10 == 0:
                    yield Observation(
                        account, seen + timedelta(minutes=5), "weibo", Outcome.BLOCKED
                    )

        store.add_observations(observations())


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def load(url: str, template: str, total: int, concurrency: int, max_id: int) -> dict:
    """`total` GETs of `template` ({id} = random account id) with `concurrency` workers."""
    import httpx

    rng = random.Random(1)
    latencies: list[float] = []
    errors = 0
    queue = list(range(total))

    async def worker(client: httpx.AsyncClient) -> None:
        nonlocal errors
        while queue:
            queue.pop()
            path = template.replace("{id}", str(rng.randint(1, max_id)))
            started = time.perf_counter()
            r = await client.get(path)
            latencies.append((time.perf_counter() - started) * 1000)
            if r.status_code != 200:
                errors += 1

    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(base_url=url, timeout=60, limits=limits) as client:
        await client.get(template.replace("{id}", "1"))  # connect once
        started = time.perf_counter()
        await asyncio.gather(*(worker(client) for _ in range(concurrency)))
        elapsed = time.perf_counter() - started
    latencies.sort()
    return {
        "path": template,
        "requests": total,
        "concurrency": concurrency,
        "errors": errors,
        "rps": round(total / elapsed, 1),
        "p50_ms": round(statistics.median(latencies), 2),
        "p95_ms": round(latencies[int(0.95 * len(latencies)) - 1], 2),
        "max_ms": round(latencies[-1], 2),
    }


def run_load(url: str, template: str, total: int, concurrency: int, max_id: int) -> dict:
    out = subprocess.run(
        [
            sys.executable,
            __file__,
            "--load",
            url,
            template,
            str(total),
            str(concurrency),
            str(max_id),
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(out.stdout)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--accounts", type=int, default=100_000)
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--load", nargs=5, metavar=("URL", "PATH", "N", "C", "MAX_ID"))
    args = parser.parse_args()
    if args.load:
        url, template, total, conc, max_id = args.load
        print(json.dumps(asyncio.run(load(url, template, int(total), int(conc), int(max_id)))))
        return

    folder = Path(tempfile.mkdtemp(prefix="bench-api-"))
    db = folder / "m.db"
    started = time.perf_counter()
    build_database(db, args.accounts)
    print(f"built {args.accounts} accounts in {time.perf_counter() - started:.1f} s", flush=True)
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("MONITOR_")}
    server = subprocess.Popen(
        [sys.executable, "-m", "monitor", "serve", "--db", str(db), "--port", str(port)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        import httpx

        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(url + "/api/accounts/1", timeout=5).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline or server.poll() is not None:
                sys.exit("monitor serve did not come up")
            time.sleep(0.2)
        region = REGIONS[3]
        filtered = f"/api/accounts?region={region}&state=zombie&limit=50"
        cold = time.perf_counter()
        first = httpx.get(url + filtered, timeout=300)
        cold_s = time.perf_counter() - cold
        print(f"first filtered list (verdicts of all accounts, or waits for warm-up): "
              f"{cold_s:.2f} s, total={first.json()['total']}")  # fmt: skip
        rows = [
            run_load(url, "/api/accounts/{id}", args.requests, args.concurrency, args.accounts),
            run_load(url, "/api/accounts/{id}", args.requests, 1, args.accounts),
            run_load(url, filtered, args.requests // 2, args.concurrency, args.accounts),
            run_load(url, filtered + "&offset=200", args.requests // 2, 1, args.accounts),
        ]
    finally:
        server.terminate()
        server.wait(10)
    print(
        f"\n{args.accounts} accounts, server `monitor serve` (1 process), load from another process\n"
    )
    print("| request | concurrency | requests | rps | p50 ms | p95 ms | max ms | errors |")
    print("|---|---|---|---|---|---|---|---|")
    for r in rows:
        print(
            f"| `GET {r['path']}` | {r['concurrency']} | {r['requests']} | {r['rps']} | "
            f"{r['p50_ms']} | {r['p95_ms']} | {r['max_ms']} | {r['errors']} |"
        )
    print(f"\ncold first filtered list: {cold_s:.2f} s")


if __name__ == "__main__":
    main()
