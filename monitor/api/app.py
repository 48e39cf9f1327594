"""The FastAPI application factory: routes, auth, errors, templates, lifespan."""

from __future__ import annotations

import logging
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import jinja2
from fastapi import FastAPI

from monitor.api.auth import AuthMiddleware, install_log_redaction
from monitor.api.context import ApiContext
from monitor.api.csp import ContentSecurityPolicy
from monitor.api.docs import install_docs
from monitor.api.errors import install_error_handlers
from monitor.api.queries import Queries
from monitor.api.sessions import CookieSigner
from monitor.settings import Settings
from monitor.store import Store

log = logging.getLogger(__name__)

TEMPLATES = Path(__file__).parent / "templates"


def templates_env() -> jinja2.Environment:
    """Jinja2 with autoescape always on: roster and platform text is untrusted."""
    from monitor.api import filters

    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    filters.install(env)
    return env


def create_app(settings: Settings, db_path: str | Path, *, warm: bool = True) -> FastAPI:
    """The API and dashboard on one database file.

    Migrations are applied once here; requests then use one connection per worker
    thread. `warm` brings stale stored verdicts up to date in the background at
    startup (after an upgrade or a policy change), so lists read indexes from then on.
    """
    with Store.open(db_path):  # create/migrate before serving
        pass
    ctx = ApiContext(settings, str(db_path))
    queries = Queries(ctx)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        if warm:
            threading.Thread(target=_warm, args=(queries,), name="api-warm", daemon=True).start()
        yield
        ctx.close()

    app = FastAPI(
        title="newmedia-monitor",
        description="政务新媒体监测: accounts, verdicts, alerts, reports.",
        version="0.1.0",
        lifespan=lifespan,
        docs_url=None,  # served by monitor.api.docs, with local assets
        redoc_url=None,
    )
    app.state.ctx = ctx
    app.state.queries = queries
    app.state.templates = templates_env()

    from monitor.api import (
        dashboard,
        routes_cases,
        routes_login,
        routes_ops,
        routes_read,
        routes_write,
    )

    token = settings.api.token.get_secret_value() if settings.api.token else None
    app.state.signer = CookieSigner(token)
    app.include_router(routes_read.router)
    app.include_router(routes_write.router)
    app.include_router(routes_ops.router)
    app.include_router(routes_cases.router)
    app.include_router(dashboard.router)
    app.include_router(routes_login.router)
    install_docs(app)
    install_error_handlers(app)

    app.add_middleware(AuthMiddleware, token=token, ctx=ctx, signer=app.state.signer)
    # Outside auth, so that its refusals (HTML pages too) carry the policy.
    app.add_middleware(ContentSecurityPolicy)
    if settings.api.cors_origins:
        from fastapi.middleware.cors import CORSMiddleware

        # Added last, so it is outermost: preflight requests are answered before auth.
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.api.cors_origins,
            allow_methods=["GET", "POST"],
            allow_headers=["Authorization", "Content-Type"],
        )
    install_log_redaction()
    return app


def _warm(queries: Queries) -> None:
    from monitor.checks.record import catch_up

    try:
        ctx = queries.ctx
        judged = catch_up(ctx.store(), ctx.settings, ctx.now())
        if judged:
            log.info("judged %d account(s) whose stored verdict no longer held", judged)
    except Exception:  # warming is an optimisation; lists judge stale rows on the fly
        log.warning("could not bring the stored verdicts up to date", exc_info=True)
