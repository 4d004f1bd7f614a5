"""Devices (meta and current state), their telemetry downsampled on the server, and quarantined input."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import orjson
from fastapi import APIRouter, HTTPException, Query

from edgeloop.api.deps import Store, Viewer
from edgeloop.api.pages import Paged
from edgeloop.api.readings import Latest, latest
from edgeloop.io.store import read_series

router = APIRouter(tags=["devices"])
ANOMALOUS = 0.9  # a newest score at or above this makes a device anomalous in its state


def _device(conn: Store, row: tuple[Any, ...], now: Latest) -> dict[str, Any]:
    device, asset_type, meta, updated = row
    decision = conn.execute(
        "SELECT id, ts, status, score FROM decisions WHERE device=? ORDER BY ts DESC LIMIT 1", (device,)
    ).fetchone()
    event = conn.execute(
        "SELECT kind, ts FROM outcomes WHERE device=? AND kind NOT LIKE 'ack_%' AND kind != 'usage' "
        "ORDER BY ts DESC LIMIT 1",
        (device,),
    ).fetchone()
    last = None if decision is None else dict(zip(("id", "ts", "status", "score"), decision, strict=True))
    metrics = {m: {"t": t, "value": v, "score": s} for m, (t, v, s) in now.get(device, {}).items()}
    score = max((m["score"] for m in metrics.values()), default=None)
    down = event is not None and event[0] == "failure"
    health = "down" if down else "unknown" if score is None else "anomalous" if score >= ANOMALOUS else "ok"
    return {
        "device": device, "asset_type": asset_type, "meta": orjson.loads(meta), "updated": updated,
        "state": {"health": health, "score": score, "metrics": metrics},
        "last_decision": last, "last_event": None if event is None else {"kind": event[0], "ts": event[1]},
    }  # fmt: skip


@router.get("/devices")
def list_devices(conn: Store, _: Viewer, page: Paged) -> dict[str, Any]:
    """Every device the agent knows, by name: meta, current state (newest reading and anomaly score of each
    metric; health ok, anomalous, down after a failure, or unknown), latest decision and latest event."""
    total = conn.execute("SELECT COUNT(*) FROM devices").fetchone()[0]
    rows = conn.execute(
        "SELECT device, asset_type, meta, updated FROM devices ORDER BY device LIMIT ? OFFSET ?",
        (page.limit, page.offset),
    ).fetchall()
    now = latest(conn)
    return page.answer(total, [_device(conn, row, now) for row in rows])


@router.get("/devices/{device}")
def get_device(device: str, conn: Store, _: Viewer) -> dict[str, Any]:
    row = conn.execute("SELECT device, asset_type, meta, updated FROM devices WHERE device=?", (device,)).fetchone()
    if row is None:
        raise HTTPException(404, f"no device {device}")
    return _device(conn, row, latest(conn))


@router.get("/devices/{device}/telemetry/{metric}")
def telemetry(
    device: str,
    metric: str,
    conn: Store,
    _: Viewer,
    start: float = Query(-math.inf, alias="from", description="unix seconds"),
    end: float = Query(math.inf, alias="to", description="unix seconds"),
    points: int = Query(300, ge=2, le=5000, description="at most this many buckets (min, mean, max, max score)"),
) -> dict[str, Any]:
    """One metric of one device over a time range, downsampled into equal time buckets."""
    t, v, s = read_series(conn, device, metric, start, end)
    if t.size == 0:
        if conn.execute("SELECT 1 FROM devices WHERE device=?", (device,)).fetchone() is None:
            raise HTTPException(404, f"no device {device}")
        return {"device": device, "metric": metric, "buckets": []}
    n = min(points, t.size)
    edges = np.linspace(t[0], t[-1], n + 1)
    idx = np.minimum(np.searchsorted(edges, t, side="right") - 1, n - 1)  # the last point closes the last bucket
    buckets = []
    for b in np.unique(idx):
        m = idx == b
        buckets.append({"t": float(t[m][0]), "min": float(v[m].min()), "mean": float(v[m].mean()),
                        "max": float(v[m].max()), "score": float(s[m].max()), "n": int(m.sum())})  # fmt: skip
    return {"device": device, "metric": metric, "buckets": buckets}


@router.get("/quarantine")
def quarantine(conn: Store, _: Viewer, page: Paged) -> dict[str, Any]:
    """Bad input the agent set aside, newest first, with its reason (raw bytes as text, cut at 512)."""
    total = conn.execute("SELECT COUNT(*) FROM quarantine").fetchone()[0]
    rows = conn.execute(
        "SELECT at, topic, device, reason, raw FROM quarantine ORDER BY id DESC LIMIT ? OFFSET ?",
        (page.limit, page.offset),
    ).fetchall()
    items = [
        {"at": at, "topic": topic, "device": dev, "reason": why, "raw": bytes(raw[:512]).decode("utf-8", "replace")}
        for at, topic, dev, why, raw in rows
    ]
    return page.answer(total, items)
