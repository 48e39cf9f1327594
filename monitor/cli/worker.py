"""`monitor worker`: a fetch worker for a coordinator (`monitor run` with queue.broker_url)."""

from __future__ import annotations

from typing import Annotated

import typer

from monitor.cli.app import app
from monitor.cli.options import ConfigOption


@app.command()
def worker(
    ctx: typer.Context,
    source_address: Annotated[
        str | None,
        typer.Option(
            "--source-address",
            help="Bind every outgoing connection to this local IP (this worker's egress "
            "address; default http.source_address, else the system's).",
        ),
    ] = None,
    concurrency: Annotated[
        int,
        typer.Option(
            "--concurrency",
            help="Tasks (batches) run at once; the limits.* politeness is shared by all of "
            "them: it holds per worker, that is per egress address.",
            min=1,
            max=1000,
        ),
    ] = 2,
    config: ConfigOption = None,
) -> None:
    """Run a fetch worker: checks accounts for the coordinator through Celery and Redis.

    Needs queue.broker_url (MONITOR_QUEUE__BROKER_URL). The worker never opens the
    database: it gets accounts and their adapter state from tasks and sends back what
    it saw; a WeChat AppSecret is read from this worker's own environment (or secrets
    file) by the roster's secret_env name. SIGTERM finishes the running tasks and
    exits; kill -9 loses nothing (its tasks come back after queue.redeliver_after_s).
    See docs/scale-out.md.

    Example: monitor worker --source-address 10.0.0.12 --concurrency 2
    """
    import ipaddress
    import logging
    import os
    import socket
    import sys

    from monitor.cli.session import Session, UsageProblem, WorkFailed
    from monitor.settings import SecretLookup, read_secrets_file

    s = Session(ctx, None, config)
    settings = s.settings
    if settings.queue.broker_url is None:
        raise UsageProblem(
            "queue.broker_url is not set: give the coordinator's Redis, e.g. "
            "MONITOR_QUEUE__BROKER_URL=redis://127.0.0.1:6379/0"
        )
    if source_address is not None:
        try:
            address = str(ipaddress.ip_address(source_address.strip()))
        except ValueError:
            raise UsageProblem(
                f"--source-address: {source_address!r} is not an IP address"
            ) from None
        settings = settings.model_copy(
            update={"http": settings.http.model_copy(update={"source_address": address})}
        )
    bind = settings.http.source_address
    if bind is not None:
        try:
            family = socket.AF_INET6 if ":" in bind else socket.AF_INET
            with socket.socket(family, socket.SOCK_STREAM) as probe:
                probe.bind((bind, 0))
        except OSError as exc:
            raise WorkFailed(f"cannot send from {bind}: {exc.strerror or exc}") from exc
    if not logging.getLogger().handlers:
        logging.basicConfig(
            level=logging.INFO,
            stream=sys.stderr,
            format="%(asctime)s %(levelname)s %(name)s %(message)s",
        )
    # httpx logs request URLs; Celery's trace logs every task's return value (observations).
    for noisy in ("httpx", "httpcore", "celery.app.trace", "urllib3"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    from monitor.checks.fetch_worker import run_worker

    secrets = SecretLookup(read_secrets_file(settings.secrets_file))
    name = f"monitor-{bind or 'default'}-{os.getpid()}@{socket.gethostname()}"
    code = run_worker(settings, secrets, concurrency=concurrency, hostname=name)
    if code:
        raise typer.Exit(code)
