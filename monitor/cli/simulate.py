"""`monitor simulate`: the platform simulator on loopback."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from monitor.cli.app import app
from monitor.cli.session import (
    UsageProblem,
    WorkFailed,
)
from monitor.settings import database_path

# A generated city lives in memory: far more accounts than any province has.
MAX_SIMULATED_ACCOUNTS = 1_000_000


@app.command()
def simulate(
    generate: Annotated[
        int | None, typer.Option("--generate", help="Generate a city of N accounts.")
    ] = None,
    scenario: Annotated[
        Path | None, typer.Option("--scenario", help="Load a scenario file (JSON) instead.")
    ] = None,
    seed: Annotated[int, typer.Option("--seed", help="Seed of the generated city.")] = 0,
    scenario_out: Annotated[
        Path | None, typer.Option("--scenario-out", help="Write the scenario here (JSON).")
    ] = None,
    roster_out: Annotated[
        Path | None, typer.Option("--roster-out", help="Write its roster here (CSV).")
    ] = None,
    serve: Annotated[bool, typer.Option("--serve/--no-serve", help="Serve it (default).")] = True,
    host: Annotated[str, typer.Option("--host", help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", help="Port (0 = a free port).")] = 0,
    ready_file: Annotated[
        Path | None,
        typer.Option("--ready-file", help="Once listening, write the env lines here (atomically)."),
    ] = None,
    latency_ms: Annotated[
        float | None, typer.Option("--latency-ms", help="Override the scenario's latency.")
    ] = None,
    rate_limit: Annotated[
        float | None,
        typer.Option("--rate-limit", help="Override rate_limit_per_s (HTTP 418 over it)."),
    ] = None,
    rate_limit_per_client: Annotated[
        float | None,
        typer.Option(
            "--rate-limit-per-client",
            help="Limit each client address to R requests/s per protocol (the platform's "
            "refusal over it), as platforms limit each egress address.",
        ),
    ] = None,
    error_rate: Annotated[
        float | None, typer.Option("--error-rate", help="Override the share of random 500s.")
    ] = None,
    mkdir: Annotated[
        bool, typer.Option("--mkdir", help="Create the folders of the files it writes.")
    ] = False,
) -> None:
    """Run the platform simulator: Weibo, WeChat and feed protocols on loopback.

    Prints (and writes to --ready-file) the env lines that point a monitor at it.

    Example: monitor simulate --generate 500 --roster-out city.csv --ready-file sim.env

    Example: monitor simulate --generate 2000 --rate-limit-per-client 5 --ready-file sim.env
    """
    from monitor import simulator as sim
    from monitor.output_paths import OutputRefused, check_output

    if (generate is None) == (scenario is None):
        raise UsageProblem("give exactly one of --generate N or --scenario FILE")
    if generate is not None and not 1 <= generate <= MAX_SIMULATED_ACCOUNTS:
        raise UsageProblem(f"--generate: give 1 to {MAX_SIMULATED_ACCOUNTS:,} accounts")
    if not 0 <= port <= 65535:
        raise UsageProblem(f"--port: {port} is not a port (0-65535; 0 picks a free one)")
    for flag, value, top in (
        ("--latency-ms", latency_ms, 60_000.0),
        ("--rate-limit", rate_limit, 1e6),
        ("--rate-limit-per-client", rate_limit_per_client, 1e6),
        ("--error-rate", error_rate, 1.0),
    ):
        if value is not None and not 0 <= value <= top:  # also refuses nan
            raise UsageProblem(f"{flag}: give a number from 0 to {top:g}")
    try:
        if generate is not None:
            world = sim.generate_city(generate, seed=seed)
        else:
            assert scenario is not None  # one of the two, checked above
            world = sim.load_scenario(scenario)
    except sim.ScenarioError as exc:
        raise WorkFailed(str(exc)) from exc
    updates: dict[str, Any] = {}
    if latency_ms is not None:
        updates["latency_ms"] = latency_ms
    if rate_limit is not None:
        updates["rate_limit_per_s"] = rate_limit
    if rate_limit_per_client is not None:
        updates["rate_limit_per_client_s"] = rate_limit_per_client or None
    if error_rate is not None:
        updates["error_rate"] = error_rate
    if updates:
        world = world.model_copy(update=updates)
    for target in (scenario_out, roster_out, ready_file):
        if target is not None:
            try:
                check_output(target, database=database_path(None, None), mkdir=mkdir)
            except OutputRefused as exc:
                raise WorkFailed(str(exc)) from exc

    def publish(url: str) -> None:
        for path, write in (
            (scenario_out, lambda p: world.save(p)),
            (roster_out, lambda p: sim.write_roster(world, p, url)),
        ):
            if path is None:
                continue
            try:
                write(path)
            except OSError as exc:
                raise WorkFailed(f"cannot write {path}: {exc.strerror or exc}") from exc
        lines = simulator_env_lines(url, world)
        for line in lines:
            sys.stdout.write(line + "\n")
        sys.stdout.write(
            f"# simulator: {len(world.accounts)} accounts at {url}"
            + (" (Ctrl-C to stop)" if serve else "")
            + "\n"
        )
        sys.stdout.flush()
        if ready_file:
            sim.write_ready_file(ready_file, lines)

    if not serve:
        publish(f"http://{host}:{port or 8900}")
        return
    server = sim.SimulatorServer(world, host=host, port=port, seed=seed)
    try:
        server.run(publish)
    except OSError as exc:
        raise WorkFailed(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from exc


def simulator_env_lines(url: str, world: Any) -> list[str]:
    """The simulator's env lines plus politeness limits it tolerates (so sweeps take seconds)."""
    from monitor import simulator as sim

    lines = sim.env_lines(url, world.wechat_secret)
    # Each protocol has its own bucket in the simulator (and one per client address
    # with --rate-limit-per-client); stay 10% under the tighter one.
    limits = [r for r in (world.rate_limit_per_s, world.rate_limit_per_client_s) if r]
    rate = 0.9 * min(limits) if limits else 500.0
    from adapters import source_names

    for source in source_names():
        lines.append(f"MONITOR_LIMITS__{source.upper()}__RATE_PER_S={rate:g}")
        lines.append(f"MONITOR_LIMITS__{source.upper()}__MAX_CONCURRENT=50")
    # wechatpy is synchronous: each concurrent WeChat check holds a worker thread.
    lines.append("MONITOR_WECHAT__WORKER_THREADS=32")
    return lines
