"""Live updates as Server-Sent Events: a `decision` event for each new decision, `approvals` when the set of
pending approvals changes, and a `tick` every 15 s so proxies keep the stream open."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import AsyncIterator

import orjson
from fastapi import APIRouter, Request
from fastapi.responses import StreamingResponse

from edgeloop.api.deps import Viewer, settings_of

router = APIRouter(tags=["events"])
POLL_S = 0.5
TICK_S = 15.0


def _event(kind: str, data: object) -> bytes:
    return b"event: " + kind.encode() + b"\ndata: " + orjson.dumps(data) + b"\n\n"


async def _stream(request: Request) -> AsyncIterator[bytes]:
    path = settings_of(request).agent.db_path
    conn = sqlite3.connect(path, timeout=10, check_same_thread=False)
    try:
        seen = conn.execute("SELECT COALESCE(MAX(rowid), 0) FROM decisions").fetchone()[0]
        pending: list[str] | None = None
        quiet = 0.0
        yield _event("hello", {"site": settings_of(request).agent.site})
        while not await request.is_disconnected():
            rows = conn.execute("SELECT rowid, record FROM decisions WHERE rowid > ? ORDER BY rowid", (seen,))
            for rowid, record in rows.fetchall():
                seen = rowid
                quiet = 0.0
                yield _event("decision", orjson.loads(record))
            now_pending = [r[0] for r in conn.execute("SELECT decision FROM approvals WHERE answer IS NULL")]
            if now_pending != pending:
                pending, quiet = now_pending, 0.0
                yield _event("approvals", {"pending": len(now_pending)})
            if quiet >= TICK_S:
                quiet = 0.0
                yield _event("tick", {})
            await asyncio.sleep(POLL_S)
            quiet += POLL_S
    finally:
        conn.close()


@router.get("/events")
def events(request: Request, _: Viewer) -> StreamingResponse:
    """`text/event-stream` of new decisions and changes to pending approvals."""
    headers = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
    return StreamingResponse(_stream(request), media_type="text/event-stream", headers=headers)
