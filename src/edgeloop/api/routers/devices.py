"""Devices (meta and current state), their telemetry downsampled on the server, and quarantined input."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from fastapi import APIRouter, HTTPException, Query

from edgeloop.api.deps import Store, Viewer
from edgeloop.api.pages import Paged
from edgeloop.api.readings import Latest, latest

router = APIRouter(tags=["devices"])
ANOMALOUS = 0.9  # a newest score at or above this makes a device anomalous in its state


def _device(store: Store, row: dict[str, Any], now: Latest) -> dict[str, Any]:
    device = row["device"]
    last = store.read_last_decision(device)
    event = store.read_last_event(device)
    metrics = {m: {"t": t, "value": v, "score": s} for m, (t, v, s) in now.get(device, {}).items()}
    score = max((m["score"] for m in metrics.values()), default=None)
    down = event is not None and event[0] == "failure"
    health = "down" if down else "unknown" if score is None else "anomalous" if score >= ANOMALOUS else "ok"
    return {
        "device": device, "asset_type": row["asset_type"], "meta": row["meta"], "updated": row["updated"],
        "state": {"health": health, "score": score, "metrics": metrics},
        "last_decision": last, "last_event": None if event is None else {"kind": event[0], "ts": event[1]},
    }  # fmt: skip


@router.get("/devices")
def list_devices(store: Store, _: Viewer, page: Paged) -> dict[str, Any]:
    """Every device the agent knows, by name: meta, current state (newest reading and anomaly score of each
    metric; health ok, anomalous, down after a failure, or unknown), latest decision and latest event."""
    total = store.count_devices()
    rows = store.read_devices(page.limit, page.offset)
    now = latest(store)
    return page.answer(total, [_device(store, row, now) for row in rows])


@router.get("/devices/{device}")
def get_device(device: str, store: Store, _: Viewer) -> dict[str, Any]:
    row = store.read_device(device)
    if row is None:
        raise HTTPException(404, f"no device {device}")
    return _device(store, row, latest(store))


@router.get("/devices/{device}/telemetry/{metric}")
def telemetry(
    device: str,
    metric: str,
    store: Store,
    _: Viewer,
    start: float = Query(-math.inf, alias="from", description="unix seconds"),
    end: float = Query(math.inf, alias="to", description="unix seconds"),
    points: int = Query(300, ge=2, le=5000, description="at most this many buckets (min, mean, max, max score)"),
) -> dict[str, Any]:
    """One metric of one device over a time range, downsampled into equal time buckets."""
    t, v, s = store.read_series(device, metric, start, end)
    if t.size == 0:
        if not store.has_device(device):
            raise HTTPException(404, f"no device {device}")
        return {"device": device, "metric": metric, "buckets": []}
    n = min(points, t.size)
    edges = np.linspace(t[0], t[-1], n + 1)
    idx = np.minimum(np.searchsorted(edges, t, side="right") - 1, n - 1)  # the last point closes the last bucket
    buckets = []
    for b in np.unique(idx):
        m = idx == b
        scored = s[m][~np.isnan(s[m])]  # a late reading is stored unscored (NaN): `Newest.split_late`
        buckets.append({"t": float(t[m][0]), "min": float(v[m].min()), "mean": float(v[m].mean()),
                        "max": float(v[m].max()), "score": float(scored.max()) if scored.size else None,
                        "n": int(m.sum())})  # fmt: skip
    return {"device": device, "metric": metric, "buckets": buckets}


@router.get("/devices/{device}/events")
def events(device: str, store: Store, _: Viewer, page: Paged) -> dict[str, Any]:
    """What happened to a device, newest first, in data time (`ts`; `at` is when the agent heard of it): failures,
    repairs, inspections, maintenance and the like, as the device or the plant reported them (command acks and
    usage reports are left out). Its decisions are `GET /decisions?device=`."""
    if not store.has_device(device):
        raise HTTPException(404, f"no device {device}")
    found = store.read_events(device, page.offset + page.limit)[page.offset :]
    return {"limit": page.limit, "offset": page.offset, "items": found}


@router.get("/quarantine")
def quarantine(store: Store, _: Viewer, page: Paged) -> dict[str, Any]:
    """Bad input the agent set aside, newest first, with its reason (raw bytes as text, cut at 512)."""
    total = store.count_quarantined()
    items = [{**row, "raw": row["raw"][:512].decode("utf-8", "replace")}
             for row in store.read_quarantine(page.limit, page.offset)]  # fmt: skip
    return page.answer(total, items)
