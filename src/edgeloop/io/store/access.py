"""Who may call the site's API (tables `api_tokens`, `api_users`, `api_sessions`).

Only digests and password hashes are stored; making them is the API's business (`edgeloop.api.tokens`,
`edgeloop.api.users`). These tables are created on first use, and reads before that find nobody.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
from pathlib import Path
from typing import Any

from edgeloop.io.store.schema import TOKENS_SCHEMA, USERS_SCHEMA


def keep_private(path: Path) -> None:
    """Make the store's folder (0700) and file (0600) readable only by this user before SQLite opens it: it
    holds the site's data and the digests of its tokens. SQLite gives the -wal and -shm files the mode of the
    database file. A file made earlier with wider rights is narrowed; where that is not ours to do, SQLite's
    own open says what is wrong."""
    with contextlib.suppress(OSError):
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        if not path.exists():
            os.close(os.open(path, os.O_RDONLY | os.O_CREAT, 0o600))
        if path.stat().st_mode & 0o077:
            os.chmod(path, 0o600)


_TOKEN = ("id", "role", "name", "created", "revoked", "expires")


def _users_schema(conn: sqlite3.Connection) -> None:
    for statement in USERS_SCHEMA:
        conn.execute(statement)


def _tokens_schema(conn: sqlite3.Connection) -> None:
    """The tokens table, with the `expires` column a store made before tokens expired lacks (its tokens keep
    no expiry until they are rotated or revoked)."""
    conn.execute(TOKENS_SCHEMA)
    columns = {row[1] for row in conn.execute("PRAGMA table_info(api_tokens)")}
    if "expires" not in columns:
        conn.execute("ALTER TABLE api_tokens ADD COLUMN expires REAL")


# -- tokens -------------------------------------------------------------------------------------------------------


def add_token(
    conn: sqlite3.Connection,
    token_id: str,
    sha256: str,
    role: str,
    name: str,
    created: float,
    expires: float | None = None,
) -> None:
    with conn:
        _tokens_schema(conn)
        conn.execute(
            "INSERT INTO api_tokens (id, sha256, role, name, created, revoked, expires) "
            "VALUES (?, ?, ?, ?, ?, NULL, ?)",
            (token_id, sha256, role, name, created, expires),
        )


def read_token(conn: sqlite3.Connection, sha256: str, now: float | None = None) -> tuple[str, str, str] | None:
    """(id, role, name) of the live token with this digest (not revoked, and not expired at `now` when given),
    or None. Only reads, unless the table must first gain its `expires` column."""
    query = (
        "SELECT id, role, name FROM api_tokens WHERE sha256 = ? AND revoked IS NULL "
        "AND (expires IS NULL OR ? IS NULL OR expires > ?)"
    )
    try:
        found = conn.execute(query, (sha256, now, now)).fetchone()
    except sqlite3.OperationalError as exc:
        if "no such column" not in str(exc):  # no token was ever made for this site
            return None
        with conn:  # a table made before tokens expired
            _tokens_schema(conn)
        found = conn.execute(query, (sha256, now, now)).fetchone()
    return None if found is None else (str(found[0]), str(found[1]), str(found[2]))


def read_token_by_id(conn: sqlite3.Connection, token_id: str, now: float) -> dict[str, Any] | None:
    """The live token of that id (not revoked, not expired at `now`), or None."""
    with conn:
        _tokens_schema(conn)
    row = conn.execute(
        f"SELECT {', '.join(_TOKEN)} FROM api_tokens WHERE id = ? AND revoked IS NULL "
        "AND (expires IS NULL OR expires > ?)",
        (token_id, now),
    ).fetchone()
    return None if row is None else dict(zip(_TOKEN, row, strict=True))


def revoke_token(conn: sqlite3.Connection, token_id: str, at: float) -> bool:
    """False when there is no live token of that id."""
    with conn:
        _tokens_schema(conn)
        cur = conn.execute("UPDATE api_tokens SET revoked = ? WHERE id = ? AND revoked IS NULL", (at, token_id))
    return cur.rowcount == 1


def expire_token(conn: sqlite3.Connection, token_id: str, at: float) -> bool:
    """Bring a live token's expiry forward to `at` (never later than it was); False when there is none."""
    with conn:
        _tokens_schema(conn)
        cur = conn.execute(
            "UPDATE api_tokens SET expires = CASE WHEN expires IS NULL OR expires > ? THEN ? ELSE expires END "
            "WHERE id = ? AND revoked IS NULL",
            (at, at, token_id),
        )
    return cur.rowcount == 1


def read_tokens(conn: sqlite3.Connection) -> list[dict[str, Any]]:
    """Every token, oldest first: id, role, name, created, revoked, expires (never its digest)."""
    with conn:
        _tokens_schema(conn)
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
