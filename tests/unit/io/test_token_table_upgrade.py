"""A site store whose token table was made before tokens expired: its tokens still work, and new ones expire."""

from __future__ import annotations

import sqlite3

from edgeloop.api import tokens
from edgeloop.io.store import SqliteOperatorStore


def test_an_old_token_table_gains_expiry_and_keeps_its_tokens() -> None:
    conn = sqlite3.connect(":memory:", check_same_thread=False)
    conn.execute("CREATE TABLE api_tokens(id TEXT PRIMARY KEY, sha256 TEXT UNIQUE, role TEXT, name TEXT, "
                 "created REAL, revoked REAL)")  # fmt: skip
    conn.execute("INSERT INTO api_tokens VALUES ('0a1b2c3d', ?, 'viewer', 'old', 0, NULL)",
                 (tokens._digest("el_0a1b2c3d_old-secret"),))  # fmt: skip
    store = SqliteOperatorStore(conn)
    assert tokens.role_of(store, "el_0a1b2c3d_old-secret", now=1e12) == "viewer"  # made without an expiry
    new = tokens.create(store, "admin", "new", now=0.0, ttl_s=10.0)
    assert tokens.role_of(store, new, now=5.0) == "admin"
    assert tokens.role_of(store, new, now=10.0) is None
    assert [t["expires"] for t in tokens.listing(store)] == [None, 10.0]
