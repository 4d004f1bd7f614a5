"""The ROI report, as `edgeloop roi report --json` prints it, its figures over time for the dashboard's charts,
and the ledger's plots as SVG (for the HTML report)."""

from __future__ import annotations

import threading
from typing import Any

from fastapi import APIRouter, HTTPException, Request
from fastapi.concurrency import run_in_threadpool

from edgeloop.agent.roi import read_fleet_ledger, read_site_ledger
from edgeloop.api.deps import Viewer, settings_of
from edgeloop.ledger import ReportError, SiteLedger, headline
from edgeloop.ledger.site_ledger import N_BOOT
from edgeloop.web import roi_html

router = APIRouter(prefix="/roi", tags=["roi"])
_PLOTTING = threading.Lock()  # pyplot keeps global state: one figure at a time


def _ledger(request: Request, since: str | None, n_boot: int) -> SiteLedger:
    try:
        return read_site_ledger(settings_of(request), since, n_boot=n_boot)
    except ReportError as exc:
        raise HTTPException(404, str(exc)) from None


@router.get("")
def report(request: Request, _: Viewer, since: str | None = None) -> dict[str, Any]:
    ledger = _ledger(request, since, N_BOOT)
    return {"site": ledger.site, **ledger.report.to_json(), "headline": headline(ledger.report).to_json()}


@router.get("/fleet")
def fleet_report(request: Request, _: Viewer, since: str | None = None) -> dict[str, Any]:
    """Every site of the shared PostgreSQL store as one experiment: the treated and holdout arms summed across
    sites, one uplift interval (devices are named site/device). 404 on a SQLite store, which holds one site."""
    try:
        ledger = read_fleet_ledger(settings_of(request), since, n_boot=N_BOOT)
    except ReportError as exc:
        raise HTTPException(404, str(exc)) from None
    sites = sorted({a.device.split("/", 1)[0] for a in ledger.holdout.assignments})
    figures = headline(ledger.report).to_json()
    return {"site": ledger.site, "sites": sites, **ledger.report.to_json(), "headline": figures}


@router.get("/series")
async def series(request: Request, _: Viewer, since: str | None = None) -> dict[str, Any]:
    """The ledger over time for the dashboard's charts: per day, each arm's net value and unplanned downtime per
    device and its cumulative net value per device; the measured uplift of each metric with its 95% interval
    (as in `GET /roi`); net value by action. Days are unix seconds of the day's start (UTC), in data time."""
    ledger = await run_in_threadpool(_ledger, request, since, 500)
    return {"site": ledger.site, **roi_html.series(ledger)}


def _plots(ledger: SiteLedger) -> dict[str, str]:
    with _PLOTTING:
        return {
            "cumulative_value": roi_html.cumulative_value(ledger),
            "downtime": roi_html.downtime(ledger),
            "value_by_action": roi_html.value_by_action(ledger),
        }


@router.get("/plots")
async def plots(request: Request, _: Viewer, since: str | None = None) -> dict[str, str]:
    """The ledger's plots as SVG documents (as in `edgeloop roi report --html`): cumulative realized value per
    device treated against holdout, downtime per device-day, net value by action."""
    ledger = await run_in_threadpool(_ledger, request, since, 100)
    return await run_in_threadpool(_plots, ledger)
