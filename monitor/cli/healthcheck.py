"""`monitor healthcheck`: is the database usable and, if a daemon runs, is it alive?"""

from __future__ import annotations

import json
import sys
from typing import Annotated

import typer

from monitor.cli.app import app
from monitor.cli.options import ConfigOption, DbOption
from monitor.cli.session import Session


@app.command()
def healthcheck(
    ctx: typer.Context,
    max_age_min: Annotated[
        float,
        typer.Option(
            "--max-age-min",
            help="Unhealthy when the daemon's last sign of life is older (minutes).",
        ),
    ] = 120.0,
    require_daemon: Annotated[
        bool,
        typer.Option("--require-daemon", help="Unhealthy when no daemon has ever run."),
    ] = False,
    db: DbOption = None,
    config: ConfigOption = None,
) -> None:
    """Exit 0 when the database answers and the daemon (if any) is alive; else 1.

    Used by the Docker HEALTHCHECK. Prints one JSON line.

    Example: monitor healthcheck --max-age-min 30
    """
    from monitor.cli.session import UsageProblem

    if not 0 < max_age_min <= 366 * 24 * 60:  # also refuses nan
        raise UsageProblem("--max-age-min: give minutes from more than 0 to a year")
    s = Session(ctx, db, config)
    report = _health(s, max_age_min, require_daemon)
    sys.stdout.write(json.dumps(report, ensure_ascii=False) + "\n")
    s.close()
    if not report["healthy"]:
        raise typer.Exit(1)


def _health(s: Session, max_age_min: float, require_daemon: bool) -> dict[str, object]:
    """The one-line report: the database answers, and the daemon's last sign of life."""
    from monitor.dates import utcnow

    report: dict[str, object] = {"database": s.db_path}
    healthy = True
    try:
        store = s.store
        report["migrations"] = len(store.applied_migrations())
        beats = [
            b for b in (store.heartbeat("daemon"), store.heartbeat("daemon:sweep_started")) if b
        ]
    except Exception as exc:  # any failure to read is "unhealthy", said in one line
        report["error"] = f"{type(exc).__name__}: {exc}"
        healthy, beats = False, []
    if beats:
        newest = max(at for at, _ in beats)
        age_min = (utcnow() - newest).total_seconds() / 60
        report["daemon_last_seen"] = newest.isoformat()
        report["daemon_age_min"] = round(age_min, 1)
        if age_min > max_age_min:
            healthy = False
            report["error"] = f"daemon silent for {age_min:.0f} min (limit {max_age_min:g})"
    elif require_daemon and healthy:
        healthy = False
        report["error"] = "no daemon has run on this database"
    report["healthy"] = healthy
    return report
