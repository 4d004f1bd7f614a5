"""Decisions waiting for an operator's approval, and what operators answer (approvals, verdicts, policies).

Operators answer through the site's store: `edgeloop approvals approve|reject` and `edgeloop verdict` (and the
API later) add a row to its `inbox` table; the agent takes each row once, checks it, and logs it. So the
agent stays the only writer of its audit log and its own state, and an answer given while the agent is down
is taken when it starts. A pending approval expires (`edgeloop.policy.expiry`) when no one answers it in time or
when its device fails, is repaired or goes under maintenance; an expired approval cannot be approved any more.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from edgeloop.audit import Kind
from edgeloop.io.store import AgentStore
from edgeloop.model import Command, Decision
from edgeloop.policy.expiry import ANSWERS, EXPIRED, NO_ANSWER_IN_TIME, refusal

log = logging.getLogger(__name__)

#: new_normal: no fault, the device runs in a regime its normal model has not seen (a gated learner re-bases)
VERDICTS = ("true_fault", "false_alarm", "unsure", "new_normal")
CLOSED_KEPT = 1000  # closed approvals remembered in memory (older ones are read from the store)
POLL_S = 1.0  # how often the inbox is read (seconds of the agent's clock)

AuditFn = Callable[[str, dict[str, Any], float], object]  # the audit log's append; what it returns is not used
SendFn = Callable[[Command, float], None]
VerdictFn = Callable[[dict[str, Any], str, float], None]
PolicyFn = Callable[[str, str, str, float], str]  # (YAML, by, why, now) -> result


class ApprovalDesk:
    """The site's approvals and its operators' inbox, read every `POLL_S` of the agent's clock."""

    def __init__(
        self,
        store: AgentStore,
        audit: AuditFn,
        send: SendFn,
        on_verdict: VerdictFn,
        on_policy: PolicyFn | None = None,
    ) -> None:
        self.store = store
        self._on_policy = on_policy
        self._audit = audit
        self._send = send
        self._on_verdict = on_verdict
        self.awaiting: dict[str, tuple[Command, float]] = {}  # decision -> (command to send, expiry)
        self._taken: set[int] = set()
        #: the latest approvals closed by this run, so a refusal says why even before the store has the row
        self._closed: dict[str, dict[str, str]] = {}
        self._next_poll = 0.0
        for decision, doc, expires in store.read_pending_approvals():
            self.awaiting[decision] = (Command(**{**doc, "args": dict(doc["args"])}), float(expires))

    def request(self, decision: Decision, command: Command, expires: float, now: float) -> None:
        """Park a decision's command until an operator approves it, or it expires (the policy says when)."""
        self.awaiting[decision.id] = (command, expires)
        self.store.write_approval_request(decision.id, decision.device, _command_json(command), now, expires)

    def open_for(self, device: str) -> str | None:
        """The decision about `device` that waits for an operator's approval, if one does."""
        return next((d for d, (command, _) in self.awaiting.items() if command.device == device), None)

    def expire_for(self, device: str, reason: str, now: float) -> list[str]:
        """Expire the approvals pending for `device` (it failed, was repaired, ...), `reason` kept; their decisions."""
        gone = [d for d, (command, _) in self.awaiting.items() if command.device == device]
        for decision in gone:
            self._answer(decision, EXPIRED, "edgeloop", reason, now)
        return gone

    def sweep(self, now: float) -> None:
        for decision in [d for d, (_, expires) in self.awaiting.items() if expires <= now]:
            self._answer(decision, EXPIRED, "edgeloop", NO_ANSWER_IN_TIME, now)
        if now < self._next_poll:
            return
        self._next_poll = now + POLL_S
        for row_id, kind, decision, answer, by, why in self.store.read_untaken_answers():
            if row_id in self._taken:
                continue
            self._taken.add(row_id)
            result = self.take(str(kind), str(decision), str(answer), str(by or ""), str(why or ""), now)
            self.store.write_answer_taken(row_id, result, now)

    def take(self, kind: str, decision: str, answer: str, by: str, why: str, now: float) -> str:
        """Apply one answer (`approval`: approved/rejected; `verdict`: true_fault/false_alarm/unsure); the result."""
        if kind == "approval":
            if answer not in ANSWERS:
                return f"refused: answer must be one of {', '.join(ANSWERS)}"
            if decision not in self.awaiting:  # answered, expired or unknown: the operator is told which
                return refusal(self._closed.get(decision) or self.store.read_approval(decision))
            self._answer(decision, answer, by, why, now)
            return answer
        if kind == "verdict":
            if answer not in VERDICTS:
                return f"refused: verdict must be one of {', '.join(VERDICTS)}"
            record = self.store.read_decision(decision)
            if record is None:
                return "refused: unknown decision"
            self.store.write_verdict(decision, record["device"], answer, by, why, now)
            self._audit(Kind.VERDICT, {"decision": decision, "device": record["device"], "verdict": answer,
                                       "by": by, "why": why}, now)  # fmt: skip
            self._on_verdict(record, answer, now)
            return "recorded"
        if kind == "policy" and self._on_policy is not None:
            return self._on_policy(answer, by, why, now)  # `answer` holds the policy's YAML text
        return f"refused: unknown inbox kind {kind!r}"

    def _answer(self, decision: str, answer: str, by: str, why: str, now: float) -> None:
        command, _ = self.awaiting.pop(decision)
        self._closed[decision] = {"answer": answer, "by": by, "why": why}
        if len(self._closed) > CLOSED_KEPT:
            del self._closed[next(iter(self._closed))]
        self._audit(Kind.APPROVAL, {"decision": decision, "device": command.device, "answer": answer,
                                    "by": by, "why": why, "command": command.id}, now)  # fmt: skip
        self.store.write_approval_answer(decision, answer, by, why, now)
        if answer == "approved":
            self._send(command, now)
        log.info("approval of %s: %s by %s (%s)", decision, answer, by, why)


def _command_json(command: Command) -> dict[str, Any]:
    return {"id": command.id, "site": command.site, "device": command.device, "name": command.name,
            "args": dict(command.args), "decision": command.decision}  # fmt: skip
