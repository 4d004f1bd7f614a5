"""A site store as the API and the command line open it (`OperatorStore` on SQLite), and the API's pool of them.

The agent owns the store and creates it; these never do: a server takes a store only once the file exists.
"""

from __future__ import annotations

import os
import sqlite3
import threading
from pathlib import Path
from types import TracebackType
from typing import Any

from edgeloop.io.store import access, approvals
from edgeloop.io.store.base import NoStoreError, OperatorStore, StoreError
from edgeloop.io.store.reads import SqliteReads

Connection = sqlite3.Connection  # for callers that still open SQLite themselves; see `as_operator_store`


class SqliteOperatorStore(SqliteReads):
    """Reads, and writes at once (not queued: the caller waits for them) what operators hand in."""

    def __init__(self, conn: sqlite3.Connection, owned: bool = True) -> None:
        self._reader = conn
        self._owned = owned
        self.file: tuple[int, int] | None = None  # (device, inode) of the file, for a pool to tell it was replaced

    @classmethod
    def open(cls, path: Path | str, timeout: float = 30.0, read_only: bool = False) -> SqliteOperatorStore:
        """Open the store at `path` (":memory:" for a scratch one). Read-only never creates or changes it."""
        if read_only:
            conn = sqlite3.connect(f"{Path(path).resolve().as_uri()}?mode=ro", uri=True, check_same_thread=False)
        else:  # a server may hand it to another thread for each request
            if str(path) != ":memory:":
                access.keep_private(Path(path))  # `edgeloop token create` may make the store before its agent
            conn = sqlite3.connect(path, timeout=timeout, check_same_thread=False)
        return cls(conn)

    def __enter__(self) -> SqliteOperatorStore:
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self.close()

    def close(self) -> None:
        if self._owned:
            self._reader.close()

    def submit_answer(self, kind: str, decision: str, answer: str, by: str, why: str, at: float) -> int:
        return approvals.submit_answer(self._reader, kind, decision, answer, by, why, at)

    def add_token(
        self, token_id: str, sha256: str, role: str, name: str, created: float, expires: float | None = None
    ) -> None:
        access.add_token(self._reader, token_id, sha256, role, name, created, expires)

    def read_token(self, sha256: str, now: float | None = None) -> tuple[str, str, str] | None:
        return access.read_token(self._reader, sha256, now)

    def read_token_by_id(self, token_id: str, now: float) -> dict[str, Any] | None:
        return access.read_token_by_id(self._reader, token_id, now)

    def revoke_token(self, token_id: str, at: float) -> bool:
        return access.revoke_token(self._reader, token_id, at)

    def expire_token(self, token_id: str, at: float) -> bool:
        return access.expire_token(self._reader, token_id, at)

    def read_tokens(self) -> list[dict[str, Any]]:
        return access.read_tokens(self._reader)

    def add_user(self, name: str, role: str, salt: bytes, key: bytes, created: float) -> bool:
        return access.add_user(self._reader, name, role, salt, key, created)

    def read_user_key(self, name: str) -> tuple[str, bytes, bytes] | None:
        return access.read_user_key(self._reader, name)

    def delete_user(self, name: str) -> bool:
        return access.delete_user(self._reader, name)

    def read_users(self) -> list[dict[str, Any]]:
        return access.read_users(self._reader)

    def open_session(self, sha256: str, user: str, created: float, expires: float) -> None:
        access.open_session(self._reader, sha256, user, created, expires)

    def read_session(self, sha256: str, now: float) -> tuple[str, str] | None:
        return access.read_session(self._reader, sha256, now)

    def end_session(self, sha256: str) -> bool:
        return access.end_session(self._reader, sha256)


def read_decision_at(path: Path, decision_id: str) -> dict[str, Any] | None:
    """A decision's record from the store at `path`, read without creating or changing anything; `StoreError`
    (with SQLite's reason) when the file cannot be read as a store."""
    try:
        with SqliteOperatorStore.open(path, read_only=True) as store:
            return store.read_decision(decision_id)
    except sqlite3.Error as exc:
        raise StoreError(str(exc)) from exc


def as_operator_store(store: OperatorStore | Connection) -> OperatorStore:
    """An operator store over a connection a caller opened itself (it stays the caller's to close)."""
    return SqliteOperatorStore(store, owned=False) if isinstance(store, sqlite3.Connection) else store


class SqliteOperatorStores:
    """Operator stores on one SQLite file for a server, kept open between requests (`OperatorStores`).

    WAL lets them read while the agent writes. A store is handed to one request at a time; up to `keep` idle
    ones stay open, and more are opened when requests overlap. None is opened before the agent created the file.
    """

    def __init__(self, path: Path, timeout: float = 10.0, keep: int = 4) -> None:
        self.path = path
        self.timeout = timeout
        self.keep = keep
        self._idle: list[SqliteOperatorStore] = []
        self._lock = threading.Lock()
        self._closed = False

    def take(self) -> SqliteOperatorStore:
        try:  # checked each time: the store may be removed, or made anew, under a running server
            stat = os.stat(self.path)
        except FileNotFoundError:
            self._drop_idle()
            raise NoStoreError(f"no site store at {self.path}") from None
        file = (stat.st_dev, stat.st_ino)
        with self._lock:
            while self._idle:
                store = self._idle.pop()
                if store.file == file:
                    return store
                store.close()  # open on a file that is gone
        store = SqliteOperatorStore.open(self.path, self.timeout)
        store.file = file
        return store

    def give_back(self, store: OperatorStore) -> None:
        assert isinstance(store, SqliteOperatorStore)
        if store._reader.in_transaction:  # a request that failed half-way must not leave a transaction open
            store._reader.rollback()
        with self._lock:
            if not self._closed and len(self._idle) < self.keep:
                self._idle.append(store)
                return
        store.close()

    def _drop_idle(self) -> None:
        with self._lock:
            idle, self._idle = self._idle, []
        for store in idle:
            store.close()

    def close(self) -> None:
        with self._lock:
            self._closed = True
        self._drop_idle()
