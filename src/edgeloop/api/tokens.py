"""API tokens kept in the site store: only their SHA-256 is stored, the token itself is shown once.

A token reads `el_<id>_<secret>`: the id names it in lists and for revoking, the secret is 32 random bytes.

>>> import sqlite3
>>> conn = sqlite3.connect(":memory:")
>>> token = create(conn, "operator", "ana", now=0.0)
>>> role_of(conn, token), role_of(conn, token + "x")
('operator', None)
>>> revoke(conn, token.split("_")[1], now=1.0), role_of(conn, token)
(True, None)
"""

from __future__ import annotations

import hashlib
import secrets
import sqlite3
from typing import Any

ROLES = ("viewer", "operator", "admin")
SCHEMA = """CREATE TABLE IF NOT EXISTS api_tokens(
    id TEXT PRIMARY KEY, sha256 TEXT UNIQUE, role TEXT, name TEXT, created REAL, revoked REAL)"""


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def create(conn: sqlite3.Connection, role: str, name: str, now: float) -> str:
    """A new token for `role`; returns it (the only time it is seen in clear)."""
    if role not in ROLES:
        raise ValueError(f"role must be one of {', '.join(ROLES)}, not {role!r}")
    token_id, secret = secrets.token_hex(4), secrets.token_urlsafe(32)
    token = f"el_{token_id}_{secret}"
    with conn:
        conn.execute(SCHEMA)
        conn.execute("INSERT INTO api_tokens VALUES (?, ?, ?, ?, ?, NULL)", (token_id, _digest(token), role, name, now))
    return token


def role_of(conn: sqlite3.Connection, token: str) -> str | None:
    """The role of a live (not revoked) token, or None."""
    found = holder(conn, token)
    return None if found is None else found[1]


def holder(conn: sqlite3.Connection, token: str) -> tuple[str, str, str] | None:
    """(id, role, name) of a live (not revoked) token, or None."""
    try:
        row = conn.execute(
            "SELECT id, role, name FROM api_tokens WHERE sha256 = ? AND revoked IS NULL", (_digest(token),)
        )
    except sqlite3.OperationalError:  # no token was ever made for this site
        return None
    found = row.fetchone()
    return None if found is None else (str(found[0]), str(found[1]), str(found[2]))


def revoke(conn: sqlite3.Connection, token_id: str, now: float) -> bool:
    with conn:
        conn.execute(SCHEMA)
        cur = conn.execute("UPDATE api_tokens SET revoked = ? WHERE id = ? AND revoked IS NULL", (now, token_id))
    return cur.rowcount == 1


def listing(conn: sqlite3.Connection) -> list[dict[str, Any]]:
    conn.execute(SCHEMA)
    cols = ("id", "role", "name", "created", "revoked")
    rows = conn.execute(f"SELECT {', '.join(cols)} FROM api_tokens ORDER BY created").fetchall()
    return [dict(zip(cols, r, strict=True)) for r in rows]
