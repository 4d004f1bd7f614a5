"""The durable outbox (table `outbox`): what the agent publishes at QoS 1 (decisions, commands, its state and
audit head), written here before it is published, marked sent once the broker acknowledged it, and published
again after a restart when it never was. `edgeloop.agent.outbox` drives it."""

from __future__ import annotations

import sqlite3

from edgeloop.io.store.schema import Write

#: (id, at, topic, payload, qos, retain)
OutboxRow = tuple[str, float, str, bytes, int, bool]
#: (id, topic, payload, qos, retain), in the order they were written
Unsent = tuple[str, str, bytes, int, bool]


def write_outbox(rows: list[OutboxRow]) -> Write:
    return (
        "INSERT OR IGNORE INTO outbox(id, at, topic, payload, qos, retain) VALUES (?, ?, ?, ?, ?, ?)",
        [(i, at, topic, payload, qos, int(retain)) for i, at, topic, payload, qos, retain in rows],
    )


def mark_sent(ids: list[str], at: float) -> Write:
    return "UPDATE outbox SET sent = ? WHERE id = ?", [(at, i) for i in ids]


def forget_sent(before: float) -> Write:
    """Delete rows acknowledged before `before`: the outbox holds what is in flight; the audit log is the history."""
    return "DELETE FROM outbox WHERE sent < ?", [(before,)]


def read_unsent(conn: sqlite3.Connection) -> list[Unsent]:
    rows = conn.execute("SELECT id, topic, payload, qos, retain FROM outbox WHERE sent IS NULL ORDER BY seq")
    return [(str(i), str(t), bytes(p), int(q), bool(r)) for i, t, p, q, r in rows.fetchall()]
