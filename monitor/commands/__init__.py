"""CLI commands that live outside `monitor/cli.py`, one module each.

Every module here defines `register(app: typer.Typer) -> None`, which adds its
commands with `@app.command(...)`; modules are registered in name order. A
module may import the shared options and `Session` from `monitor.cli` (already
loaded when `register` runs) and keeps heavy imports inside the command
functions so `monitor --help` stays fast.
"""

import pkgutil


def command_modules() -> list[str]:
    """The names of the command modules in this package, sorted."""
    return sorted(m.name for m in pkgutil.iter_modules(__path__) if not m.name.startswith("_"))
