"""What the agent decided and what followed (tables `decisions`, `commands`, `outcomes`, `verdicts`).

A decision is kept whole as its JSON record, with the columns it is looked up by beside it.
"""

from __future__ import annotations

import sqlite3
from typing import Any

import numpy as np
import orjson

from edgeloop.io.store.schema import Write

_COMMAND = ("id", "name", "args", "sent_at", "status", "acked_at", "detail")
_VERDICT = ("verdict", "by", "why", "at")
_LAST = ("id", "ts", "status", "score")

# -- writes (agent) -----------------------------------------------------------------------------------------------


def write_decision(record: dict[str, Any], audit: str | None = None) -> Write:
    """The decision's row; `audit` is the hash of its audit record (`edgeloop audit verify --store`)."""
    return (
        "INSERT OR REPLACE INTO decisions(id, device, ts, at, score, status, rule, record, audit) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [(record["id"], record["device"], record["ts"], record["at"], record["score"], record["status"],
          record["rule"], orjson.dumps(record).decode(), audit)],
    )  # fmt: skip


def read_audited(conn: sqlite3.Connection) -> list[tuple[str, str, str | None]]:
    """Every decision row as `(id, record JSON, audit hash)`: what `audit verify --store` checks."""
    return [(str(i), str(r), a) for i, r, a in conn.execute("SELECT id, record, audit FROM decisions ORDER BY id")]


def write_command(cmd_id: str, decision: str, device: str, name: str, args: dict[str, float], at: float) -> Write:
    return (
        "INSERT INTO commands VALUES (?, ?, ?, ?, ?, ?, 'sent', NULL, NULL)",
        [(cmd_id, decision, device, name, orjson.dumps(args).decode(), at)],
    )


def write_ack(cmd_id: str, status: str, at: float, detail: str) -> Write:
    return "UPDATE commands SET status=?, acked_at=?, detail=? WHERE id=?", [(status, at, detail, cmd_id)]


def write_outcome(device: str, ts: float, at: float, kind: str, decision: str | None, detail: dict[str, Any]) -> Write:
    return (
        "INSERT INTO outcomes(device, ts, at, kind, decision, detail) VALUES (?, ?, ?, ?, ?, ?)",
        [(device, ts, at, kind, decision, orjson.dumps(detail).decode())],
    )


def write_verdict(decision: str, device: str, verdict: str, by: str, why: str, at: float) -> Write:
    return (
        "INSERT INTO verdicts(decision, device, verdict, by, why, at) VALUES (?, ?, ?, ?, ?, ?)",
        [(decision, device, verdict, by, why, at)],
    )


# -- reads --------------------------------------------------------------------------------------------------------


def read_unsettled_commands(conn: sqlite3.Connection) -> list[tuple[str, str, str, str, dict[str, Any], float]]:
    """Commands sent and neither acked nor timed out: (id, decision, device, name, args, sent_at), oldest first."""
    rows = conn.execute(
        "SELECT id, decision, device, name, args, sent_at FROM commands WHERE status = 'sent' ORDER BY sent_at"
    ).fetchall()
    return [(i, d, dev, n, dict(orjson.loads(a)), float(t)) for i, d, dev, n, a, t in rows]


def read_decision(conn: sqlite3.Connection, decision_id: str) -> dict[str, Any] | None:
    row = conn.execute("SELECT record FROM decisions WHERE id = ?", (decision_id,)).fetchone()
    return None if row is None else dict(orjson.loads(row[0]))


def read_decisions(conn: sqlite3.Connection, since_ts: float = -np.inf) -> list[dict[str, Any]]:
    """Decision records in data-time order."""
    rows = conn.execute("SELECT record FROM decisions WHERE ts >= ? ORDER BY ts", (since_ts,)).fetchall()
    return [dict(orjson.loads(r[0])) for r in rows]


def _where(device: str | None, status: str | None) -> tuple[str, list[Any]]:
    where, args = [], []
    if device:
        where.append("device = ?")
        args.append(device)
    if status:
        where.append("status = ?")
        args.append(status)
    return (" WHERE " + " AND ".join(where) if where else ""), args


def count_decisions(conn: sqlite3.Connection, device: str | None = None, status: str | None = None) -> int:
    cond, args = _where(device, status)
    return int(conn.execute("SELECT COUNT(*) FROM decisions" + cond, args).fetchone()[0])


def read_newest_decisions(
    conn: sqlite3.Connection, limit: int, offset: int, device: str | None = None, status: str | None = None
) -> list[dict[str, Any]]:
    """Decision records, newest first, of one device and/or one status when given."""
    cond, args = _where(device, status)
    rows = conn.execute(
        f"SELECT record FROM decisions{cond} ORDER BY ts DESC, at DESC LIMIT ? OFFSET ?", (*args, limit, offset)
    ).fetchall()
    return [dict(orjson.loads(r[0])) for r in rows]


def read_decision_statuses(conn: sqlite3.Connection) -> list[str]:
    """The status of every decision, in the order they were stored."""
    return [str(r[0]) for r in conn.execute("SELECT status FROM decisions").fetchall()]


def count_decisions_by_status(conn: sqlite3.Connection) -> list[tuple[str, int]]:
    return [(s, int(n)) for s, n in conn.execute("SELECT status, COUNT(*) FROM decisions GROUP BY status")]


def read_last_decision(conn: sqlite3.Connection, device: str) -> dict[str, Any] | None:
    """The id, ts, status and score of a device's newest decision (in data time)."""
    row = conn.execute(
        "SELECT id, ts, status, score FROM decisions WHERE device=? ORDER BY ts DESC LIMIT 1", (device,)
    ).fetchone()
    return None if row is None else dict(zip(_LAST, row, strict=True))


def decision_mark(conn: sqlite3.Connection) -> int:
    """Where the decisions stored so far end (0 before any): pass it to `read_decisions_after`."""
    return int(conn.execute("SELECT COALESCE(MAX(rowid), 0) FROM decisions").fetchone()[0])


def read_decisions_after(conn: sqlite3.Connection, mark: int) -> list[tuple[int, dict[str, Any]]]:
    """(mark, record) of each decision stored after `mark`, in the order they were stored."""
    rows = conn.execute("SELECT rowid, record FROM decisions WHERE rowid > ? ORDER BY rowid", (mark,)).fetchall()
    return [(int(rowid), dict(orjson.loads(record))) for rowid, record in rows]


def read_commands_of(conn: sqlite3.Connection, decision_id: str) -> list[dict[str, Any]]:
    """The commands a decision sent: id, name, args (the JSON text as stored), sent_at, status, acked_at, detail."""
    rows = conn.execute(
        "SELECT id, name, args, sent_at, status, acked_at, detail FROM commands WHERE decision = ?", (decision_id,)
    ).fetchall()
    return [dict(zip(_COMMAND, row, strict=True)) for row in rows]


def count_commands(conn: sqlite3.Connection, status: str) -> int:
    return int(conn.execute("SELECT COUNT(*) FROM commands WHERE status = ?", (status,)).fetchone()[0])


def count_commands_by_status(conn: sqlite3.Connection) -> list[tuple[str, int]]:
    return [(s, int(n)) for s, n in conn.execute("SELECT status, COUNT(*) FROM commands GROUP BY status")]


def count_outcomes(conn: sqlite3.Connection, kind: str) -> int:
    return int(conn.execute("SELECT COUNT(*) FROM outcomes WHERE kind = ?", (kind,)).fetchone()[0])


def read_last_event(conn: sqlite3.Connection, device: str) -> tuple[str, float] | None:
    """(kind, ts) of a device's newest event (not an ack, not a usage report), in data time."""
    row = conn.execute(
        "SELECT kind, ts FROM outcomes WHERE device=? AND kind NOT LIKE 'ack_%' AND kind != 'usage' "
        "ORDER BY ts DESC LIMIT 1",
        (device,),
    ).fetchone()
    return None if row is None else (row[0], row[1])


def has_outcome(conn: sqlite3.Connection, device: str, ts: float, kind: str) -> bool:
    """Whether a device's event of this kind at this data time is stored (a repeat of it is dropped)."""
    query = "SELECT 1 FROM outcomes WHERE device=? AND ts=? AND kind=? LIMIT 1"
    return conn.execute(query, (device, ts, kind)).fetchone() is not None


def read_events(conn: sqlite3.Connection, device: str, limit: int) -> list[dict[str, Any]]:
    """A device's newest events (failure, repaired, inspection, maintenance...; no acks, no usage reports),
    newest first, in data time: `{"kind", "ts", "at", "decision", "detail"}`."""
    rows = conn.execute(
        "SELECT kind, ts, at, decision, detail FROM outcomes WHERE device=? AND kind NOT LIKE 'ack_%' "
        "AND kind != 'usage' ORDER BY ts DESC, id DESC LIMIT ?",
        (device, limit),
    ).fetchall()
    return [event_of(row) for row in rows]


def event_of(row: tuple[Any, ...]) -> dict[str, Any]:
    kind, ts, at, decision, detail = row
    return {"kind": kind, "ts": ts, "at": at, "decision": decision, "detail": orjson.loads(detail or "{}")}


def read_verdicts_of(conn: sqlite3.Connection, decision_id: str) -> list[dict[str, Any]]:
    rows = conn.execute("SELECT verdict, by, why, at FROM verdicts WHERE decision = ?", (decision_id,)).fetchall()
    return [dict(zip(_VERDICT, row, strict=True)) for row in rows]
