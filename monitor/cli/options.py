"""Options shared by several commands, declared once."""

from __future__ import annotations

from typing import Annotated

import typer

DbOption = Annotated[
    str | None,
    typer.Option(
        "--db", help="Database file (else MONITOR_DB, else the config, else ./monitor.db)."
    ),
]
ConfigOption = Annotated[
    str | None, typer.Option("--config", help="Config file (TOML; else MONITOR_CONFIG).")
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")]
AsOfOption = Annotated[
    str | None,
    typer.Option(
        "--as-of", help="Judge as of this date (YYYY-MM-DD, configured zone); default today."
    ),
]
ZombieOption = Annotated[
    str | None,
    typer.Option("--zombie-after", help="Zombie window, e.g. 14d, 1mo (default from config)."),
]
SuspendedOption = Annotated[
    str | None, typer.Option("--suspended-after", help="Suspension window, e.g. 6mo.")
]
WarnOption = Annotated[
    str | None,
    typer.Option("--warn-before", help="Warn this long before the zombie window, e.g. 3d."),
]
EvidenceOption = Annotated[
    str | None,
    typer.Option("--evidence-max-age", help="Older evidence makes a verdict unknown, e.g. 3d."),
]
