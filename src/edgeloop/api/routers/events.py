"""Live updates as Server-Sent Events: `readings` (the newest value and anomaly score of each series written
since the last one, twice a second at most), a `decision` event for each new decision, `approvals` when the
pending approvals or their commands' ack status change, and a `tick` every 15 s so proxies keep it open."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import orjson
from fastapi import APIRouter, Request
from fastapi.responses import StreamingResponse

from edgeloop.api.deps import Viewer, settings_of, stores_of
from edgeloop.api.readings import latest, latest_after

router = APIRouter(tags=["events"])
POLL_S = 0.5
TICK_S = 15.0


def _event(kind: str, data: object) -> bytes:
    return b"event: " + kind.encode() + b"\ndata: " + orjson.dumps(data) + b"\n\n"


async def _stream(request: Request) -> AsyncIterator[bytes]:
    stores = stores_of(request)
    store = stores.take()  # held for the stream's life; the others take their own
    try:
        seen = store.decision_mark()
        pending: list[tuple[str, str | None, str | None]] | None = None
        quiet = 0.0
        names = store.read_series_names()
        chunk = store.telemetry_mark()
        yield _event("hello", {"site": settings_of(request).agent.site})
        yield _event("readings", latest(store))
        while not await request.is_disconnected():
            before, chunk = chunk, store.telemetry_mark()
            if chunk > before:
                quiet = 0.0
                yield _event("readings", latest_after(store, before, names))
            for mark, record in store.read_decisions_after(seen):
                seen = mark
                quiet = 0.0
                yield _event("decision", record)
            now_pending = store.read_approval_states(200)
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
        stores.give_back(store)


@router.get("/events")
def events(request: Request, _: Viewer) -> StreamingResponse:
    """`text/event-stream` of new decisions and changes to pending approvals."""
    headers = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
    return StreamingResponse(_stream(request), media_type="text/event-stream", headers=headers)
