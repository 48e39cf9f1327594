"""`monitor serve`: the JSON API and the dashboard (FastAPI + uvicorn)."""

import errno
import logging
import socket
from typing import Annotated

import typer

from monitor.cli.app import app
from monitor.cli.options import ConfigOption, DbOption


def listening_socket(host: str, port: int) -> socket.socket:
    """A socket bound to host:port for uvicorn; a one-line WorkFailed when it cannot be."""
    from monitor.cli.session import WorkFailed

    # The family as uvicorn picks it, so "localhost" stays IPv4 as before.
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    # As uvicorn does: a restart must not wait for the old connections' TIME_WAIT.
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        where = f"[{host}]:{port}" if family == socket.AF_INET6 else f"{host}:{port}"
        hint = (
            " (is another `monitor serve` running? choose a port with --port)"
            if exc.errno == errno.EADDRINUSE
            else ""
        )
        raise WorkFailed(f"serve: cannot listen on {where}: {exc.strerror}{hint}") from None
    return sock


def is_loopback(host: str) -> bool:
    """Whether only this machine can reach `host` (127.0.0.0/8, ::1, ::ffff:127.x, localhost)."""
    import ipaddress

    if host.strip().lower() == "localhost":
        return True
    try:
        address = ipaddress.ip_address(host.strip().strip("[]"))
    except ValueError:
        return False  # any other name may resolve to a reachable address
    mapped = getattr(address, "ipv4_mapped", None)
    return address.is_loopback or (mapped is not None and mapped.is_loopback)


def warn_if_open(log: logging.Logger, host: str, token: object) -> None:
    """Warn (`serve` and `run --serve` alike) when anyone who can reach `host` may read."""
    if token is None and not is_loopback(host):
        log.warning(
            "listening on %s without api.token: anyone who can reach it can read the "
            "dashboard (writes stay refused)",
            host or "every address",
        )


@app.command()
def serve(
    ctx: typer.Context,
    host: Annotated[
        str | None,
        typer.Option("--host", help="Address to listen on (default api.host: 127.0.0.1)."),
    ] = None,
    port: Annotated[
        int | None,
        typer.Option("--port", help="Port (default api.port: 8080).", min=0, max=65535),
    ] = None,
    db: DbOption = None,
    config: ConfigOption = None,
) -> None:
    """Serve the JSON API (/api, OpenAPI docs at /docs) and the dashboard (/).

    Runs beside `monitor run` on the same database file. With api.token set
    (MONITOR_API__TOKEN) every request needs `Authorization: Bearer <token>`
    (a browser opens any page once with ?token=<token>); without it, writes
    are refused.

    Example: monitor serve --port 8080
    """
    import sys

    import uvicorn

    from monitor.api import create_app
    from monitor.cli.session import Session

    s = Session(ctx, db, config)
    api = s.settings.api
    host = host or api.host
    port = api.port if port is None else port
    if not logging.getLogger().handlers:
        logging.basicConfig(
            level=logging.INFO,
            stream=sys.stderr,
            format="%(asctime)s %(levelname)s %(name)s %(message)s",
        )
    sock = listening_socket(host, port)
    log = logging.getLogger("monitor.api")
    warn_if_open(log, host, api.token)
    bound = sock.getsockname()[1]
    log.info("listening on http://%s:%d/", f"[{host}]" if ":" in host else host, bound)
    app = create_app(s.settings, s.db_path)
    config_ = uvicorn.Config(
        app, host=host, port=port, log_config=None, server_header=False, lifespan="on"
    )
    uvicorn.Server(config_).run(sockets=[sock])
