"""The API's documentation pages, /docs (Swagger UI) and /redoc (ReDoc), with local assets.

FastAPI's own pages load unpinned JavaScript from a CDN onto the origin that
holds the session cookie, and show nothing offline. Here the assets come from
the installed `fastapi-offline` package (it bundles them for this purpose) and
are served under /docs/assets; each page gets a Content-Security-Policy that
allows scripts from this origin only, plus the hash of the page's one inline
script (Swagger UI's start-up call).
"""

from __future__ import annotations

import base64
import hashlib
import re
from collections.abc import Callable
from functools import partial
from pathlib import Path

import fastapi_offline
from fastapi import FastAPI, Request
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

from monitor.api.csp import CSP_HEADER, docs_policy

ASSETS_URL = "/docs/assets"
ASSETS = Path(fastapi_offline.__file__).parent / "static"
_INLINE_SCRIPT = re.compile(r"<script>(.*?)</script>", re.DOTALL)


def install_docs(app: FastAPI) -> None:
    """Mount the assets and add /docs and /redoc (create the app with docs_url=None, redoc_url=None)."""
    app.mount(ASSETS_URL, StaticFiles(directory=ASSETS), name="docs-assets")

    def page(request: Request, render: Callable[..., HTMLResponse], **assets: str) -> HTMLResponse:
        root = request.scope.get("root_path", "")
        html = bytes(
            render(
                openapi_url=f"{root}{app.openapi_url}",
                title=f"{app.title} · API",
                **{key: f"{root}{ASSETS_URL}/{name}" for key, name in assets.items()},
            ).body
        ).decode("utf-8")
        hashes = [
            "sha256-" + base64.b64encode(hashlib.sha256(body.encode("utf-8")).digest()).decode()
            for body in _INLINE_SCRIPT.findall(html)
        ]
        return HTMLResponse(html, headers={CSP_HEADER: docs_policy(hashes)})

    @app.get("/docs", include_in_schema=False)
    def swagger_ui(request: Request) -> HTMLResponse:
        return page(
            request,
            partial(get_swagger_ui_html, oauth2_redirect_url=None),
            swagger_js_url="swagger-ui-bundle.js",
            swagger_css_url="swagger-ui.css",
            swagger_favicon_url="favicon.png",
        )

    @app.get("/redoc", include_in_schema=False)
    def redoc(request: Request) -> HTMLResponse:
        return page(
            request,
            partial(get_redoc_html, with_google_fonts=False),
            redoc_js_url="redoc.standalone.js",
            redoc_favicon_url="favicon.png",
        )
