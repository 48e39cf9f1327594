"""`monitor config check`: validate the configuration, naming every problem's key."""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from monitor.cli.app import config_app
from monitor.cli.options import (
    ConfigOption,
)
from monitor.cli.session import (
    Globals,
)
from monitor.settings import ConfigError, database_path, load_settings


@config_app.command("check")
def config_check(
    ctx: typer.Context,
    file: Annotated[
        str | None, typer.Argument(help="Config file (default --config / MONITOR_CONFIG).")
    ] = None,
    config: ConfigOption = None,
) -> None:
    """Validate a config file and the MONITOR_* environment; list every problem with its key.

    Example: monitor config check config/monitor.example.toml
    """
    g: Globals = ctx.find_root().obj or Globals()
    target = file or config or g.config
    try:
        settings = load_settings(target)
    except ConfigError as exc:
        for key, message in exc.problems:
            sys.stderr.write(f"{exc.source}: {key}: {message}\n")
        sys.stderr.write(f"{exc.source}: {len(exc.problems)} problem(s)\n")
        raise typer.Exit(2) from None  # as every other command refuses it
    where = target or "defaults and environment"
    sys.stdout.write(f"{where}: OK\n")
    sys.stdout.write(f"  timezone: {settings.timezone}\n  policy: {settings.policy.describe()}\n")
    sys.stdout.write(f"  database: {database_path(None, settings)}\n")
