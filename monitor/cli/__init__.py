"""The `monitor` command line: a thin layer that parses, calls the library and prints.

One module per command (or family): `roster` (import, accounts, units), `observe`,
`status`, `check`, `report`, `alerts`, `cases` (notices and cases), `run`, `worker`,
`serve`, `healthcheck`, `simulate`, `demo`, `config`, `users` (and `audit`), `sites`. Each
adds its commands to the one typer `app` (`monitor.cli.app`)
with decorators; shared options live in `options`, `Session` and the two errors in
`session`. A command body parses, calls the library (`monitor.checks`, `monitor.roster`,
`monitor.reports`, ...) and prints a record from `monitor.records`.

Exit codes: 0 success; 1 the work could not be done (bad roster, unknown
account, nothing could run); 2 usage or configuration errors.
"""

from __future__ import annotations

import importlib
import sys
from typing import NoReturn

import typer
from typer.exceptions import TyperException

from monitor.cli.app import app
from monitor.cli.session import UsageProblem, WorkFailed
from monitor.settings import ConfigError

# Every module that adds commands; importing one registers its commands.
COMMAND_MODULES = (
    "roster",
    "observe",
    "status",
    "check",
    "report",
    "alerts",
    "cases",
    "run",
    "worker",
    "serve",
    "healthcheck",
    "simulate",
    "demo",
    "config",
    "users",
    "sites",
)
for _name in COMMAND_MODULES:
    importlib.import_module(f"{__name__}.{_name}")


def main(argv: list[str] | None = None) -> int:
    """Run the CLI; user errors become one-line messages and exit codes, never tracebacks."""
    from monitor.store import AccountLookupError, StoreError

    command = typer.main.get_command(app)
    try:
        rv = command.main(args=argv, prog_name="monitor", standalone_mode=False)
    except TyperException as exc:
        help_ctx = getattr(exc, "ctx", None)
        if type(exc).__name__ == "NoArgsIsHelpError" and help_ctx is not None:
            sys.stdout.write(help_ctx.get_help() + "\n")
            return 2
        sys.stderr.write(f"monitor: error: {exc.format_message()}\n")
        return int(getattr(exc, "exit_code", 2))
    except typer.Exit as exc:
        return exc.exit_code
    except (typer.Abort, KeyboardInterrupt):
        sys.stderr.write("monitor: aborted\n")
        return 130
    except UsageProblem as exc:
        sys.stderr.write(f"monitor: error: {exc}\n")
        return 2
    except ConfigError as exc:
        sys.stderr.write(f"monitor: config error: {exc}\n")
        return 2
    except (WorkFailed, AccountLookupError, StoreError) as exc:
        sys.stderr.write(f"monitor: {exc}\n")
        return 1
    except BrokenPipeError:
        return 0
    except OSError as exc:
        # A file the user named cannot be read or written: say which, in one line.
        where = f"{exc.filename}: " if exc.filename else ""
        sys.stderr.write(f"monitor: {where}{exc.strerror or exc}\n")
        return 1
    return rv if isinstance(rv, int) else 0


def run() -> NoReturn:
    sys.exit(main())
