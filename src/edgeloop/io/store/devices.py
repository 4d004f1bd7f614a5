"""Devices as their meta messages describe them (table `devices`)."""

from __future__ import annotations

import sqlite3
from typing import Any

import orjson

from edgeloop.io.store.schema import Write

_COLUMNS = ("device", "asset_type", "meta", "updated")


def write_device(device: str, asset_type: str, meta: dict[str, Any], at: float) -> Write:
    return "INSERT OR REPLACE INTO devices VALUES (?, ?, ?, ?)", [(device, asset_type, orjson.dumps(meta).decode(), at)]


def _device(row: tuple[Any, ...]) -> dict[str, Any]:
    device, asset_type, meta, updated = row
    return {"device": device, "asset_type": asset_type, "meta": orjson.loads(meta), "updated": updated}


def count_devices(conn: sqlite3.Connection) -> int:
    return int(conn.execute("SELECT COUNT(*) FROM devices").fetchone()[0])


def read_devices(conn: sqlite3.Connection, limit: int, offset: int) -> list[dict[str, Any]]:
    """Devices by name: device, asset_type, meta (decoded) and updated."""
    rows = conn.execute(
        "SELECT device, asset_type, meta, updated FROM devices ORDER BY device LIMIT ? OFFSET ?", (limit, offset)
    ).fetchall()
    return [_device(row) for row in rows]


def read_device(conn: sqlite3.Connection, device: str) -> dict[str, Any] | None:
    row = conn.execute("SELECT device, asset_type, meta, updated FROM devices WHERE device=?", (device,)).fetchone()
    return None if row is None else _device(row)


def has_device(conn: sqlite3.Connection, device: str) -> bool:
    return conn.execute("SELECT 1 FROM devices WHERE device=?", (device,)).fetchone() is not None
