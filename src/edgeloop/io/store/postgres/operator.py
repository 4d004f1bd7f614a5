"""A site's PostgreSQL store as the API and the command line open it (`OperatorStore`), and the API's pool.

Neither creates nor migrates the schema (the agent does): a database where this site's agent never ran is
`NoStoreError`, a schema older or newer than this code is a `StoreError` that says what to do.
"""

from __future__ import annotations

import threading
from types import TracebackType
from typing import Any

import psycopg
from psycopg_pool import ConnectionPool

from edgeloop.io.store.base import NoStoreError, OperatorStore, StoreError
from edgeloop.io.store.postgres import schema
from edgeloop.io.store.postgres.reads import PgReads
from edgeloop.io.store.schema import Row

_TOKEN = ("id", "role", "name", "created", "revoked", "expires")
Conn = psycopg.Connection[tuple[Any, ...]]


def check_schema(conn: Conn, site: str) -> None:
    """Raise unless this code can read the store and this site's agent has opened it."""
    found = schema.schema_version(conn)
    if found == 0 or conn.execute("SELECT 1 FROM runs WHERE site = %s LIMIT 1", (site,)).fetchone() is None:
        raise NoStoreError(f"no site store yet for {site} at {schema.where(conn.info.dsn)}")
    check_version(conn, found)


def check_version(conn: Conn, found: int | None = None) -> None:
    """Raise unless the schema is the version this code reads (`NoStoreError` when no agent made it yet)."""
    found = schema.schema_version(conn) if found is None else found
    if found == 0:
        raise NoStoreError(f"no edgeloop store yet at {schema.where(conn.info.dsn)}")
    if found < schema.VERSION:
        raise schema.too_old(found)
    if found > schema.VERSION:
        raise schema.too_new(found)


class PgOperatorStore(PgReads):
    """Reads, and writes at once (not queued: the caller waits for them) what operators hand in."""

    def __init__(self, conn: Conn, site: str, owned: bool = True) -> None:
        self._conn = conn
        self.site = site
        self._owned = owned

    @classmethod
    def open(cls, url: str, site: str, check: bool = True) -> PgOperatorStore:
        """`check=False` skips asking whether this site's agent has run (for reads across sites); the schema's
        version is checked always."""
        conn = schema.connect(url, autocommit=True)
        try:
            if check:
                check_schema(conn, site)
            else:
                check_version(conn)
        except StoreError:
            conn.close()
            raise
        return cls(conn, site)

    def __enter__(self) -> PgOperatorStore:
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self.close()

    def close(self) -> None:
        if self._owned:
            self._conn.close()

    def _fetch(self, query: str, args: tuple[Any, ...] = ()) -> list[Row]:
        return self._conn.execute(query, args or None).fetchall()

    def _run(self, query: str, *args: Any) -> int:
        """Execute one statement with this site first among its arguments; the rows it touched."""
        return self._conn.execute(query, (self.site, *args)).rowcount

    def read_sites(self) -> list[str]:
        """Every site whose agent has opened this database, by name."""
        return [str(r[0]) for r in self._fetch("SELECT DISTINCT site FROM runs ORDER BY site")]

    def for_site(self, site: str) -> PgOperatorStore:
        """The same connection, reading another site (close only the store that owns it)."""
        return PgOperatorStore(self._conn, site, owned=False)

    def submit_answer(self, kind: str, decision: str, answer: str, by: str, why: str, at: float) -> int:
        rows = self._fetch(
            "INSERT INTO inbox(site, at, kind, decision, answer, by, why) VALUES (%s, %s, %s, %s, %s, %s, %s) "
            "RETURNING id",
            (self.site, at, kind, decision, answer, by, why),
        )
        return int(rows[0][0])

    def add_token(
        self, token_id: str, sha256: str, role: str, name: str, created: float, expires: float | None = None
    ) -> None:
        insert = "INSERT INTO api_tokens (site, id, sha256, role, name, created, revoked, expires) "
        self._run(insert + "VALUES (%s, %s, %s, %s, %s, %s, NULL, %s)", token_id, sha256, role, name, created, expires)

    def read_token(self, sha256: str, now: float | None = None) -> tuple[str, str, str] | None:
        rows = self._fetch("SELECT id, role, name FROM api_tokens WHERE site = %s AND sha256 = %s AND revoked IS NULL "
                           "AND (expires IS NULL OR %s::double precision IS NULL OR expires > %s)",
                           (self.site, sha256, now, now))  # fmt: skip
        return (str(rows[0][0]), str(rows[0][1]), str(rows[0][2])) if rows else None

    def read_token_by_id(self, token_id: str, now: float) -> dict[str, Any] | None:
        live = "AND revoked IS NULL AND (expires IS NULL OR expires > %s)"
        rows = self._fetch(f"SELECT {', '.join(_TOKEN)} FROM api_tokens WHERE site = %s AND id = %s {live}",
                           (self.site, token_id, now))  # fmt: skip
        return dict(zip(_TOKEN, rows[0], strict=True)) if rows else None

    def expire_token(self, token_id: str, at: float) -> bool:
        return self._conn.execute(
            "UPDATE api_tokens SET expires = CASE WHEN expires IS NULL OR expires > %s THEN %s ELSE expires END "
            "WHERE site = %s AND id = %s AND revoked IS NULL", (at, at, self.site, token_id)
        ).rowcount == 1  # fmt: skip

    def revoke_token(self, token_id: str, at: float) -> bool:
        return self._conn.execute("UPDATE api_tokens SET revoked = %s WHERE site = %s AND id = %s AND revoked IS NULL",
                                  (at, self.site, token_id)).rowcount == 1  # fmt: skip

    def read_tokens(self) -> list[dict[str, Any]]:
        rows = self._fetch(f"SELECT {', '.join(_TOKEN)} FROM api_tokens WHERE site = %s ORDER BY created", (self.site,))
        return [dict(zip(_TOKEN, r, strict=True)) for r in rows]

    def add_user(self, name: str, role: str, salt: bytes, key: bytes, created: float) -> bool:
        return self._run("INSERT INTO api_users VALUES (%s, %s, %s, %s, %s, %s) ON CONFLICT DO NOTHING",
                         name, role, salt, key, created) == 1  # fmt: skip

    def read_user_key(self, name: str) -> tuple[str, bytes, bytes] | None:
        rows = self._fetch("SELECT role, salt, hash FROM api_users WHERE site = %s AND name = %s", (self.site, name))
        return (str(rows[0][0]), bytes(rows[0][1]), bytes(rows[0][2])) if rows else None

    def delete_user(self, name: str) -> bool:
        with self._conn.transaction():
            gone = self._run("DELETE FROM api_users WHERE site = %s AND name = %s", name) == 1
            self._run('DELETE FROM api_sessions WHERE site = %s AND "user" = %s', name)
        return gone

    def read_users(self) -> list[dict[str, Any]]:
        rows = self._fetch("SELECT name, role, created FROM api_users WHERE site = %s ORDER BY name", (self.site,))
        return [{"name": n, "role": r, "created": c} for n, r, c in rows]

    def open_session(self, sha256: str, user: str, created: float, expires: float) -> None:
        with self._conn.transaction():
            self._run("DELETE FROM api_sessions WHERE site = %s AND expires <= %s", created)
            self._run("INSERT INTO api_sessions VALUES (%s, %s, %s, %s, %s)", sha256, user, created, expires)

    def read_session(self, sha256: str, now: float) -> tuple[str, str] | None:
        rows = self._fetch(
            'SELECT u.name, u.role FROM api_sessions s JOIN api_users u ON u.site = s.site AND u.name = s."user" '
            "WHERE s.site = %s AND s.sha256 = %s AND s.expires > %s",
            (self.site, sha256, now),
        )
        return (str(rows[0][0]), str(rows[0][1])) if rows else None

    def end_session(self, sha256: str) -> bool:
        return self._run("DELETE FROM api_sessions WHERE site = %s AND sha256 = %s", sha256) == 1


class PgOperatorStores:
    """Operator stores for a server over a pool of connections (`OperatorStores`); none is handed out before
    this site's agent has opened the store."""

    def __init__(self, url: str, site: str, keep: int = 4) -> None:
        self.url = url
        self.site = site
        self._pool: ConnectionPool[Conn] = ConnectionPool(
            url, min_size=0, max_size=keep, kwargs={"autocommit": True}, timeout=10.0, name=f"edgeloop-api-{site}",
            open=True,
        )  # fmt: skip
        self._ready = False
        self._lock = threading.Lock()
        self._stores: dict[int, PgOperatorStore] = {}  # one per pooled connection, handed out with it

    def take(self) -> PgOperatorStore:
        conn = self._pool.getconn()
        if not self._ready:  # checked until the agent has made the store, then never again
            try:
                check_schema(conn, self.site)
            except StoreError:
                self._pool.putconn(conn)
                raise
            with self._lock:
                self._ready = True
        with self._lock:
            store = self._stores.get(id(conn))
            if store is None or store._conn is not conn:
                store = self._stores[id(conn)] = PgOperatorStore(conn, self.site, owned=False)
        return store

    def give_back(self, store: OperatorStore) -> None:
        assert isinstance(store, PgOperatorStore)
        self._pool.putconn(store._conn)

    def close(self) -> None:
        self._pool.close()
        self._stores.clear()
