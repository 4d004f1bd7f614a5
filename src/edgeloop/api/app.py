"""`create_app(settings)`: the site's REST API, and the live dashboard at `/` (`web/static`).

Reads the agent's store; writes only the inbox the agent reads.

Roles come from bearer tokens (`api.tokens` in the settings: token -> viewer, operator or admin).
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path
from typing import Any

from fastapi import FastAPI
from fastapi.responses import FileResponse
from fastapi.staticfiles import StaticFiles

from edgeloop import __version__
from edgeloop.api.routers import approvals, audit, decisions, devices, events, metrics, policy, roi
from edgeloop.settings import Settings


def create_app(settings: Settings) -> FastAPI:
    app = FastAPI(title=f"edgeloop site {settings.agent.site}", version=__version__)
    app.state.settings = settings
    for module in (devices, decisions, approvals, policy, roi, audit, events):
        app.include_router(module.router, prefix="/api/v1")
    app.include_router(metrics.router)

    static = Path(str(resources.files("edgeloop.web").joinpath("static")))
    app.mount("/static", StaticFiles(directory=static), name="static")

    @app.get("/", include_in_schema=False)
    def dashboard() -> FileResponse:
        return FileResponse(static / "index.html")

    @app.get("/api/v1/health", tags=["health"])
    def health() -> dict[str, Any]:
        return {"site": settings.agent.site, "store": settings.agent.db_path.exists()}

    return app
