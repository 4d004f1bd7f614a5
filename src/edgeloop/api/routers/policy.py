"""The site's policy: read it (viewer); replace it (admin) with YAML that must validate first."""

from __future__ import annotations

from typing import Any

import orjson
from fastapi import APIRouter, HTTPException, Request
from fastapi.concurrency import run_in_threadpool

from edgeloop.agent.approvals import await_result, submit
from edgeloop.api.deps import Admin, Store, Viewer
from edgeloop.policy import PolicyError, parse_policy

router = APIRouter(prefix="/policy", tags=["policy"])


@router.get("")
def current(conn: Store, _: Viewer) -> dict[str, Any]:
    row = conn.execute("SELECT at, source, policy FROM site_policy WHERE id = 1").fetchone()
    if row is None:
        raise HTTPException(404, "the agent has not recorded a policy yet")
    return {"since": row[0], "source": row[1], "policy": orjson.loads(row[2])}


@router.put("", openapi_extra={"requestBody": {"content": {"application/yaml": {"schema": {"type": "string"}}}}})
async def replace(request: Request, conn: Store, _: Admin, by: str, why: str = "") -> dict[str, Any]:
    """The body is the new policy file (YAML). Validated here (422 naming the line), then handed to the agent,
    which applies it and logs it in the audit log."""
    text = (await request.body()).decode("utf-8", "replace")
    try:
        parse_policy(text, "request body")
    except PolicyError as exc:
        raise HTTPException(
            422,
            {"detail": f"the policy is not valid: {exc}", "field": exc.field, "line": exc.line, "reason": exc.reason},
        ) from None
    row = await run_in_threadpool(submit, conn, "policy", "-", text, by, why)
    result = await run_in_threadpool(await_result, conn, row, 3.0)
    if result is None:
        return {"status": "queued"}
    if result.startswith("refused"):
        raise HTTPException(409, result)
    return {"status": result}
