"""Errors as JSON with a message (HTML for dashboard pages); never a 500 for user input.

ApiError(status, message)   raised by routes: 404 unknown id, 409 cannot, 422 bad input
RequestValidationError      FastAPI's parameter validation -> 422 with the problems
HTTPException               Starlette's (unknown path, method) -> same JSON shape
StoreError                  the database cannot be used -> 503
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from monitor.store import StoreError

log = logging.getLogger(__name__)

API_PREFIXES = ("/api", "/healthz", "/metrics", "/docs", "/openapi", "/redoc")


class ApiError(Exception):
    """An expected failure with the status and message the client gets."""

    def __init__(self, status: int, message: str, **extra: Any):
        super().__init__(message)
        self.status = status
        self.message = message
        self.extra = extra


def is_api_path(path: str) -> bool:
    return path.startswith(API_PREFIXES)


def error_response(
    request: Request, status: int, message: str, headers: dict[str, str] | None = None, **extra: Any
) -> Response:
    """JSON for the API, a small Chinese page for dashboard paths."""
    if is_api_path(request.url.path):
        return JSONResponse(
            {"message": message, "status": status, **extra}, status_code=status, headers=headers
        )
    templates = request.app.state.templates
    return HTMLResponse(
        templates.get_template("error.html").render(
            request=request, status=status, message=message, nav=None
        ),
        status_code=status,
        headers=headers,
    )


def _validation_problems(exc: RequestValidationError) -> list[dict[str, Any]]:
    out = []
    for err in exc.errors():
        loc = [str(p) for p in err.get("loc", ()) if p not in ("query", "path", "body")]
        out.append({"field": ".".join(loc) or "(request)", "message": str(err.get("msg", ""))})
    return out


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(ApiError)
    async def _api_error(request: Request, exc: ApiError) -> Response:
        return error_response(request, exc.status, exc.message, **exc.extra)

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> Response:
        problems = _validation_problems(exc)
        message = "; ".join(f"{p['field']}: {p['message']}" for p in problems) or "invalid request"
        return error_response(request, 422, message, errors=problems)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> Response:
        message = exc.detail if isinstance(exc.detail, str) else "error"
        if exc.status_code == 404 and message == "Not Found":
            message = f"no such path: {request.url.path}"
        headers = dict(exc.headers) if exc.headers else None
        return error_response(request, exc.status_code, message, headers=headers)

    @app.exception_handler(StoreError)
    async def _store(request: Request, exc: StoreError) -> Response:
        log.error("database problem: %s", exc)
        return error_response(request, 503, f"database unavailable: {exc}")

    @app.exception_handler(Exception)
    async def _bug(request: Request, exc: Exception) -> Response:
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        return error_response(request, 500, "internal error (logged on the server)")
