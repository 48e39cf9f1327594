"""The typer application every command module adds its commands to."""

from __future__ import annotations

import typer

from monitor.cli.options import ConfigOption, DbOption
from monitor.cli.session import Globals

app = typer.Typer(
    name="monitor",
    help="newmedia-monitor: find government new-media accounts that have gone silent.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)
config_app = typer.Typer(help="Inspect the configuration.", no_args_is_help=True)
app.add_typer(config_app, name="config")


@app.callback()
def _root(ctx: typer.Context, db: DbOption = None, config: ConfigOption = None) -> None:
    ctx.obj = Globals(db=db, config=config)
