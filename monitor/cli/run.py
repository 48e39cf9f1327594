"""`monitor run`: the daemon (checks on a schedule, alerts, notifications), or one pass."""

from typing import Annotated

import typer

from monitor.cli.app import app
from monitor.cli.options import ConfigOption, DbOption


@app.command()
def run(
    ctx: typer.Context,
    once: Annotated[
        bool,
        typer.Option(
            "--once",
            help="Run every due check and the reclassification once, deliver, exit (cron).",
        ),
    ] = False,
    serve_api: Annotated[
        bool,
        typer.Option("--serve", help="Also serve the dashboard and JSON API in this process."),
    ] = False,
    host: Annotated[
        str | None, typer.Option("--host", help="API address (default [api] host).")
    ] = None,
    port: Annotated[
        int | None,
        typer.Option("--port", help="API port (default [api] port).", min=0, max=65535),
    ] = None,
    db: DbOption = None,
    config: ConfigOption = None,
) -> None:
    """Run the monitor as a daemon: scheduled checks, daily reclassification, alerts.

    Logs one structured line per sweep on stderr. SIGTERM/SIGINT stop it
    cleanly (in-flight checks get shutdown_grace_s to finish), exit 0.

    With queue.broker_url set (MONITOR_QUEUE__BROKER_URL) it is the coordinator of
    fetch workers (`monitor worker`): it sends the due checks to them through Redis
    and records their results; --once returns when every check it sent has a result.
    See docs/scale-out.md.

    Example: monitor run --serve

    Example: monitor run --once   (the coordinator, with MONITOR_QUEUE__BROKER_URL set)
    """
    import asyncio
    import logging
    import os
    import sys
    import threading

    from monitor.cli.session import Session, UsageProblem
    from monitor.daemon import Daemon
    from monitor.settings import SecretLookup, read_secrets_file

    if once and serve_api:
        raise UsageProblem("--serve runs with the daemon; it cannot be combined with --once")
    s = Session(ctx, db, config)
    if not logging.getLogger().handlers:
        logging.basicConfig(
            level=logging.INFO,
            stream=sys.stderr,
            format="%(asctime)s %(levelname)s %(name)s %(message)s",
        )
        # apprise and httpx log request URLs (credentials) at INFO/DEBUG.
        for noisy in ("httpx", "httpcore", "apprise", "apscheduler", "urllib3"):
            logging.getLogger(noisy).setLevel(logging.WARNING)
    secrets = SecretLookup(read_secrets_file(s.settings.secrets_file))
    daemon = Daemon(s.store, s.settings, secrets)

    async def main() -> bool:
        api_task = None
        async with daemon:
            daemon.install_signal_handlers()
            if serve_api:
                from monitor.api import create_app, serve
                from monitor.cli.serve import warn_if_open

                api_host = host or s.settings.api.host
                warn_if_open(logging.getLogger("monitor.api"), api_host, s.settings.api.token)
                api = create_app(s.settings, s.db_path)
                api_task = asyncio.create_task(
                    serve(
                        api,
                        api_host,
                        s.settings.api.port if port is None else port,
                        lambda: daemon.stopping,
                    )
                )
            try:
                if once:
                    await daemon.run_once()
                else:
                    await daemon.serve()
            finally:
                if api_task is not None:
                    daemon.stop()
                    await api_task
        return daemon.stopping

    stopped = asyncio.run(main())
    s.close()
    if stopped and threading.active_count() > 1:
        # Worker threads (wechatpy) still waiting on a network timeout would hold
        # the exit past the grace; everything is written, so leave now.
        sys.stdout.flush()
        sys.stderr.flush()
        logging.shutdown()
        os._exit(0)
