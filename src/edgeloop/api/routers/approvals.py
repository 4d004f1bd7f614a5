"""Approvals and verdicts: an operator's answers, handed to the agent through its store's inbox."""

from __future__ import annotations

from typing import Any, Literal

import orjson
from fastapi import APIRouter, HTTPException
from pydantic import BaseModel, Field

from edgeloop.agent.approvals import await_result, submit
from edgeloop.api.deps import Operator, Store, Viewer
from edgeloop.api.pages import Paged

router = APIRouter(tags=["approvals"])
WAIT_S = 3.0


class Answer(BaseModel):
    by: str = Field(min_length=1, max_length=100, description="who answers (kept in the audit log)")
    why: str = Field("", max_length=2000)


class VerdictIn(Answer):
    verdict: Literal["true_fault", "false_alarm", "unsure"]


def _outcome(result: str | None) -> dict[str, Any]:
    if result is None:
        return {"status": "queued", "detail": "the agent takes it when it next reads its inbox"}
    if result.startswith("refused"):
        raise HTTPException(409, result)
    return {"status": result}


@router.get("/approvals")
def pending(conn: Store, _: Viewer, page: Paged, include_answered: bool = False) -> dict[str, Any]:
    """Pending approvals, newest first (answered ones too on request), each with its command's ack status
    once sent: sent, done (acked), rejected or timed_out."""
    where = "" if include_answered else "WHERE a.answer IS NULL"  # the agent answers expired ones itself
    total = conn.execute(f"SELECT COUNT(*) FROM approvals a {where}").fetchone()[0]
    cols = ("decision", "device", "command", "requested", "expires", "answer", "by", "why", "answered")
    rows = conn.execute(
        f"SELECT {', '.join('a.' + c for c in cols)}, c.status FROM approvals a "
        f"LEFT JOIN commands c ON c.decision = a.decision {where} ORDER BY a.requested DESC LIMIT ? OFFSET ?",
        (page.limit, page.offset),
    )
    items = []
    for row in rows.fetchall():
        item = dict(zip(cols, row[:-1], strict=True))
        items.append({**item, "command": orjson.loads(item["command"]), "command_status": row[-1]})
    return page.answer(total, items)


@router.post("/approvals/{decision_id}/approve")
def approve(decision_id: str, answer: Answer, conn: Store, _: Operator) -> dict[str, Any]:
    return _outcome(
        await_result(conn, submit(conn, "approval", decision_id, "approved", answer.by, answer.why), WAIT_S)
    )


@router.post("/approvals/{decision_id}/reject")
def reject(decision_id: str, answer: Answer, conn: Store, _: Operator) -> dict[str, Any]:
    return _outcome(
        await_result(conn, submit(conn, "approval", decision_id, "rejected", answer.by, answer.why), WAIT_S)
    )


@router.post("/decisions/{decision_id}/verdict")
def verdict(decision_id: str, body: VerdictIn, conn: Store, _: Operator) -> dict[str, Any]:
    return _outcome(await_result(conn, submit(conn, "verdict", decision_id, body.verdict, body.by, body.why), WAIT_S))
