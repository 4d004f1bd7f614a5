"""How a pending approval ends without an operator: it expires, and the reason says why.

An approval is pending until it is approved, rejected or expired; each of the three is final. It expires when no
one answers in time, or when its device fails, is repaired or goes under maintenance: the command it holds was
chosen for a device that is no longer in the state it was decided on, so approving it later would act on a guess.

>>> expiry_reason("failure"), expiry_reason("maintenance_started"), expiry_reason("inspection")
('device failed', 'maintenance started', None)
>>> refusal({"answer": "expired", "by": "edgeloop", "why": "device failed"})
'refused: the approval expired (device failed)'
>>> refusal({"answer": "approved", "by": "ana", "why": "vibration is real"})
'refused: the approval was already approved by ana'
>>> refusal(None)
'refused: no pending approval for this decision: the decision asked for none'
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

PENDING = "pending"
APPROVED = "approved"
REJECTED = "rejected"
EXPIRED = "expired"
#: what an operator may answer
ANSWERS = (APPROVED, REJECTED)
#: why an approval expired when no one answered in time
NO_ANSWER_IN_TIME = "no answer in time"
#: the device events that expire a device's pending approval, with the reason shown to operators
EXPIRING_EVENTS: Mapping[str, str] = {
    "failure": "device failed",
    "repaired": "device repaired",
    "maintenance_started": "maintenance started",
}


def expiry_reason(event_kind: str) -> str | None:
    """The reason a device event of this kind expires the device's pending approval, or None if it does not."""
    return EXPIRING_EVENTS.get(event_kind)


def state_of(approval: Mapping[str, Any]) -> str:
    """`pending`, or the final answer (`approved`, `rejected`, `expired`) of an approval row.

    >>> state_of({"answer": None}), state_of({"answer": "expired"})
    ('pending', 'expired')
    """
    return str(approval.get("answer") or PENDING)


def refusal(approval: Mapping[str, Any] | None) -> str:
    """Why an answer to this approval (a row of the store, None when there is none) is refused: it is closed."""
    if approval is None:
        return "refused: no pending approval for this decision: the decision asked for none"
    state = state_of(approval)
    if state == PENDING:
        return "refused: the approval is still pending"  # the agent has not parked it yet (a restart, say)
    if state == EXPIRED:
        return f"refused: the approval expired ({approval.get('why') or NO_ANSWER_IN_TIME})"
    return f"refused: the approval was already {state} by {approval.get('by') or 'someone'}"
