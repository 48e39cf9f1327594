"""What one wakeup from idle costs on this machine: the floor under "CPU ms per check".

A daemon pacing 20 requests/s sleeps between events, and on a virtual machine
each return from sleep costs far more CPU than the same code run warm. This
prints the on-CPU time (from /proc/self/schedstat, else process_time) of one
wakeup: a plain `time.sleep`, and an `asyncio.sleep` in a running event loop
(what the daemon's pacing and answers amount to), at a given rate. Several rates
show how the cost grows with the pause before the wakeup.

Usage:
    python bench/bench_wakeup.py --rate 20 --wakeups 400
    python bench/bench_wakeup.py --rate 1000 200 50 20 5 --wakeups 200
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
from collections.abc import Callable
from pathlib import Path

SCHEDSTAT = Path("/proc/self/schedstat")


def on_cpu_s() -> float:
    """Seconds this process has run on a CPU (scheduler accounting when available)."""
    if SCHEDSTAT.exists():
        return int(SCHEDSTAT.read_text().split()[0]) / 1e9
    return time.process_time()


def per_wakeup_us(run: Callable[[], None], wakeups: int) -> float:
    began = on_cpu_s()
    run()
    return round((on_cpu_s() - began) / wakeups * 1e6, 1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--rate", type=float, nargs="+", default=[20.0], help="wakeups per second (one or more)"
    )
    parser.add_argument("--wakeups", type=int, default=400)
    args = parser.parse_args()
    results = [measure(rate, args.wakeups) for rate in args.rate]
    print(json.dumps(results[0] if len(results) == 1 else results, indent=2))


def measure(rate: float, wakeups: int) -> dict[str, float]:
    """CPU of one wakeup after a pause of 1/rate s, from time.sleep and from asyncio.sleep."""
    gap = 1 / rate

    def plain() -> None:
        for _ in range(wakeups):
            time.sleep(gap)

    async def looped() -> None:
        for _ in range(wakeups):
            await asyncio.sleep(gap)

    return {
        "rate_per_s": rate,
        "wakeups": wakeups,
        "time_sleep_us_per_wakeup": per_wakeup_us(plain, wakeups),
        "asyncio_sleep_us_per_wakeup": per_wakeup_us(lambda: asyncio.run(looped()), wakeups),
    }


if __name__ == "__main__":
    main()
