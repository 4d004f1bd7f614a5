"""Approvals and verdicts: an operator's answers, handed to the agent through its store's inbox.

Who answers is the caller the request authenticated as (a user or a token), never a field of the body: a
`by` sent in the body is ignored, so that no one can sign an answer in someone else's name.

Each approval carries what an operator needs to judge it: the decision's score, each metric's score, the rule, the
reason and the command. An approval answered or expired (its device failed, was repaired or went under
maintenance, or no one answered in time) is refused with 409 and the reason, before anything is queued."""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, HTTPException
from pydantic import BaseModel, Field

from edgeloop.api.deps import Operator, Store, Viewer
from edgeloop.api.pages import Paged
from edgeloop.io.store import OperatorStore, answer_agent
from edgeloop.policy.expiry import refusal, state_of

router = APIRouter(tags=["approvals"])
WAIT_S = 3.0


class Answer(BaseModel):
    why: str = Field("", max_length=2000, description="why the operator answers so (kept in the audit log)")


class VerdictIn(Answer):
    verdict: Literal["true_fault", "false_alarm", "unsure", "new_normal"]


def _outcome(result: str | None) -> dict[str, Any]:
    if result is None:
        return {"status": "queued", "detail": "the agent takes it when it next reads its inbox"}
    if result.startswith("refused"):
        raise HTTPException(409, result)
    return {"status": result}


def _answer(store: OperatorStore, decision_id: str, answer: str, who: str, why: str) -> dict[str, Any]:
    approval = store.read_approval(decision_id)
    if approval is None or approval["answer"] is not None:  # closed: say why now, queue nothing
        raise HTTPException(409, refusal(approval))
    return _outcome(answer_agent(store, "approval", decision_id, answer, who, why, WAIT_S))


@router.get("/approvals")
def pending(store: Store, _: Viewer, page: Paged, include_answered: bool = False) -> dict[str, Any]:
    """Pending approvals, newest first (answered and expired ones too on request). Each has its `state`
    (pending, approved, rejected, expired, with `why`: the operator's note or the reason it expired), the
    decision's data time `ts`, `score`, `metrics` (each metric's score, highest first), `rule` and `reason`,
    the `command`, and the command's ack status once sent: sent, done (acked), rejected or timed_out."""
    pending_only = not include_answered  # the agent expires approvals itself
    total = store.count_approvals(pending_only)
    items = store.read_approvals(pending_only, page.limit, page.offset)
    return page.answer(total, [{**item, "state": state_of(item)} for item in items])


@router.post("/approvals/{decision_id}/approve")
def approve(decision_id: str, answer: Answer, store: Store, who: Operator) -> dict[str, Any]:
    """Approve the decision's command; the answer and its `why` are signed by the caller (`GET /me` says who
    that is) and logged. 409 when the approval is answered or expired, with the reason."""
    return _answer(store, decision_id, "approved", who.who, answer.why)


@router.post("/approvals/{decision_id}/reject")
def reject(decision_id: str, answer: Answer, store: Store, who: Operator) -> dict[str, Any]:
    """Reject the decision's command; the answer is signed by the caller."""
    return _answer(store, decision_id, "rejected", who.who, answer.why)


@router.post("/decisions/{decision_id}/verdict")
def verdict(decision_id: str, body: VerdictIn, store: Store, who: Operator) -> dict[str, Any]:
    """A verdict on the decision (true fault, false alarm, unsure), signed by the caller."""
    return _outcome(answer_agent(store, "verdict", decision_id, body.verdict, who.who, body.why, WAIT_S))
