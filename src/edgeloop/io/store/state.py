"""What the agent keeps so a restart does not forget it, and what it learnt about its models (tables
`site_policy`, `guard_state`, `learnt_state`, `champions`, `shadow`)."""

from __future__ import annotations

import sqlite3
from typing import Any

import orjson

from edgeloop.io.store.schema import Write

ShadowRow = tuple[str, str, str, float, float, float]  # device, asset_type, learner, ts, at, score
Champion = tuple[str, str, float, int]  # asset_type, learner, threshold, sustain

# -- writes (agent) -----------------------------------------------------------------------------------------------


def write_site_policy(policy: dict[str, Any], source: str, at: float) -> Write:
    """The policy in force (as JSON) and the text it came from; one row, replaced."""
    return "INSERT OR REPLACE INTO site_policy VALUES (1, ?, ?, ?)", [(at, source, orjson.dumps(policy).decode())]


def write_guard_state(state: dict[str, Any], at: float) -> Write:
    return "INSERT OR REPLACE INTO guard_state VALUES (1, ?, ?)", [(at, orjson.dumps(state).decode())]


def write_learnt(name: str, state: dict[str, Any], at: float) -> Write:
    return "INSERT OR REPLACE INTO learnt_state VALUES (?, ?, ?)", [(name, at, orjson.dumps(state).decode())]


def write_champion(asset_type: str, learner: str, threshold: float, sustain: int, at: float) -> Write:
    """The learner (and its threshold and sustain) that now decides for an asset type."""
    return "INSERT OR REPLACE INTO champions VALUES (?, ?, ?, ?, ?)", [(asset_type, learner, threshold, sustain, at)]


def write_shadow(rows: list[ShadowRow]) -> Write:
    """Decisions a challenger would have made (it never acts)."""
    return "INSERT INTO shadow VALUES (?, ?, ?, ?, ?, ?)", list(rows)


# -- reads --------------------------------------------------------------------------------------------------------


def read_site_policy(conn: sqlite3.Connection) -> tuple[float, str, dict[str, Any]] | None:
    """(since, source text, policy) of the policy in force, or None before the agent recorded one."""
    row = conn.execute("SELECT at, source, policy FROM site_policy WHERE id = 1").fetchone()
    return None if row is None else (row[0], row[1], orjson.loads(row[2]))


def read_guard_state(conn: sqlite3.Connection) -> dict[str, Any] | None:
    rows = conn.execute("SELECT state FROM guard_state WHERE id = 1").fetchall()
    return None if not rows else dict(orjson.loads(rows[0][0]))


def read_learnt(conn: sqlite3.Connection, name: str) -> dict[str, Any] | None:
    rows = conn.execute("SELECT state FROM learnt_state WHERE name = ?", (name,)).fetchall()
    return None if not rows else dict(orjson.loads(rows[0][0]))


def read_champions(conn: sqlite3.Connection) -> list[Champion]:
    """(asset_type, learner, threshold, sustain) of each asset type's champion."""
    rows = conn.execute("SELECT asset_type, learner, threshold, sustain FROM champions").fetchall()
    return [(str(t), str(n), float(x), int(k)) for t, n, x, k in rows]
