"""Load: one sweep of a big simulated city under rate limits while the API serves reads.

Four processes on loopback, one database file:

- the simulator, `python -m monitor simulate --scenario F --ready-file R`, with
  `rate_limit_per_s` (a token bucket per protocol: Weibo, WeChat, feeds) and latency;
- `python -m monitor serve` on a free port;
- ONE sweep, `python -m monitor run --once`, with the monitor's limits just under the
  simulator's (`MONITOR_LIMITS__WEIBO__RATE_PER_S` etc. = 0.9 x rate), so the sweep runs
  "under rate limits": a request over the limit would end its check `rate_limited`;
- this process: reader threads issuing API reads for the whole sweep (GET
  /api/accounts/{id}, GET /api/accounts?region=..&limit=50, GET /healthz), and a
  sampler reading the sweep process's VmRSS from /proc/<pid>/status and the progress
  (`SELECT COUNT(*) FROM observations`, read-only) every second.

The city: weibo and feed accounts (Douyin/Toutiao/Bilibili through RSSHub-style
feeds) and a few WeChat accounts. A feed check is ONE request, a Weibo check two
(profile + timeline), a WeChat check's first datacube scan about 185 calls (paced
per check, so WeChat gets one worker). Posts are spread over 300 days: active,
warning, zombie and suspended verdicts all occur.

Figures: checks done, errors (sweep exit code, Traceback / "database is locked" in
the stderr of the sweep and of the API server, API non-200 answers), requests over
the limit (rate_limited observations), API reads done and their p50/p95 per kind,
the sweep process's RSS at 10%, 50%, 90% and 100% of the sweep (and its peak,
including the reclassification after the sweep) and the growth between 10% and 100%.

Usage:
    python bench/bench_load.py --accounts 100000 --rate 250
    python bench/bench_load.py --accounts 5000 --rate 250 --json-out figures.json
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import signal
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from monitor.simulator import Scenario, SimAccount, write_roster  # noqa: E402
from monitor.simulator.names import REGIONS  # noqa: E402

FEED_LABELS = ("douyin", "toutiao", "bilibili")
ERROR_MARKERS = ("Traceback", "database is locked")
PROGRESS_POINTS = (0.1, 0.2, 0.5, 0.9, 1.0)


# -- the city ------------------------------------------------------------------------------


def platform_of(i: int, weibo_share: float, wechat_share: float) -> str:
    """A deterministic interleaving: every account's platform from its index."""
    if wechat_share > 0 and i % round(1 / wechat_share) == 0:
        return "wechat"
    # Spread weibo accounts evenly among the rest (Bresenham-style).
    return "weibo" if int((i + 1) * weibo_share) > int(i * weibo_share) else "feed"


def city(n: int, weibo_share: float = 0.3, wechat_share: float = 0.001) -> Scenario:
    """n accounts over 11 regions and n/4 units; latest posts 0.5-300 days old."""
    now = datetime.now(UTC)
    rng = random.Random(8)
    accounts = []
    for i in range(n):
        platform = platform_of(i, weibo_share, wechat_share)
        latest = now - timedelta(days=0.5 + rng.random() ** 2 * 300)
        posts = [latest - timedelta(days=3 * k, hours=k) for k in range(3)]
        extra: dict[str, Any] = {}
        if platform == "feed":
            extra["platform_label"] = FEED_LABELS[i % 3]
        elif platform == "wechat":
            extra["publish"] = "freepublish"
        accounts.append(
            SimAccount(
                platform=platform,
                account_id=str(1_000_000_000 + i),
                name=f"政务账号{i}",
                unit=f"单位{i // 4}",
                region=REGIONS[(i // 4) % len(REGIONS)],
                posts=posts,
                **extra,
            )
        )
    return Scenario(accounts=accounts)


# -- processes -----------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_ready(path: Path, proc: subprocess.Popen, timeout: float = 300) -> dict[str, str]:
    deadline = time.monotonic() + timeout
    while not path.exists():
        if proc.poll() is not None:
            raise RuntimeError(f"the simulator exited with {proc.returncode}")
        if time.monotonic() > deadline:
            raise RuntimeError("the simulator never became ready")
        time.sleep(0.1)
    lines = path.read_text(encoding="utf-8").splitlines()
    return dict(line.split("=", 1) for line in lines if "=" in line)


def wait_http(url: str, proc: subprocess.Popen, timeout: float = 120) -> None:
    import httpx

    deadline = time.monotonic() + timeout
    while True:
        if proc.poll() is not None:
            raise RuntimeError(f"the API server exited with {proc.returncode}")
        try:
            if httpx.get(url, timeout=5).status_code == 200:
                return
        except httpx.TransportError:
            pass
        if time.monotonic() > deadline:
            raise RuntimeError(f"{url} never answered 200")
        time.sleep(0.2)


def vm_rss_kb(pid: int) -> int | None:
    """VmRSS of a live process in kB (None once it is gone)."""
    try:
        with open(f"/proc/{pid}/status", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except (FileNotFoundError, ProcessLookupError):
        return None
    return None


def vm_hwm_kb(pid: int) -> int | None:
    """VmHWM (peak resident set) of a live process in kB."""
    try:
        with open(f"/proc/{pid}/status", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except (FileNotFoundError, ProcessLookupError):
        return None
    return None


RECLASSIFY = """
import sys, time
from monitor.checks.record import reclassify
from monitor.dates import utcnow
from monitor.settings import load_settings
from monitor.store import Store
settings = load_settings(None)
with Store.open(sys.argv[1]) as store:
    started = time.monotonic()
    out = reclassify(store, settings, utcnow())
    print(out["accounts"], round(time.monotonic() - started, 1))
with open("/proc/self/status") as fh:
    print(next(line.split()[1] for line in fh if line.startswith("VmHWM:")))
"""


def reclassify_alone(db: Path, env: dict[str, str], cwd: Path) -> dict[str, Any]:
    """The daily reclassification of every account, in a process of its own: its peak RSS."""
    done = subprocess.run(
        [sys.executable, "-c", RECLASSIFY, str(db)],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        check=True,
    )
    lines = done.stdout.split()
    return {
        "accounts": int(lines[0]),
        "seconds": float(lines[1]),
        "peak_rss_mb": round(int(lines[2]) / 1024, 1),
    }


def cpu_s(pid: int) -> float | None:
    """User + system CPU seconds of a live process (None once it is gone)."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as fh:
            fields = fh.read().rpartition(")")[2].split()
    except (FileNotFoundError, ProcessLookupError):
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def observations_count(db: Path) -> int:
    """Rows in observations, read through a read-only connection (0 before the schema)."""
    try:
        conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=10)
    except sqlite3.OperationalError:
        return 0
    try:
        return conn.execute("SELECT COUNT(*) FROM observations").fetchone()[0]
    except sqlite3.OperationalError:
        return 0
    finally:
        conn.close()


def stop_process(proc: subprocess.Popen, timeout: float = 20) -> int:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout)
    return proc.returncode


# -- API readers ---------------------------------------------------------------------------


class Readers:
    """`threads` threads issuing GETs at about `rate` a second in all, until stop()."""

    def __init__(self, url: str, n_accounts: int, regions: list[str], rate: float, threads: int):
        self.url, self.n, self.regions = url, n_accounts, regions
        self.interval = threads / rate
        self.results: list[tuple[str, int, float, float]] = []  # kind, status, started, seconds
        self.errors: list[str] = []
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._threads = [
            threading.Thread(target=self._work, args=(k,), name=f"reader-{k}", daemon=True)
            for k in range(threads)
        ]

    def start(self) -> None:
        for t in self._threads:
            t.start()

    def stop(self) -> None:
        self._stop.set()
        for t in self._threads:
            t.join(120)

    def _request(self, rng: random.Random) -> tuple[str, str]:
        roll = rng.random()
        if roll < 0.6:
            return "account", f"/api/accounts/{rng.randint(1, self.n)}"
        if roll < 0.9:
            region = rng.choice(self.regions)
            state = rng.choice(("", "&state=zombie", "&state=active", "&state=unknown"))
            return "region_list", f"/api/accounts?region={region}{state}&limit=50"
        return "healthz", "/healthz"

    def _work(self, k: int) -> None:
        import httpx

        rng = random.Random(k)
        time.sleep(rng.uniform(0, self.interval))  # spread the threads' phases
        with httpx.Client(base_url=self.url, timeout=120) as client:
            while not self._stop.is_set():
                kind, path = self._request(rng)
                started = time.monotonic()
                try:
                    status = client.get(path).status_code
                except httpx.HTTPError as exc:
                    status = 0
                    with self._lock:
                        self.errors.append(f"{path}: {type(exc).__name__}: {exc}")
                took = time.monotonic() - started
                with self._lock:
                    self.results.append((kind, status, started, took))
                self._stop.wait(max(0.0, self.interval - took))

    def summary(self, during: tuple[float, float] | None = None) -> dict[str, Any]:
        with self._lock:
            rows = list(self.results)
        if during is not None:
            rows = [r for r in rows if during[0] <= r[2] <= during[1]]
        out: dict[str, Any] = {
            "reads": len(rows),
            "non_200": sum(1 for r in rows if r[1] != 200),
            "statuses": dict(sorted(_count(str(r[1]) for r in rows).items())),
        }
        for kind in ("account", "region_list", "healthz", "all"):
            times = sorted(r[3] for r in rows if kind in ("all", r[0]))
            if times:
                out[kind] = {
                    "n": len(times),
                    "p50_ms": round(statistics.median(times) * 1000, 1),
                    "p95_ms": round(_pct(times, 0.95) * 1000, 1),
                    "max_ms": round(times[-1] * 1000, 1),
                }
        return out


def _count(items: Any) -> dict[str, int]:
    out: dict[str, int] = {}
    for x in items:
        out[x] = out.get(x, 0) + 1
    return out


def _pct(sorted_values: list[float], q: float) -> float:
    return sorted_values[min(len(sorted_values) - 1, int(q * len(sorted_values)))]


def stderr_problems(text: str) -> list[str]:
    """Lines of a process's stderr that show an error (traceback, lock timeout)."""
    return [
        line
        for line in text.splitlines()
        if any(m.lower() in line.lower() for m in ERROR_MARKERS) or re.search(r"\bERROR\b", line)
    ]


# -- the run -------------------------------------------------------------------------------


def run_load(
    accounts: int,
    rate: float,
    *,
    workdir: Path,
    latency_ms: float = 20.0,
    concurrency: int = 8,
    weibo_share: float = 0.3,
    wechat_share: float = 0.001,
    read_rate: float = 20.0,
    readers: int = 4,
    log: Callable[[str], None] = print,
) -> dict[str, Any]:
    """Run the whole load scenario once; the figures (see the module docstring)."""
    workdir.mkdir(parents=True, exist_ok=True)
    scenario = city(accounts, weibo_share, wechat_share).model_copy(
        update={"rate_limit_per_s": rate, "latency_ms": latency_ms}
    )
    mix = _count(a.platform for a in scenario.accounts)
    files = {
        k: workdir / v
        for k, v in {
            "scenario": "scenario.json",
            "ready": "ready.env",
            "roster": "roster.csv",
            "db": "load.db",
            "sim_err": "simulator.stderr",
            "api_err": "serve.stderr",
            "run_err": "run.stderr",
        }.items()
    }
    scenario.save(files["scenario"])
    db = files["db"]
    for old in (files["ready"], db, Path(f"{db}-wal"), Path(f"{db}-shm")):
        old.unlink(missing_ok=True)
    base_env = {k: v for k, v in os.environ.items() if not k.startswith("MONITOR_")}
    base_env["PYTHONPATH"] = str(ROOT)
    monitor = [sys.executable, "-m", "monitor"]
    procs: list[subprocess.Popen] = []
    handles = []

    def spawn(args: list[str], env: dict[str, str], err: Path) -> subprocess.Popen:
        fh = err.open("w", encoding="utf-8")
        handles.append(fh)
        proc = subprocess.Popen(
            args, env=env, cwd=workdir, stdout=subprocess.DEVNULL, stderr=fh, text=True
        )
        procs.append(proc)
        return proc

    log(f"load: {accounts} accounts {mix}, simulator limit {rate}/s per protocol, in {workdir}")
    try:
        sim = spawn(
            [*monitor, "simulate", "--scenario", str(files["scenario"]), "--ready-file",
             str(files["ready"])],
            base_env,
            files["sim_err"],
        )  # fmt: skip
        sim_env = wait_ready(files["ready"], sim)
        write_roster(scenario, files["roster"], sim_env["MONITOR_WEIBO__BASE_URL"])
        env = base_env | sim_env | {"MONITOR_DB": str(db)}
        under = f"{0.9 * rate:g}"
        for source in ("WEIBO", "FEED"):
            env[f"MONITOR_LIMITS__{source}__RATE_PER_S"] = under
            env[f"MONITOR_LIMITS__{source}__MAX_CONCURRENT"] = str(concurrency)
        # WeChat is paced per check (a first scan is ~185 calls): one at a time stays
        # far under the simulator's bucket (latency caps one worker at 1/latency calls/s).
        env["MONITOR_LIMITS__WECHAT_API__RATE_PER_S"] = under
        env["MONITOR_LIMITS__WECHAT_API__MAX_CONCURRENT"] = "1"
        started = time.monotonic()
        imported = subprocess.run(
            [*monitor, "import", str(files["roster"])],
            env=env,
            cwd=workdir,
            capture_output=True,
            text=True,
            check=False,
        )
        if imported.returncode != 0:
            raise RuntimeError(f"import failed: {imported.stderr[-2000:]}")
        import_s = time.monotonic() - started

        port = free_port()
        api = spawn(
            [*monitor, "serve", "--host", "127.0.0.1", "--port", str(port)], env, files["api_err"]
        )
        url = f"http://127.0.0.1:{port}"
        wait_http(url + "/healthz", api)
        reader = Readers(url, accounts, sorted({a.region for a in scenario.accounts}),
                         read_rate, readers)  # fmt: skip
        reader.start()

        run = spawn([*monitor, "run", "--once"], env, files["run_err"])
        run_started = time.monotonic()
        samples: list[dict[str, Any]] = []
        while run.poll() is None:
            rss = vm_rss_kb(run.pid)
            done = observations_count(db)
            wal = Path(f"{db}-wal")
            samples.append(
                {
                    "t": round(time.monotonic() - run_started, 1),
                    "observations": done,
                    "rss_kb": rss,
                    "api_rss_kb": vm_rss_kb(api.pid),
                    "cpu_s": [cpu_s(p.pid) for p in (run, api, sim)],
                    "wal_mb": round(wal.stat().st_size / 2**20, 1) if wal.exists() else 0,
                }
            )
            if len(samples) % 30 == 0:
                log(f"  {samples[-1]}")
            # Every second; faster near the end so the sweep's last moments are seen
            # even when the process exits right after it.
            time.sleep(0.2 if done >= 0.95 * accounts else 1.0)
        run_wall = time.monotonic() - run_started
        run_end = time.monotonic()
        reader.stop()
        reads = reader.summary((run_started, run_end))
        read_errors = reader.errors[:10]
        api_peak_kb = vm_hwm_kb(api.pid)
        api_exit = stop_process(api)
        stop_process(sim)
        log("reclassifying every account in a process of its own")
        daily = reclassify_alone(db, env, workdir)
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait(10)
        for fh in handles:
            fh.close()

    run_log = files["run_err"].read_text(encoding="utf-8", errors="replace")
    api_log = files["api_err"].read_text(encoding="utf-8", errors="replace")
    sweeps = [
        json.loads(line.split(" sweep ", 1)[1])
        for line in run_log.splitlines()
        if " monitor.daemon sweep {" in line
    ]
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        outcomes = dict(conn.execute("SELECT outcome, COUNT(*) FROM observations GROUP BY outcome"))
        per_account = dict(
            conn.execute(
                "SELECT n, COUNT(*) FROM (SELECT a.id, COUNT(o.id) AS n FROM accounts a "
                "LEFT JOIN observations o ON o.account = a.id GROUP BY a.id) GROUP BY n"
            )
        )
        n_accounts = conn.execute("SELECT COUNT(*) FROM accounts").fetchone()[0]
    finally:
        conn.close()

    rss_at: dict[str, Any] = {}
    for p in PROGRESS_POINTS:
        hit = next((s for s in samples if s["observations"] >= p * accounts and s["rss_kb"]), None)
        rss_at[f"{round(p * 100)}%"] = (
            {
                "t_s": hit["t"],
                "rss_mb": round(hit["rss_kb"] / 1024, 1),
                "api_rss_mb": round((hit["api_rss_kb"] or 0) / 1024, 1),
            }
            if hit
            else None
        )
    live = [s for s in samples if s["rss_kb"]]
    if rss_at["100%"] is None and live:  # exited before a sample saw the last check
        last = live[-1]
        rss_at["100%"] = {
            "t_s": last["t"],
            "rss_mb": round(last["rss_kb"] / 1024, 1),
            "observations": last["observations"],
        }
    sweep_end = next((s["t"] for s in samples if s["observations"] >= accounts), None)
    in_sweep = [s for s in live if s["observations"] < accounts]
    after = [s["rss_kb"] for s in live if s["observations"] >= accounts]
    (workdir / "samples.json").write_text(json.dumps(samples), encoding="utf-8")
    api_rss = [s["api_rss_kb"] for s in samples if s["api_rss_kb"]]

    def growth(a: str, b: str) -> float | None:
        if rss_at.get(a) and rss_at.get(b):
            return round(rss_at[b]["rss_mb"] - rss_at[a]["rss_mb"], 1)
        return None

    sweep = sweeps[0] if sweeps else {}
    cpu = [s["cpu_s"] for s in samples if None not in s["cpu_s"]]
    return {
        "accounts": accounts,
        "mix": mix,
        "simulator_limit_per_s": rate,
        "monitor_limit_per_s": float(under),
        "latency_ms": latency_ms,
        "concurrency": concurrency,
        "import_s": round(import_s, 1),
        "run_exit": run.returncode,
        "run_wall_s": round(run_wall, 1),
        "sweep_s": sweep.get("duration_s"),
        "sweep_end_seen_at_s": sweep_end,
        "sweep_lines": len(sweeps),
        "checked": sweep.get("checked"),
        "due": sweep.get("due"),
        "deferred": sweep.get("deferred"),
        "sweep_failed": sweep.get("failed"),
        "requests": sweep.get("requests"),
        "accounts_in_db": n_accounts,
        "observations_per_account": {str(k): v for k, v in sorted(per_account.items())},
        "outcomes": outcomes,
        "rate_limited": outcomes.get("rate_limited", 0),
        "run_stderr_problems": stderr_problems(run_log)[:10],
        "api_stderr_problems": stderr_problems(api_log)[:10],
        "api_exit": api_exit,
        "api_reads": reads,
        "api_read_errors": read_errors,
        "rss_at": rss_at,
        "rss_growth_10_to_100_mb": growth("10%", "100%"),
        "rss_growth_20_to_100_mb": growth("20%", "100%"),
        # The last sample before the last check was written, and the peak after it
        # (`run --once` then reclassifies every account: all verdicts in memory).
        "rss_last_in_sweep": {
            "t_s": in_sweep[-1]["t"],
            "observations": in_sweep[-1]["observations"],
            "rss_mb": round(in_sweep[-1]["rss_kb"] / 1024, 1),
        }
        if in_sweep
        else None,
        "rss_after_sweep_peak_mb": round(max(after) / 1024, 1) if after else None,
        "rss_peak_sampled_mb": round(max(s["rss_kb"] for s in live) / 1024, 1) if live else None,
        "api_rss_mb": {
            "first": round(api_rss[0] / 1024, 1) if api_rss else None,
            "last": round(api_rss[-1] / 1024, 1) if api_rss else None,
            "max": round(max(api_rss) / 1024, 1) if api_rss else None,
            "peak_hwm": round(api_peak_kb / 1024, 1) if api_peak_kb else None,
        },
        "reclassify_alone": daily,
        "cpu_s_last_sample": dict(zip(("run", "serve", "simulate"), cpu[-1], strict=True))
        if cpu
        else None,
        "wal_mb_max": max((s["wal_mb"] for s in samples), default=0),
        "samples": len(samples),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--accounts", type=int, default=100_000)
    parser.add_argument(
        "--rate", type=float, default=250.0, help="simulator limit, requests/s per protocol"
    )
    parser.add_argument("--latency-ms", type=float, default=20.0)
    parser.add_argument("--concurrency", type=int, default=8, help="weibo/feed max_concurrent")
    parser.add_argument("--weibo-share", type=float, default=0.3)
    parser.add_argument("--wechat-share", type=float, default=0.001)
    parser.add_argument("--read-rate", type=float, default=20.0, help="API reads/s in all")
    parser.add_argument("--readers", type=int, default=4, help="reader threads")
    parser.add_argument("--workdir", type=Path, default=None)
    parser.add_argument("--json-out", type=Path, default=None)
    args = parser.parse_args()
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="bench-load-"))
    figures = run_load(
        args.accounts,
        args.rate,
        workdir=workdir,
        latency_ms=args.latency_ms,
        concurrency=args.concurrency,
        weibo_share=args.weibo_share,
        wechat_share=args.wechat_share,
        read_rate=args.read_rate,
        readers=args.readers,
        log=lambda m: print(m, file=sys.stderr, flush=True),
    )
    text = json.dumps(figures, indent=2, ensure_ascii=False)
    if args.json_out:
        args.json_out.write_text(text + "\n", encoding="utf-8")
    print(text)


if __name__ == "__main__":
    main()
