"""Bad input set aside with its reason (table `quarantine`)."""

from __future__ import annotations

import sqlite3
from typing import Any

from edgeloop.io.store.schema import Write


def write_quarantine(rows: list[tuple[float, str, str | None, str, bytes]]) -> Write:
    """(at, topic, device, reason, raw) of each rejected message."""
    return "INSERT INTO quarantine(at, topic, device, reason, raw) VALUES (?, ?, ?, ?, ?)", list(rows)


def count_quarantined(conn: sqlite3.Connection) -> int:
    return int(conn.execute("SELECT COUNT(*) FROM quarantine").fetchone()[0])


def read_quarantine(conn: sqlite3.Connection, limit: int, offset: int) -> list[dict[str, Any]]:
    """Newest first: at, topic, device, reason and the raw bytes."""
    rows = conn.execute(
        "SELECT at, topic, device, reason, raw FROM quarantine ORDER BY id DESC LIMIT ? OFFSET ?", (limit, offset)
    ).fetchall()
    return [{"at": at, "topic": topic, "device": device, "reason": reason, "raw": bytes(raw)}
            for at, topic, device, reason, raw in rows]  # fmt: skip
