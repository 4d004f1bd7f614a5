"""Sites: the one this API serves, with its fleet-overview figures (an API per site agent; a fleet view
reads each site's `/sites`)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, HTTPException, Request

from edgeloop.api.deps import Store, Viewer, settings_of
from edgeloop.api.pages import Paged

router = APIRouter(prefix="/sites", tags=["sites"])


def overview(request: Request, store: Store) -> dict[str, Any]:
    settings = settings_of(request)
    return {
        "site": settings.agent.site,
        "autonomy": int(settings.agent.autonomy),
        "devices": store.count_devices(),
        "decisions": store.count_decisions(),
        "pending_approvals": store.count_approvals(pending_only=True),
        "commands_acked": store.count_commands("done"),
        "failures": store.count_outcomes("failure"),
        "quarantined": store.count_quarantined(),
        "data_until": store.data_until(),
    }


@router.get("")
def list_sites(request: Request, store: Store, _: Viewer, page: Paged) -> dict[str, Any]:
    return page.of([overview(request, store)])


@router.get("/{site}")
def get_site(site: str, request: Request, store: Store, _: Viewer) -> dict[str, Any]:
    if site != settings_of(request).agent.site:
        raise HTTPException(404, f"this API serves site {settings_of(request).agent.site}, not {site}")
    return overview(request, store)
