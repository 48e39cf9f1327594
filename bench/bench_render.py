"""CPU cost of judging and of rendering, without a database: per verdict and per XLSX row.

    python bench/bench_render.py --accounts 100000

Times one verdict (`classify` of a zombie, its reason worded through its code) and
the XLSX of a synthetic report (every account in 全部账号, 5% in 问题账号, widths
and row heights measured), as process CPU time, best of three. Compare two
checkouts by running the script in each.
"""

from __future__ import annotations

import argparse
import random
import time
import timeit
from datetime import UTC, date, datetime

from monitor.classify import Windows, classify
from monitor.dates import zone
from monitor.models import Observation, Outcome, Platform, RosterFacts, State
from monitor.reports.model import (
    AccountRow,
    DetailRow,
    LastUpdate,
    Problem,
    RegionTally,
    Report,
    Tally,
)
from monitor.reports.render_xlsx import render_xlsx


def verdict_us(n: int = 50_000) -> float:
    tz = zone("Asia/Shanghai")
    seen = datetime(2020, 3, 3, tzinfo=UTC)
    evidence = Observation(
        account=1,
        observed_at=seen,
        source="weibo",
        outcome=Outcome.OK,
        latest_post_at=datetime(2020, 1, 1, tzinfo=UTC),
    )
    facts, windows, day = RosterFacts(Platform.WEIBO), Windows(), date(2020, 3, 4)

    def one() -> object:
        return classify(facts, evidence, windows, day, tz, last_checked_at=seen)

    return min(timeit.repeat(one, number=n, repeat=5)) / n * 1e6


def synthetic_report(n: int) -> Report:
    rng = random.Random(1)
    accounts, rows = [], []
    # Reasons as codes where the checkout has them (so two checkouts can be compared).
    coded = "reason_code" in AccountRow.__dataclass_fields__
    reason = (
        {"reason_code": "verdict.zombie.last_post",
         "reason_params": {"post": "2020-01-10", "limit": "2020-01-29", "window": "1mo"}}
        if coded else {}
    )  # fmt: skip
    platforms = [Platform.WECHAT, Platform.WEIBO, Platform.DOUYIN]
    for i in range(n):
        state = State.ZOMBIE if i % 20 == 0 else State.ACTIVE
        platform = platforms[i % 3]
        ident = (
            f"wx{rng.getrandbits(64):016x}"
            if platform is Platform.WECHAT
            else str(rng.randrange(10**9, 10**10))
        )
        unit, url = f"石泉县第{i % 500}单位", f"https://m.weibo.cn/detail/{i:016d}"
        accounts.append(
            AccountRow(
                i, "石泉县", unit, platform, f"账号{i}", ident, "operating", state,
                "僵尸微博" if state is State.ZOMBIE else "正常", "2020-01-10", 50,
                "2020-02-28 10:00", url, "last post 2020-01-10, before 2020-01-29", **reason,
            )
        )  # fmt: skip
        if state is State.ZOMBIE:
            rows.append(
                DetailRow(
                    i, "石泉县", unit, platform, f"账号{i}", ident, LastUpdate.DATE,
                    date(2020, 1, 10), Problem.ZOMBIE_WEIBO, 50, url,
                )
            )  # fmt: skip
    rows.sort(key=lambda r: r.unit)
    policy = {"zombie_after": "1mo", "suspended_after": "6mo", "warn_before": "3d",
              "evidence_max_age": "3d"}  # fmt: skip
    return Report(
        as_of=date(2020, 2, 29),
        month="2020-02",
        previous_as_of=date(2020, 1, 31),
        timezone="Asia/Shanghai",
        policy=policy,
        summary=Tally(accounts=n),
        regions=[RegionTally("石泉县", Tally(accounts=n))],
        top_units=[],
        new_problems=[],
        recovered=[],
        roster_findings=[],
        rows=rows,
        accounts=accounts,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--accounts", type=int, default=100_000)
    args = parser.parse_args()
    print(f"classify, one zombie verdict: {verdict_us():.2f} µs")
    report = synthetic_report(args.accounts)
    best = float("inf")
    for _ in range(3):
        started = time.process_time()
        data = render_xlsx(report)
        best = min(best, time.process_time() - started)
    print(
        f"render_xlsx, {args.accounts} accounts: {best:.2f} s CPU "
        f"({best / args.accounts * 1e6:.0f} µs an account), {len(data) / 1e6:.1f} MB"
    )


if __name__ == "__main__":
    main()
