"""Anomalies: episodes where a device's metric was scored at or above a level, newest first."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Query

from edgeloop.api.deps import Store, Viewer
from edgeloop.api.pages import Paged
from edgeloop.api.readings import anomalies

router = APIRouter(prefix="/anomalies", tags=["anomalies"])


@router.get("")
def list_anomalies(
    store: Store,
    _: Viewer,
    page: Paged,
    device: str | None = None,
    min_score: float = Query(0.9, ge=0.0, le=1.0, description="a point at or above this score is anomalous"),
    hours: float = Query(24.0, gt=0, le=24 * 366, description="how far back from the newest data (data time)"),
) -> dict[str, Any]:
    """Episodes of one metric scored at or above `min_score`, within the last `hours` of data: two high points at
    most 15 minutes of data time apart, or with at most 5 lower points between them, are one episode, unless more
    than an hour lies between them (`edgeloop.api.readings.anomalies`)."""
    newest = store.data_until()
    if newest is None:
        return page.of([])
    found = anomalies(store, newest - hours * 3600, newest, min_score)
    return page.of([e for e in found if device is None or e["device"] == device])
