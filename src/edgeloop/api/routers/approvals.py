"""Approvals and verdicts: an operator's answers, handed to the agent through its store's inbox."""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, HTTPException
from pydantic import BaseModel, Field

from edgeloop.api.deps import Operator, Store, Viewer
from edgeloop.api.pages import Paged
from edgeloop.io.store import answer_agent

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
def pending(store: Store, _: Viewer, page: Paged, include_answered: bool = False) -> dict[str, Any]:
    """Pending approvals, newest first (answered ones too on request), each with its command's ack status
    once sent: sent, done (acked), rejected or timed_out."""
    pending_only = not include_answered  # the agent answers expired ones itself
    total = store.count_approvals(pending_only)
    return page.answer(total, store.read_approvals(pending_only, page.limit, page.offset))


@router.post("/approvals/{decision_id}/approve")
def approve(decision_id: str, answer: Answer, store: Store, _: Operator) -> dict[str, Any]:
    return _outcome(answer_agent(store, "approval", decision_id, "approved", answer.by, answer.why, WAIT_S))


@router.post("/approvals/{decision_id}/reject")
def reject(decision_id: str, answer: Answer, store: Store, _: Operator) -> dict[str, Any]:
    return _outcome(answer_agent(store, "approval", decision_id, "rejected", answer.by, answer.why, WAIT_S))


@router.post("/decisions/{decision_id}/verdict")
def verdict(decision_id: str, body: VerdictIn, store: Store, _: Operator) -> dict[str, Any]:
    return _outcome(answer_agent(store, "verdict", decision_id, body.verdict, body.by, body.why, WAIT_S))
