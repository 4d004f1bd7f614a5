"""API tokens kept in the site store: only their SHA-256 is stored, the token itself is shown once.

A token reads `el_<id>_<secret>`: the id names it in lists and for revoking, the secret is 32 random bytes.

>>> from edgeloop.io.store import SqliteOperatorStore
>>> store = SqliteOperatorStore.open(":memory:")
>>> token = create(store, "operator", "ana", now=0.0)
>>> role_of(store, token), role_of(store, token + "x")
('operator', None)
>>> revoke(store, token.split("_")[1], now=1.0), role_of(store, token)
(True, None)
"""

from __future__ import annotations

import hashlib
import secrets
from typing import Any

from edgeloop.io.store import Connection, OperatorStore, as_operator_store

ROLES = ("viewer", "operator", "admin")

# A caller may still hand in a connection it opened itself (`Connection`); the store's functions take it over.
Site = OperatorStore | Connection


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def create(store: Site, role: str, name: str, now: float) -> str:
    """A new token for `role`; returns it (the only time it is seen in clear)."""
    if role not in ROLES:
        raise ValueError(f"role must be one of {', '.join(ROLES)}, not {role!r}")
    token_id, secret = secrets.token_hex(4), secrets.token_urlsafe(32)
    token = f"el_{token_id}_{secret}"
    as_operator_store(store).add_token(token_id, _digest(token), role, name, now)
    return token


def role_of(store: Site, token: str) -> str | None:
    """The role of a live (not revoked) token, or None."""
    found = holder(store, token)
    return None if found is None else found[1]


def holder(store: Site, token: str) -> tuple[str, str, str] | None:
    """(id, role, name) of a live (not revoked) token, or None."""
    return as_operator_store(store).read_token(_digest(token))


def revoke(store: Site, token_id: str, now: float) -> bool:
    return as_operator_store(store).revoke_token(token_id, now)


def listing(store: Site) -> list[dict[str, Any]]:
    return as_operator_store(store).read_tokens()
