"""Running the app with uvicorn: inside an existing event loop, or in a background thread.

`monitor serve` uses uvicorn's own loop and signal handling. The daemon
(`monitor run --serve`) calls `serve(app, host, port, should_exit)` in its loop:
uvicorn must not take over SIGTERM/SIGINT there, the daemon owns them and sets
`should_exit` instead.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import uvicorn

from monitor.settings import Settings

log = logging.getLogger(__name__)


class _EmbeddedServer(uvicorn.Server):
    """A uvicorn server that leaves signal handling to its host process."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


def _config(app: Any, host: str, port: int, **kwargs: Any) -> uvicorn.Config:
    return uvicorn.Config(
        app,
        host=host,
        port=port,
        lifespan="on",
        log_config=None,  # keep the host process's logging setup
        server_header=False,
        **kwargs,
    )


async def serve(
    app: Any,
    host: str,
    port: int,
    should_exit: asyncio.Event | Callable[[], bool] | None = None,
    **uvicorn_kwargs: Any,
) -> None:
    """Serve `app` in the running loop until `should_exit` is set (or returns True).

    Example (in the daemon):
        stop = asyncio.Event()
        task = asyncio.create_task(serve(create_app(settings, db), host, port, stop))
        ...; stop.set(); await task
    """
    server = _EmbeddedServer(_config(app, host, port, **uvicorn_kwargs))

    async def watch() -> None:
        while not server.should_exit:
            done = should_exit.is_set() if isinstance(should_exit, asyncio.Event) else (
                should_exit() if should_exit is not None else False
            )  # fmt: skip
            if done:
                server.should_exit = True
                return
            await asyncio.sleep(0.1)

    watcher = asyncio.create_task(watch())
    try:
        await server.serve()
    finally:
        watcher.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await watcher


class BackgroundServer:
    """A uvicorn server on its own thread; `.url`, `.port`, `.stop()`."""

    def __init__(self, app: Any, host: str, port: int, **uvicorn_kwargs: Any):
        self.host = host
        self._server = _EmbeddedServer(_config(app, host, port, **uvicorn_kwargs))
        self._thread = threading.Thread(target=self._server.run, name="monitor-api", daemon=True)
        self.port = port

    def start(self, timeout: float = 15.0) -> BackgroundServer:
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not self._server.started:
            if not self._thread.is_alive():
                raise RuntimeError(f"API server did not start on {self.host}:{self.port}")
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"API server not listening after {timeout:g} s")
            time.sleep(0.02)
        for server in self._server.servers:
            for sock in server.sockets:
                self.port = sock.getsockname()[1]
                break
        return self

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    def stop(self, timeout: float = 10.0) -> None:
        """Ask the server to finish its requests and stop; wait for the thread."""
        self._server.should_exit = True
        if self._thread.is_alive():
            self._thread.join(timeout)

    def __enter__(self) -> BackgroundServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def serve_in_background(
    settings: Settings, db_path: str, host: str = "127.0.0.1", port: int = 0, **uvicorn_kwargs: Any
) -> BackgroundServer:
    """Create the app and serve it on a thread (port 0 = a free port); returns once listening."""
    from monitor.api.app import create_app

    app = create_app(settings, db_path)
    return BackgroundServer(app, host, port, **uvicorn_kwargs).start()
