"""`create_app(settings)`: the site's REST API under `/api/v1` (OpenAPI at `/docs`), Prometheus metrics at
`/metrics`, and the live dashboard at `/` (`web/static`). Every answer carries the security headers of
`api/security.py`; the OpenAPI page is served from the package's own files, so it works offline.

Reads the agent's store; writes only the inbox the agent reads, and its own tables of tokens, users and
sessions. Callers authenticate with a bearer token (from the settings, or made with `edgeloop token create`)
or a session from `POST /api/v1/login`. Every error is a problem detail; every write gets a log line.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from importlib import resources
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request, Response
from fastapi.responses import FileResponse
from fastapi.staticfiles import StaticFiles

from edgeloop import __version__
from edgeloop.api import problems
from edgeloop.api.routers import (
    anomalies,
    approvals,
    audit,
    decisions,
    devices,
    events,
    login,
    metrics,
    policy,
    roi,
    sites,
    tokens,
    users,
)
from edgeloop.api.security import redact_access_log, security_headers
from edgeloop.api.throttle import LoginGuard
from edgeloop.io.store import open_operator_stores
from edgeloop.settings import Settings

writes = logging.getLogger("edgeloop.api.writes")
WRITES = frozenset({"POST", "PUT", "PATCH", "DELETE"})


async def log_writes(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
    """One log line per write: who, what, and how it ended (the agent also audits what it applies)."""
    response = await call_next(request)
    if request.method in WRITES:
        caller = getattr(request.state, "caller", None)
        who = "anonymous" if caller is None else f"{caller.who} [{caller.role.name.lower()}]"
        writes.info("%s %s by %s: %d", request.method, request.url.path, who, response.status_code)
    return response


def create_app(settings: Settings) -> FastAPI:
    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        """The app owns its connections to the site store: kept open between requests, closed on shutdown."""
        redact_access_log()  # here, after the server has set up its logging
        app.state.stores = open_operator_stores(settings)
        try:
            yield
        finally:
            app.state.stores.close()

    app = FastAPI(
        title=f"edgeloop site {settings.agent.site}",
        version=__version__,
        lifespan=lifespan,
        docs_url=None,  # served below from the package's own files, not from a CDN
        redoc_url=None,
    )
    app.state.settings = settings
    app.state.login_guard = LoginGuard()  # recent failed logins (routers/login.py)
    problems.install(app)
    app.middleware("http")(log_writes)
    app.middleware("http")(security_headers)
    for module in (sites, devices, anomalies, decisions, approvals, policy, roi, audit, events, login, users, tokens):
        app.include_router(module.router, prefix="/api/v1")
    app.include_router(metrics.router)

    static = Path(str(resources.files("edgeloop.web").joinpath("static")))
    app.mount("/static", StaticFiles(directory=static), name="static")

    @app.get("/", include_in_schema=False)
    def dashboard() -> FileResponse:
        return FileResponse(static / "index.html")

    @app.get("/docs", include_in_schema=False)
    def openapi_page() -> FileResponse:
        """Swagger UI over `/openapi.json`, from the files shipped in `web/static/swagger`."""
        return FileResponse(static / "swagger" / "docs.html")

    @app.get("/api/v1/health", tags=["health"])
    def health() -> dict[str, Any]:
        """Open to all (for load balancers): the site id and whether its store exists."""
        return {"site": settings.agent.site, "store": bool(settings.store.url) or settings.agent.db_path.exists()}

    return app
