"""Dashboard users and their login sessions, kept in the site store.

A password is kept only as its scrypt hash (a memory-hard key derivation from the standard library) with a
random salt. Logging in opens a session: a random token handed to the page, stored as its SHA-256, ending at
its expiry, at logout, or when its user is deleted. A session has the role its user has now.

>>> import sqlite3
>>> conn = sqlite3.connect(":memory:")
>>> create_user(conn, "ana", "operator", "correct horse", now=0.0)
>>> check_password(conn, "ana", "correct horse"), check_password(conn, "ana", "wrong horse")
('operator', None)
>>> token = open_session(conn, "ana", now=0.0, ttl_s=60)
>>> session_of(conn, token, now=30.0), session_of(conn, token, now=61.0)
(('ana', 'operator'), None)
>>> delete_user(conn, "ana"), session_of(conn, token, now=30.0)
(True, None)
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import sqlite3
from typing import Any

from edgeloop.api.tokens import ROLES

SCHEMA = (
    "CREATE TABLE IF NOT EXISTS api_users(name TEXT PRIMARY KEY, role TEXT, salt BLOB, hash BLOB, created REAL)",
    "CREATE TABLE IF NOT EXISTS api_sessions(sha256 TEXT PRIMARY KEY, user TEXT, created REAL, expires REAL)",
)
NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._@-]{0,63}")
MIN_PASSWORD = 8
SESSION_S = 12 * 3600.0  # a dashboard login lasts a working shift
# scrypt cost: n=2**14, r=8 takes 16 MiB and some tens of ms per check, which makes guessing slow
_N, _R, _P = 1 << 14, 8, 1
_DUMMY_SALT = secrets.token_bytes(16)


class UserError(ValueError):
    """A user that cannot be created as asked; the message says why."""


def _schema(conn: sqlite3.Connection) -> None:
    for statement in SCHEMA:
        conn.execute(statement)


def _kdf(password: str, salt: bytes) -> bytes:
    return hashlib.scrypt(password.encode(), salt=salt, n=_N, r=_R, p=_P, maxmem=64 << 20, dklen=32)


def create_user(conn: sqlite3.Connection, name: str, role: str, password: str, now: float) -> None:
    if not NAME.fullmatch(name):
        raise UserError(f"user name {name!r} must match {NAME.pattern}")
    if role not in ROLES:
        raise UserError(f"role must be one of {', '.join(ROLES)}, not {role!r}")
    if len(password) < MIN_PASSWORD:
        raise UserError(f"a password needs at least {MIN_PASSWORD} characters")
    salt = secrets.token_bytes(16)
    with conn:
        _schema(conn)
        if conn.execute("SELECT 1 FROM api_users WHERE name=?", (name,)).fetchone():
            raise UserError(f"user {name!r} exists already (delete it first to change it)")
        conn.execute("INSERT INTO api_users VALUES (?, ?, ?, ?, ?)", (name, role, salt, _kdf(password, salt), now))


def check_password(conn: sqlite3.Connection, name: str, password: str) -> str | None:
    """The user's role when the password is right, else None (as slow for an unknown user as for a known one)."""
    _schema(conn)
    row = conn.execute("SELECT role, salt, hash FROM api_users WHERE name=?", (name,)).fetchone()
    if row is None:
        _kdf(password, _DUMMY_SALT)
        return None
    role, salt, stored = row
    return str(role) if hmac.compare_digest(_kdf(password, bytes(salt)), bytes(stored)) else None


def delete_user(conn: sqlite3.Connection, name: str) -> bool:
    """Delete a user and end its sessions; False when there was no such user."""
    with conn:
        _schema(conn)
        gone = conn.execute("DELETE FROM api_users WHERE name=?", (name,)).rowcount == 1
        conn.execute("DELETE FROM api_sessions WHERE user=?", (name,))
    return gone


def listing(conn: sqlite3.Connection) -> list[dict[str, Any]]:
    _schema(conn)
    rows = conn.execute("SELECT name, role, created FROM api_users ORDER BY name").fetchall()
    return [{"name": n, "role": r, "created": c} for n, r, c in rows]


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def open_session(conn: sqlite3.Connection, name: str, now: float, ttl_s: float) -> str:
    """A new session token for a user who just logged in (shown to the page once, kept as its SHA-256)."""
    token = "els_" + secrets.token_urlsafe(32)
    with conn:
        _schema(conn)
        conn.execute("DELETE FROM api_sessions WHERE expires <= ?", (now,))
        conn.execute("INSERT INTO api_sessions VALUES (?, ?, ?, ?)", (_digest(token), name, now, now + ttl_s))
    return token


def session_of(conn: sqlite3.Connection, token: str, now: float) -> tuple[str, str] | None:
    """(user, role) of a live session, or None."""
    try:
        row = conn.execute(
            "SELECT u.name, u.role FROM api_sessions s JOIN api_users u ON u.name = s.user "
            "WHERE s.sha256 = ? AND s.expires > ?",
            (_digest(token), now),
        ).fetchone()
    except sqlite3.OperationalError:  # no user was ever made for this site
        return None
    return None if row is None else (str(row[0]), str(row[1]))


def end_session(conn: sqlite3.Connection, token: str) -> bool:
    with conn:
        _schema(conn)
        return conn.execute("DELETE FROM api_sessions WHERE sha256=?", (_digest(token),)).rowcount == 1
