"""Approvals and verdicts: an operator's answers, handed to the agent through its store's inbox.

Who answers is the caller the request authenticated as (a user or a token), never a field of the body: a
`by` sent in the body is ignored, so that no one can sign an answer in someone else's name."""

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
    why: str = Field("", max_length=2000, description="a free-text note on the answer (kept in the audit log)")


class VerdictIn(Answer):
    verdict: Literal["true_fault", "false_alarm", "unsure", "new_normal"]


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
def approve(decision_id: str, answer: Answer, store: Store, who: Operator) -> dict[str, Any]:
    """Approve the decision's command; the answer is signed by the caller (`GET /me` says who that is)."""
    return _outcome(answer_agent(store, "approval", decision_id, "approved", who.who, answer.why, WAIT_S))


@router.post("/approvals/{decision_id}/reject")
def reject(decision_id: str, answer: Answer, store: Store, who: Operator) -> dict[str, Any]:
    """Reject the decision's command; the answer is signed by the caller."""
    return _outcome(answer_agent(store, "approval", decision_id, "rejected", who.who, answer.why, WAIT_S))


@router.post("/decisions/{decision_id}/verdict")
def verdict(decision_id: str, body: VerdictIn, store: Store, who: Operator) -> dict[str, Any]:
    """A verdict on the decision (true fault, false alarm, unsure), signed by the caller."""
    return _outcome(answer_agent(store, "verdict", decision_id, body.verdict, who.who, body.why, WAIT_S))
