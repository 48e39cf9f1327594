"""`monitor demo`: see the whole product work on a simulated city, offline."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from monitor.cli.app import app

# The demo sweeps its city in one go on this machine: a large city is a benchmark's job.
MAX_DEMO_ACCOUNTS = 100_000


@app.command()
def demo(
    folder: Annotated[Path, typer.Option("--dir", help="Working folder (emptied first).")] = Path(
        "monitor-demo"
    ),
    accounts: Annotated[
        int, typer.Option("--accounts", help="Accounts in the simulated city.")
    ] = 420,
    seed: Annotated[int, typer.Option("--seed", help="Seed of the simulated city.")] = 2020,
    mkdir: Annotated[
        bool, typer.Option("--mkdir", help="Create --dir's parent folders when missing.")
    ] = False,
) -> None:
    """Run the monitor on a simulated city: import, one sweep, summary, reports.

    Needs no network and no configuration; leaves nothing running.

    Example: monitor demo --dir /tmp/demo
    """
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn

    from monitor.cli.session import WorkFailed
    from monitor.demo import DemoError, run_demo
    from monitor.demo_output import print_demo

    if not 20 <= accounts <= MAX_DEMO_ACCOUNTS:
        from monitor.cli.session import UsageProblem

        raise UsageProblem(f"--accounts: give 20 to {MAX_DEMO_ACCOUNTS:,}")
    console = Console(highlight=False, width=None if sys.stdout.isatty() else 120)
    progress = Progress(
        "[progress.description]{task.description}",
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
    )
    task = progress.add_task("正在检测账号", total=None)
    console.print(
        f"newmedia-monitor 演示：模拟城市的 {accounts} 个账号，工作目录 {folder}/（无需联网）"
    )
    try:
        with progress:
            result = run_demo(
                folder,
                accounts=accounts,
                seed=seed,
                mkdir=mkdir,
                on_roster=lambda n: progress.update(task, total=n),
                on_check=lambda _r: progress.advance(task),
            )
    except DemoError as exc:
        raise WorkFailed(str(exc)) from exc
    print_demo(console, result)
