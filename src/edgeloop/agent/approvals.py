"""Decisions waiting for an operator's approval, and what operators answer (approvals, verdicts, policies).

Operators answer through the site's store: `edgeloop approvals approve|reject` and `edgeloop verdict` (and the
API later) add a row to its `inbox` table; the agent takes each row once, checks it, and logs it. So the
agent stays the only writer of its audit log and its own state, and an answer given while the agent is down
is taken when it starts. A pending approval not answered in time is rejected as expired.
"""

from __future__ import annotations

import logging
import sqlite3
import time
from collections.abc import Callable
from typing import Any

import orjson

from edgeloop.audit import Kind
from edgeloop.io.store import SqliteStore
from edgeloop.model import Command, Decision

log = logging.getLogger(__name__)

VERDICTS = ("true_fault", "false_alarm", "unsure")
ANSWERS = ("approved", "rejected")
POLL_S = 1.0  # how often the inbox is read (seconds of the agent's clock)

AuditFn = Callable[[str, dict[str, Any], float], None]
SendFn = Callable[[Command, float], None]
VerdictFn = Callable[[dict[str, Any], str, float], None]
PolicyFn = Callable[[str, str, str, float], str]  # (YAML, by, why, now) -> result


class ApprovalDesk:
    """The site's approvals and its operators' inbox, read every `POLL_S` of the agent's clock."""

    def __init__(
        self,
        store: SqliteStore,
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
        self._next_poll = 0.0
        for decision, command, expires in store.query(
            "SELECT decision, command, expires FROM approvals WHERE answer IS NULL"
        ):
            doc = orjson.loads(command)
            self.awaiting[decision] = (Command(**{**doc, "args": dict(doc["args"])}), float(expires))

    def request(self, decision: Decision, command: Command, expires: float, now: float) -> None:
        """Park a decision's command until an operator approves it, or it expires (the policy says when)."""
        self.awaiting[decision.id] = (command, expires)
        self.store.write(
            "INSERT OR IGNORE INTO approvals(decision, device, command, requested, expires) VALUES (?, ?, ?, ?, ?)",
            [(decision.id, decision.device, orjson.dumps(_command_json(command)).decode(),
              now, expires)],
        )  # fmt: skip

    def open_for(self, device: str) -> str | None:
        """The decision about `device` that waits for an operator's approval, if one does."""
        return next((d for d, (command, _) in self.awaiting.items() if command.device == device), None)

    def sweep(self, now: float) -> None:
        for decision in [d for d, (_, expires) in self.awaiting.items() if expires <= now]:
            self._answer(decision, "rejected", "edgeloop", "expired: no answer in time", now)
        if now < self._next_poll:
            return
        self._next_poll = now + POLL_S
        rows = self.store.query("SELECT id, kind, decision, answer, by, why FROM inbox WHERE taken IS NULL ORDER BY id")
        for row_id, kind, decision, answer, by, why in rows:
            if row_id in self._taken:
                continue
            self._taken.add(row_id)
            result = self.take(str(kind), str(decision), str(answer), str(by or ""), str(why or ""), now)
            self.store.write("UPDATE inbox SET taken=?, result=? WHERE id=?", [(now, result, row_id)])

    def take(self, kind: str, decision: str, answer: str, by: str, why: str, now: float) -> str:
        """Apply one answer (`approval`: approved/rejected; `verdict`: true_fault/false_alarm/unsure); the result."""
        if kind == "approval":
            if answer not in ANSWERS:
                return f"refused: answer must be one of {', '.join(ANSWERS)}"
            if decision not in self.awaiting:
                return "refused: no pending approval for this decision (answered, expired or unknown)"
            self._answer(decision, answer, by, why, now)
            return answer
        if kind == "verdict":
            if answer not in VERDICTS:
                return f"refused: verdict must be one of {', '.join(VERDICTS)}"
            rows = self.store.query("SELECT record FROM decisions WHERE id=?", (decision,))
            if not rows:
                return "refused: unknown decision"
            record = dict(orjson.loads(rows[0][0]))
            self.store.write(
                "INSERT INTO verdicts(decision, device, verdict, by, why, at) VALUES (?, ?, ?, ?, ?, ?)",
                [(decision, record["device"], answer, by, why, now)],
            )
            self._audit(Kind.VERDICT, {"decision": decision, "device": record["device"], "verdict": answer,
                                       "by": by, "why": why}, now)  # fmt: skip
            self._on_verdict(record, answer, now)
            return "recorded"
        if kind == "policy" and self._on_policy is not None:
            return self._on_policy(answer, by, why, now)  # `answer` holds the policy's YAML text
        return f"refused: unknown inbox kind {kind!r}"

    def _answer(self, decision: str, answer: str, by: str, why: str, now: float) -> None:
        command, _ = self.awaiting.pop(decision)
        self._audit(Kind.APPROVAL, {"decision": decision, "device": command.device, "answer": answer,
                                    "by": by, "why": why, "command": command.id}, now)  # fmt: skip
        self.store.write(
            "UPDATE approvals SET answer=?, by=?, why=?, answered=? WHERE decision=?",
            [(answer, by, why, now, decision)],
        )
        if answer == "approved":
            self._send(command, now)
        log.info("approval of %s: %s by %s (%s)", decision, answer, by, why)


def _command_json(command: Command) -> dict[str, Any]:
    return {"id": command.id, "site": command.site, "device": command.device, "name": command.name,
            "args": dict(command.args), "decision": command.decision}  # fmt: skip


def submit(conn: sqlite3.Connection, kind: str, decision: str, answer: str, by: str, why: str) -> int:
    """Put an operator's answer in a site store's inbox (from another process); the row id to follow it by."""
    with conn:
        cur = conn.execute(
            "INSERT INTO inbox(at, kind, decision, answer, by, why) VALUES (?, ?, ?, ?, ?, ?)",
            (time.time(), kind, decision, answer, by, why),
        )
    return int(cur.lastrowid or 0)


def await_result(conn: sqlite3.Connection, row_id: int, wait_s: float) -> str | None:
    """The agent's result for an inbox row, waiting up to `wait_s`; None if it has not taken it yet."""
    deadline = time.monotonic() + wait_s
    while True:
        row = conn.execute("SELECT result FROM inbox WHERE id=?", (row_id,)).fetchone()
        if row and row[0]:
            return str(row[0])
        if time.monotonic() >= deadline:
            return None
        time.sleep(0.1)
