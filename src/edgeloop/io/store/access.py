"""Who may call the site's API (tables `api_tokens`, `api_users`, `api_sessions`).

Only digests and password hashes are stored; making them is the API's business (`edgeloop.api.tokens`,
`edgeloop.api.users`). These tables are created on first use, and reads before that find nobody.
"""

from __future__ import annotations

import sqlite3
from typing import Any

from edgeloop.io.store.schema import TOKENS_SCHEMA, USERS_SCHEMA

_TOKEN = ("id", "role", "name", "created", "revoked")


def _users_schema(conn: sqlite3.Connection) -> None:
    for statement in USERS_SCHEMA:
        conn.execute(statement)


# -- tokens -------------------------------------------------------------------------------------------------------


def add_token(conn: sqlite3.Connection, token_id: str, sha256: str, role: str, name: str, created: float) -> None:
    with conn:
        conn.execute(TOKENS_SCHEMA)
        conn.execute("INSERT INTO api_tokens VALUES (?, ?, ?, ?, ?, NULL)", (token_id, sha256, role, name, created))


def read_token(conn: sqlite3.Connection, sha256: str) -> tuple[str, str, str] | None:
    """(id, role, name) of the live (not revoked) token with this digest, or None."""
    try:
        row = conn.execute("SELECT id, role, name FROM api_tokens WHERE sha256 = ? AND revoked IS NULL", (sha256,))
    except sqlite3.OperationalError:  # no token was ever made for this site
        return None
    found = row.fetchone()
    return None if found is None else (str(found[0]), str(found[1]), str(found[2]))


def revoke_token(conn: sqlite3.Connection, token_id: str, at: float) -> bool:
    """False when there is no live token of that id."""
    with conn:
        conn.execute(TOKENS_SCHEMA)
        cur = conn.execute("UPDATE api_tokens SET revoked = ? WHERE id = ? AND revoked IS NULL", (at, token_id))
    return cur.rowcount == 1


def read_tokens(conn: sqlite3.Connection) -> list[dict[str, Any]]:
    """Every token, oldest first: id, role, name, created, revoked (never its digest)."""
    conn.execute(TOKENS_SCHEMA)
    rows = conn.execute(f"SELECT {', '.join(_TOKEN)} FROM api_tokens ORDER BY created").fetchall()
    return [dict(zip(_TOKEN, r, strict=True)) for r in rows]


# -- users --------------------------------------------------------------------------------------------------------


def add_user(conn: sqlite3.Connection, name: str, role: str, salt: bytes, key: bytes, created: float) -> bool:
    """False (and nothing written) when a user of that name exists already."""
    with conn:
        _users_schema(conn)
        if conn.execute("SELECT 1 FROM api_users WHERE name=?", (name,)).fetchone():
            return False
        conn.execute("INSERT INTO api_users VALUES (?, ?, ?, ?, ?)", (name, role, salt, key, created))
    return True


def read_user_key(conn: sqlite3.Connection, name: str) -> tuple[str, bytes, bytes] | None:
    """(role, salt, password hash) of a user, or None."""
    _users_schema(conn)
    row = conn.execute("SELECT role, salt, hash FROM api_users WHERE name=?", (name,)).fetchone()
    return None if row is None else (str(row[0]), bytes(row[1]), bytes(row[2]))


def delete_user(conn: sqlite3.Connection, name: str) -> bool:
    """Delete a user and end its sessions; False when there was no such user."""
    with conn:
        _users_schema(conn)
        gone = conn.execute("DELETE FROM api_users WHERE name=?", (name,)).rowcount == 1
        conn.execute("DELETE FROM api_sessions WHERE user=?", (name,))
    return gone


def read_users(conn: sqlite3.Connection) -> list[dict[str, Any]]:
    """Every user by name: name, role, created."""
    _users_schema(conn)
    rows = conn.execute("SELECT name, role, created FROM api_users ORDER BY name").fetchall()
    return [{"name": n, "role": r, "created": c} for n, r, c in rows]


# -- sessions -----------------------------------------------------------------------------------------------------


def open_session(conn: sqlite3.Connection, sha256: str, user: str, created: float, expires: float) -> None:
    """Keep a new session (and forget the ones expired by `created`)."""
    with conn:
        _users_schema(conn)
        conn.execute("DELETE FROM api_sessions WHERE expires <= ?", (created,))
        conn.execute("INSERT INTO api_sessions VALUES (?, ?, ?, ?)", (sha256, user, created, expires))


def read_session(conn: sqlite3.Connection, sha256: str, now: float) -> tuple[str, str] | None:
    """(user, role) of the live session with this digest, or None."""
    try:
        row = conn.execute(
            "SELECT u.name, u.role FROM api_sessions s JOIN api_users u ON u.name = s.user "
            "WHERE s.sha256 = ? AND s.expires > ?",
            (sha256, now),
        ).fetchone()
    except sqlite3.OperationalError:  # no user was ever made for this site
        return None
    return None if row is None else (str(row[0]), str(row[1]))


def end_session(conn: sqlite3.Connection, sha256: str) -> bool:
    with conn:
        _users_schema(conn)
        return conn.execute("DELETE FROM api_sessions WHERE sha256=?", (sha256,)).rowcount == 1
