"""Decisions waiting for an operator, and what operators answer (tables `approvals`, `inbox`).

Operators answer from another process (the API, the CLI) by adding a row to the inbox; the agent takes each
row once and writes back its result. So the agent stays the only writer of everything else.
"""

from __future__ import annotations

import sqlite3
from typing import Any

import orjson

from edgeloop.io.store.schema import Write

_APPROVAL = ("decision", "device", "command", "requested", "expires", "answer", "by", "why", "answered")
InboxRow = tuple[int, str, str, str, str | None, str | None]  # id, kind, decision, answer, by, why

# -- writes (agent) -----------------------------------------------------------------------------------------------


def write_approval_request(
    decision: str, device: str, command: dict[str, Any], requested: float, expires: float
) -> Write:
    """Park a decision's command (its JSON document) until an operator answers or it expires."""
    return (
        "INSERT OR IGNORE INTO approvals(decision, device, command, requested, expires) VALUES (?, ?, ?, ?, ?)",
        [(decision, device, orjson.dumps(command).decode(), requested, expires)],
    )


def write_approval_answer(decision: str, answer: str, by: str, why: str, at: float) -> Write:
    return "UPDATE approvals SET answer=?, by=?, why=?, answered=? WHERE decision=?", [(answer, by, why, at, decision)]


def write_answer_taken(row_id: int, result: str, at: float) -> Write:
    """The agent's result for an inbox row it took."""
    return "UPDATE inbox SET taken=?, result=? WHERE id=?", [(at, result, row_id)]


# -- the operator's write (from another process, at once) --------------------------------------------------------


def submit_answer(conn: sqlite3.Connection, kind: str, decision: str, answer: str, by: str, why: str, at: float) -> int:
    """Put an operator's answer in the inbox; the row id to follow it by."""
    with conn:
        cur = conn.execute(
            "INSERT INTO inbox(at, kind, decision, answer, by, why) VALUES (?, ?, ?, ?, ?, ?)",
            (at, kind, decision, answer, by, why),
        )
    return int(cur.lastrowid or 0)


# -- reads --------------------------------------------------------------------------------------------------------


def _answered(pending_only: bool) -> str:
    return "WHERE a.answer IS NULL" if pending_only else ""  # the agent answers expired ones itself


def count_approvals(conn: sqlite3.Connection, pending_only: bool) -> int:
    return int(conn.execute(f"SELECT COUNT(*) FROM approvals a {_answered(pending_only)}").fetchone()[0])


def explain(record: dict[str, Any] | None) -> dict[str, Any]:
    """What an operator needs to judge an approval, from its decision's record: when (data time), the score, each
    metric's score (highest first), the rule and the reason. All None when the decision is not in the store.

    >>> explain({"ts": 5.0, "score": 0.97, "evidence": {"temp": 0.4, "vibration": 0.97}, "rule": "r",
    ...          "reason": "rule r: waits for approval", "asset_type": "pump"})["metrics"]
    {'vibration': 0.97, 'temp': 0.4}
    """
    if record is None:
        return {"ts": None, "score": None, "metrics": {}, "rule": None, "reason": None, "asset_type": None}
    evidence = {str(k): float(v) for k, v in (record.get("evidence") or {}).items()}
    return {"ts": record.get("ts"), "score": record.get("score"),
            "metrics": dict(sorted(evidence.items(), key=lambda kv: -kv[1])), "rule": record.get("rule"),
            "reason": record.get("reason"), "asset_type": record.get("asset_type")}  # fmt: skip


def approval_item(row: tuple[Any, ...]) -> dict[str, Any]:
    """An approval as the API and the CLI show it, from a row of `_APPROVAL` columns, the command's status and
    the decision's record (JSON text or None)."""
    item = dict(zip(_APPROVAL, row[: len(_APPROVAL)], strict=True))
    status, record = row[len(_APPROVAL)], row[len(_APPROVAL) + 1]
    why_asked = explain(None if record is None else orjson.loads(record))
    return {**item, "command": orjson.loads(item["command"]), "command_status": status, **why_asked}


_SELECT = (
    f"SELECT {', '.join('a.' + c for c in _APPROVAL)}, c.status, d.record FROM approvals a "
    "LEFT JOIN commands c ON c.decision = a.decision LEFT JOIN decisions d ON d.id = a.decision "
)


def read_approvals(conn: sqlite3.Connection, pending_only: bool, limit: int, offset: int) -> list[dict[str, Any]]:
    """Newest first: the approval's columns (its command decoded), its command's status once sent, and what its
    decision says (`explain`)."""
    rows = conn.execute(
        f"{_SELECT}{_answered(pending_only)} ORDER BY a.requested DESC LIMIT ? OFFSET ?", (limit, offset)
    ).fetchall()
    return [approval_item(row) for row in rows]


def read_approval(conn: sqlite3.Connection, decision: str) -> dict[str, Any] | None:
    """One approval as `read_approvals` gives it, or None."""
    row = conn.execute(f"{_SELECT}WHERE a.decision = ?", (decision,)).fetchone()
    return None if row is None else approval_item(row)


def read_approval_states(conn: sqlite3.Connection, limit: int = 200) -> list[tuple[str, str | None, str | None]]:
    """Newest first: (decision, answer, its command's status) of the last `limit` approvals, to see changes."""
    rows = conn.execute(
        "SELECT a.decision, a.answer, c.status FROM approvals a "
        "LEFT JOIN commands c ON c.decision = a.decision ORDER BY a.requested DESC LIMIT ?",
        (limit,),
    ).fetchall()
    return [(d, a, s) for d, a, s in rows]


def read_pending_approvals(conn: sqlite3.Connection) -> list[tuple[str, dict[str, Any], float]]:
    """(decision, command document, expires) of every approval not answered yet."""
    rows = conn.execute("SELECT decision, command, expires FROM approvals WHERE answer IS NULL").fetchall()
    return [(str(d), dict(orjson.loads(c)), float(e)) for d, c, e in rows]


def read_untaken_answers(conn: sqlite3.Connection) -> list[InboxRow]:
    """Inbox rows the agent has not taken yet, oldest first."""
    rows = conn.execute("SELECT id, kind, decision, answer, by, why FROM inbox WHERE taken IS NULL ORDER BY id")
    return [(int(i), k, d, a, b, w) for i, k, d, a, b, w in rows.fetchall()]


def read_answer_result(conn: sqlite3.Connection, row_id: int) -> str | None:
    """The agent's result for an inbox row, or None while it has not taken it."""
    row = conn.execute("SELECT result FROM inbox WHERE id=?", (row_id,)).fetchone()
    return str(row[0]) if row and row[0] else None
