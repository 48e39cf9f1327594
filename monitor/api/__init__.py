"""The JSON API and the server-rendered dashboard (FastAPI + Jinja2).

`create_app(settings, db_path)` builds the application; `serve(app, host, port,
should_exit)` runs it inside an existing event loop (the daemon's `monitor run
--serve`), and `serve_in_background(settings, db_path, host, port)` runs it in a
thread and returns a handle with `.stop()`.
"""

from monitor.api.app import create_app
from monitor.api.server import BackgroundServer, serve, serve_in_background

__all__ = ["BackgroundServer", "create_app", "serve", "serve_in_background"]
