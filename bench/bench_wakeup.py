"""What one wakeup from idle costs on this machine: the floor under "CPU ms per check".

A daemon pacing 20 requests/s sleeps between events, and on a virtual machine
each return from sleep costs far more CPU than the same code run warm. This
prints the on-CPU time (from /proc/self/schedstat, else process_time) of one
wakeup: a plain `time.sleep`, and an `asyncio.sleep` in a running event loop
(what the daemon's pacing and answers amount to), at a given rate.

Usage:
    python bench/bench_wakeup.py --rate 20 --wakeups 400
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
    parser.add_argument("--rate", type=float, default=20.0, help="wakeups per second")
    parser.add_argument("--wakeups", type=int, default=400)
    args = parser.parse_args()
    gap = 1 / args.rate

    def plain() -> None:
        for _ in range(args.wakeups):
            time.sleep(gap)

    async def looped() -> None:
        for _ in range(args.wakeups):
            await asyncio.sleep(gap)

    result = {
        "rate_per_s": args.rate,
        "wakeups": args.wakeups,
        "time_sleep_us_per_wakeup": per_wakeup_us(plain, args.wakeups),
        "asyncio_sleep_us_per_wakeup": per_wakeup_us(lambda: asyncio.run(looped()), args.wakeups),
    }
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
