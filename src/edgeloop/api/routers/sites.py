"""Sites: the one this API serves, with its fleet-overview figures (an API per site agent; a fleet view
reads each site's `/sites`)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, HTTPException, Request

from edgeloop.api.deps import Store, Viewer, settings_of
from edgeloop.api.pages import Paged

router = APIRouter(prefix="/sites", tags=["sites"])


def overview(request: Request, conn: Store) -> dict[str, Any]:
    settings = settings_of(request)

    def one(sql: str) -> Any:
        return conn.execute(sql).fetchone()[0]

    return {
        "site": settings.agent.site,
        "autonomy": int(settings.agent.autonomy),
        "devices": one("SELECT COUNT(*) FROM devices"),
        "decisions": one("SELECT COUNT(*) FROM decisions"),
        "pending_approvals": one("SELECT COUNT(*) FROM approvals WHERE answer IS NULL"),
        "commands_acked": one("SELECT COUNT(*) FROM commands WHERE status = 'done'"),
        "failures": one("SELECT COUNT(*) FROM outcomes WHERE kind = 'failure'"),
        "quarantined": one("SELECT COUNT(*) FROM quarantine"),
        "data_until": one("SELECT MAX(t1) FROM telemetry"),
    }


@router.get("")
def list_sites(request: Request, conn: Store, _: Viewer, page: Paged) -> dict[str, Any]:
    return page.of([overview(request, conn)])


@router.get("/{site}")
def get_site(site: str, request: Request, conn: Store, _: Viewer) -> dict[str, Any]:
    if site != settings_of(request).agent.site:
        raise HTTPException(404, f"this API serves site {settings_of(request).agent.site}, not {site}")
    return overview(request, conn)
