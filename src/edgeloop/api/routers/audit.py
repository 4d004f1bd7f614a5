"""The audit log: its check (does the chain hold, and if not, where it breaks) and its newest records."""

from __future__ import annotations

from typing import Any

import orjson
from fastapi import APIRouter, HTTPException, Request
from fastapi.concurrency import run_in_threadpool

from edgeloop.api.deps import Viewer, settings_of
from edgeloop.api.pages import Paged
from edgeloop.audit import LOG_FILE, PUBLIC_KEY_FILE, load_public_key, verify_file

router = APIRouter(prefix="/audit", tags=["audit"])


@router.get("/verify")
async def verify(request: Request, _: Viewer) -> dict[str, Any]:
    """Every record's hash, signature and link to the one before, and every checkpoint."""
    directory = settings_of(request).agent.audit_dir
    if not (directory / LOG_FILE).exists():
        raise HTTPException(404, "no audit log yet")
    report = await run_in_threadpool(verify_file, directory / LOG_FILE, load_public_key(directory / PUBLIC_KEY_FILE))
    return {"ok": report.ok, "records": report.records, "checkpoints": report.checkpoints,
            "first_bad": report.first_bad, "problem": report.problem}  # fmt: skip


@router.get("/records")
def records(request: Request, _: Viewer, page: Paged) -> dict[str, Any]:
    """The log's records, newest first, as written (seq, ts, kind, body, prev, hash, sig); not checked here."""
    path = settings_of(request).agent.audit_dir / LOG_FILE
    if not path.exists():
        raise HTTPException(404, "no audit log yet")
    lines = [line for line in path.read_bytes().splitlines() if line.strip()]
    newest_first = lines[::-1][page.offset : page.offset + page.limit]
    items = []
    for line in newest_first:
        try:
            items.append(orjson.loads(line))
        except orjson.JSONDecodeError:
            items.append({"unreadable": line[:200].decode("utf-8", "replace")})
    return page.answer(len(lines), items)
