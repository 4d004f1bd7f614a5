"""API tokens kept in the site store: only their SHA-256 is stored, the token itself is shown once.

A token reads `el_<id>_<secret>`: the id names it in lists and for revoking, the secret is 32 random bytes.
A token expires (after `TTL_S` unless told otherwise); rotating it makes a new one for the same role and name
and retires the old one at once or after a grace period, so that its holders can switch over.

>>> from edgeloop.io.store import SqliteOperatorStore
>>> store = SqliteOperatorStore.open(":memory:")
>>> token = create(store, "operator", "ana", now=0.0, ttl_s=100.0)
>>> role_of(store, token, now=50.0), role_of(store, token + "x", now=50.0), role_of(store, token, now=100.0)
('operator', None, None)
>>> new = rotate(store, token.split("_")[1], now=10.0, grace_s=5.0)
>>> role_of(store, new, now=50.0), role_of(store, token, now=14.0), role_of(store, token, now=15.0)
('operator', 'operator', None)
>>> revoke(store, new.split("_")[1], now=60.0), role_of(store, new, now=61.0)
(True, None)
"""

from __future__ import annotations

import hashlib
import secrets
import time
from typing import Any

from edgeloop.io.store import Connection, OperatorStore, as_operator_store

ROLES = ("viewer", "operator", "admin")
TTL_S = 90 * 86_400.0  # a token lives 90 days unless made for longer or shorter
ROTATE_GRACE_S = 86_400.0  # after a rotation, the old token still works this long

# A caller may still hand in a connection it opened itself (`Connection`); the store's functions take it over.
Site = OperatorStore | Connection


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def id_of(token: str) -> str:
    """
    >>> id_of("el_0a1b2c3d_secret")
    '0a1b2c3d'
    """
    return token.split("_")[1]


def create(store: Site, role: str, name: str, now: float, ttl_s: float | None = TTL_S) -> str:
    """A new token for `role`, live for `ttl_s` seconds (None: until revoked); returns it (the only time it
    is seen in clear)."""
    if role not in ROLES:
        raise ValueError(f"role must be one of {', '.join(ROLES)}, not {role!r}")
    if ttl_s is not None and ttl_s <= 0:
        raise ValueError(f"a token's time to live must be positive, not {ttl_s}")
    token_id, secret = secrets.token_hex(4), secrets.token_urlsafe(32)
    token = f"el_{token_id}_{secret}"
    expires = None if ttl_s is None else now + ttl_s
    as_operator_store(store).add_token(token_id, _digest(token), role, name, now, expires)
    return token


def role_of(store: Site, token: str, now: float | None = None) -> str | None:
    """The role of a live (not revoked, not expired) token, or None."""
    found = holder(store, token, now)
    return None if found is None else found[1]


def holder(store: Site, token: str, now: float | None = None) -> tuple[str, str, str] | None:
    """(id, role, name) of a live token at `now` (the wall clock when not given), or None."""
    return as_operator_store(store).read_token(_digest(token), time.time() if now is None else now)


def rotate(
    store: Site, token_id: str, now: float, grace_s: float = ROTATE_GRACE_S, ttl_s: float | None = TTL_S
) -> str | None:
    """A new token with the role and name of the live token `token_id`, which then expires after `grace_s`
    (0: at once); None when there is no such live token."""
    site = as_operator_store(store)
    old = site.read_token_by_id(token_id, now)
    if old is None:
        return None
    new = create(site, str(old["role"]), str(old["name"]), now, ttl_s)
    if grace_s <= 0:
        site.revoke_token(token_id, now)
    else:
        site.expire_token(token_id, now + grace_s)
    return new


def revoke(store: Site, token_id: str, now: float) -> bool:
    return as_operator_store(store).revoke_token(token_id, now)


def listing(store: Site) -> list[dict[str, Any]]:
    return as_operator_store(store).read_tokens()
