"""Decisions: what the agent concluded, with its rule, status, reason and every guardrail it checked."""

from __future__ import annotations

from typing import Any

import orjson
from fastapi import APIRouter, HTTPException, Query

from edgeloop.api.deps import Store, Viewer

router = APIRouter(prefix="/decisions", tags=["decisions"])


@router.get("")
def list_decisions(
    conn: Store,
    _: Viewer,
    device: str | None = None,
    status: str | None = None,
    limit: int = Query(100, ge=1, le=1000),
) -> list[dict[str, Any]]:
    """Newest first; filter by device and status (sent, held_out, blocked, pending_approval, ...)."""
    where, args = [], []
    if device:
        where.append("device = ?")
        args.append(device)
    if status:
        where.append("status = ?")
        args.append(status)
    sql = "SELECT record FROM decisions" + (" WHERE " + " AND ".join(where) if where else "")
    rows = conn.execute(sql + " ORDER BY ts DESC LIMIT ?", (*args, limit)).fetchall()
    return [dict(orjson.loads(r[0])) for r in rows]


@router.get("/{decision_id}")
def get_decision(decision_id: str, conn: Store, _: Viewer) -> dict[str, Any]:
    row = conn.execute("SELECT record FROM decisions WHERE id = ?", (decision_id,)).fetchone()
    if row is None:
        raise HTTPException(404, f"no decision {decision_id}")
    return dict(orjson.loads(row[0]))
