"""The ROI report, as `edgeloop roi report --json` prints it."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, HTTPException, Request

from edgeloop.agent.roi import ReportError, read_site_ledger
from edgeloop.api.deps import Viewer, settings_of

router = APIRouter(prefix="/roi", tags=["roi"])


@router.get("")
def report(request: Request, _: Viewer, since: str | None = None) -> dict[str, Any]:
    settings = settings_of(request)
    try:
        ledger = read_site_ledger(settings, since, n_boot=500)
    except ReportError as exc:
        raise HTTPException(404, str(exc)) from None
    return {"site": ledger.site, **ledger.report.to_json()}
