"""Dashboard users and their login sessions, kept in the site store.

A password is kept only as its scrypt hash (a memory-hard key derivation from the standard library) with a
random salt. Logging in opens a session: a random token handed to the page, stored as its SHA-256, ending at
its expiry, at logout, or when its user is deleted. A session has the role its user has now.

>>> from edgeloop.io.store import SqliteOperatorStore
>>> store = SqliteOperatorStore.open(":memory:")
>>> create_user(store, "ana", "operator", "correct horse", now=0.0)
>>> check_password(store, "ana", "correct horse"), check_password(store, "ana", "wrong horse")
('operator', None)
>>> token = open_session(store, "ana", now=0.0, ttl_s=60)
>>> session_of(store, token, now=30.0), session_of(store, token, now=61.0)
(('ana', 'operator'), None)
>>> delete_user(store, "ana"), session_of(store, token, now=30.0)
(True, None)
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from typing import Any

from edgeloop.api.tokens import ROLES, Site
from edgeloop.io.store import as_operator_store

NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._@-]{0,63}")
MIN_PASSWORD = 8
SESSION_S = 12 * 3600.0  # a dashboard login lasts a working shift
# scrypt cost: n=2**14, r=8 takes 16 MiB and some tens of ms per check, which makes guessing slow
_N, _R, _P = 1 << 14, 8, 1
_DUMMY_SALT = secrets.token_bytes(16)


class UserError(ValueError):
    """A user that cannot be created as asked; the message says why."""


def _kdf(password: str, salt: bytes) -> bytes:
    return hashlib.scrypt(password.encode(), salt=salt, n=_N, r=_R, p=_P, maxmem=64 << 20, dklen=32)


def create_user(store: Site, name: str, role: str, password: str, now: float) -> None:
    if not NAME.fullmatch(name):
        raise UserError(f"user name {name!r} must match {NAME.pattern}")
    if role not in ROLES:
        raise UserError(f"role must be one of {', '.join(ROLES)}, not {role!r}")
    if len(password) < MIN_PASSWORD:
        raise UserError(f"a password needs at least {MIN_PASSWORD} characters")
    salt = secrets.token_bytes(16)
    if not as_operator_store(store).add_user(name, role, salt, _kdf(password, salt), now):
        raise UserError(f"user {name!r} exists already (delete it first to change it)")


def check_password(store: Site, name: str, password: str) -> str | None:
    """The user's role when the password is right, else None (as slow for an unknown user as for a known one)."""
    found = as_operator_store(store).read_user_key(name)
    if found is None:
        _kdf(password, _DUMMY_SALT)
        return None
    role, salt, stored = found
    return role if hmac.compare_digest(_kdf(password, salt), stored) else None


def delete_user(store: Site, name: str) -> bool:
    """Delete a user and end its sessions; False when there was no such user."""
    return as_operator_store(store).delete_user(name)


def listing(store: Site) -> list[dict[str, Any]]:
    return as_operator_store(store).read_users()


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def open_session(store: Site, name: str, now: float, ttl_s: float) -> str:
    """A new session token for a user who just logged in (shown to the page once, kept as its SHA-256)."""
    token = "els_" + secrets.token_urlsafe(32)
    as_operator_store(store).open_session(_digest(token), name, now, now + ttl_s)
    return token


def session_of(store: Site, token: str, now: float) -> tuple[str, str] | None:
    """(user, role) of a live session, or None."""
    return as_operator_store(store).read_session(_digest(token), now)


def end_session(store: Site, token: str) -> bool:
    return as_operator_store(store).end_session(_digest(token))
