"""The site's policy: read it (viewer); replace it (admin) with YAML that must validate first."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, HTTPException, Request
from fastapi.concurrency import run_in_threadpool

from edgeloop.api.deps import Admin, Store, Viewer
from edgeloop.io.store import answer_agent
from edgeloop.policy import PolicyError, parse_policy

router = APIRouter(prefix="/policy", tags=["policy"])


@router.get("")
def current(store: Store, _: Viewer) -> dict[str, Any]:
    found = store.read_site_policy()
    if found is None:
        raise HTTPException(404, "the agent has not recorded a policy yet")
    since, source, policy = found
    return {"since": since, "source": source, "policy": policy}


@router.put("", openapi_extra={"requestBody": {"content": {"application/yaml": {"schema": {"type": "string"}}}}})
async def replace(request: Request, store: Store, who: Admin, why: str = "") -> dict[str, Any]:
    """The body is the new policy file (YAML). Validated here (422 naming the line), then handed to the agent,
    which applies it and logs it in the audit log, signed by the caller (`why` is a free-text note)."""
    text = (await request.body()).decode("utf-8", "replace")
    try:
        parse_policy(text, "request body")
    except PolicyError as exc:
        raise HTTPException(
            422,
            {"detail": f"the policy is not valid: {exc}", "field": exc.field, "line": exc.line, "reason": exc.reason},
        ) from None
    result = await run_in_threadpool(answer_agent, store, "policy", "-", text, who.who, why, 3.0)
    if result is None:
        return {"status": "queued"}
    if result.startswith("refused"):
        raise HTTPException(409, result)
    return {"status": result}
