"""Live updates as Server-Sent Events: `readings` (the newest value and anomaly score of each series written
since the last one, twice a second at most), a `decision` event for each new decision, `approvals` when the
pending approvals or their commands' ack status change, and a `tick` every 15 s so proxies keep it open."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import AsyncIterator

import orjson
from fastapi import APIRouter, Request
from fastapi.responses import StreamingResponse

from edgeloop.api.deps import Viewer, settings_of
from edgeloop.api.readings import latest, latest_after, newest_rowid, series_names

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
        pending: list[tuple[str, str | None, str | None]] | None = None
        quiet = 0.0
        names = series_names(conn)
        chunk = newest_rowid(conn)
        yield _event("hello", {"site": settings_of(request).agent.site})
        yield _event("readings", latest(conn))
        while not await request.is_disconnected():
            before, chunk = chunk, newest_rowid(conn)
            if chunk > before:
                quiet = 0.0
                yield _event("readings", latest_after(conn, before, names))
            rows = conn.execute("SELECT rowid, record FROM decisions WHERE rowid > ? ORDER BY rowid", (seen,))
            for rowid, record in rows.fetchall():
                seen = rowid
                quiet = 0.0
                yield _event("decision", orjson.loads(record))
            now_pending = conn.execute(
                "SELECT a.decision, a.answer, c.status FROM approvals a "
                "LEFT JOIN commands c ON c.decision = a.decision ORDER BY a.requested DESC LIMIT 200"
            ).fetchall()
            if now_pending != pending:
                pending, quiet = now_pending, 0.0
                yield _event("approvals", {"pending": sum(1 for _, answer, _ in now_pending if answer is None)})
                # (a pending count alone would miss a command's ack: the page re-reads the list on each event)
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
