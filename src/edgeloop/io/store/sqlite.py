"""The site agent's store on SQLite (WAL): `SqliteStore`.

All writes go through one writer thread that commits whatever has queued up in one transaction. If the
database is unavailable (locked, busy, disk full, I/O error) the writer keeps the batch and retries: nothing
is dropped. Any other database error is a bug: the writer stops, and the next `check()` raises it. Reads use a
connection of their own (WAL lets them run while the writer commits).
"""

from __future__ import annotations

import logging
import queue
import sqlite3
import threading
import time
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from edgeloop.io.store import access, approvals, decisions, devices, ledger, outbox, quarantine, telemetry
from edgeloop.io.store import state as agent_state
from edgeloop.io.store.base import StoreError
from edgeloop.io.store.outbox import OutboxRow
from edgeloop.io.store.queued import WriteMarks, wait_for_writes
from edgeloop.io.store.reads import SqliteReads
from edgeloop.io.store.schema import ADDED_COLUMNS, SCHEMA, Row, Write
from edgeloop.io.store.state import ShadowRow

log = logging.getLogger(__name__)

#: SQLite errors worth retrying (an outage that may pass); "database disk image is malformed" is not one
TRANSIENT = ("locked", "busy", "disk i/o error", "database or disk is full", "unable to open")


def connect(path: Path) -> sqlite3.Connection:
    access.keep_private(path)  # 0600 file, 0700 folder
    path.parent.mkdir(parents=True, exist_ok=True)
    conn = sqlite3.connect(path, check_same_thread=False, timeout=30)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    return conn


def add_columns(conn: sqlite3.Connection) -> None:
    """Bring a store made by an older version up to `SCHEMA`: the columns added since (`ADDED_COLUMNS`)."""
    for table, column, kind in ADDED_COLUMNS:
        have = {row[1] for row in conn.execute(f"PRAGMA table_info({table})")}
        if column not in have:
            conn.execute(f"ALTER TABLE {table} ADD COLUMN {column} {kind}")


class SqliteStore(SqliteReads):
    """The agent's store (`AgentStore`). Writes are queued to one writer thread; reads use their own connection."""

    def __init__(self, path: Path, site: str) -> None:
        self.path = path
        self.site = site
        try:
            self._write_conn = connect(path)
            self._write_conn.executescript(SCHEMA)
            add_columns(self._write_conn)
            self.run = telemetry.start_run(self._write_conn, site, time.time())
            self._write_conn.commit()
            self._reader = connect(path)
        except (sqlite3.Error, OSError) as exc:  # corrupt, not a database, read-only: refuse, touch nothing more
            raise StoreError(f"cannot open the site store {path}: {type(exc).__name__}: {exc}") from exc
        self._queue: queue.Queue[tuple[str, list[Row]] | None] = queue.Queue()
        self.marks = WriteMarks()
        self.write_errors = 0
        self.failure: StoreError | None = None
        self._writer = threading.Thread(target=self._write_loop, name="edgeloop-store", daemon=True)
        self._writer.start()

    # -- writes (thread-safe, never block on the database) --------------------------------------------------

    def write(self, sql: str, rows: list[Row]) -> None:
        """Queue one statement over its rows (prefer the named writes below; this is for tests)."""
        if rows:
            self.marks.put(self._queue, (sql, rows))

    def _put(self, job: Write) -> None:
        self.write(*job)

    def write_telemetry(self, rows: list[Row]) -> None:
        """`chunk_rows` of one batch."""
        self._put(telemetry.write_chunks(self.run, rows))

    def write_series(self, rows: Iterable[tuple[int, str, str, int]]) -> None:
        """(key, device, metric, bucket) of new series keys."""
        self._put(telemetry.write_series(self.run, rows))

    def write_device(self, device: str, asset_type: str, meta: dict[str, Any], at: float) -> None:
        self._put(devices.write_device(device, asset_type, meta, at))

    def write_quarantine(self, rows: list[tuple[float, str, str | None, str, bytes]]) -> None:
        self._put(quarantine.write_quarantine(rows))

    def write_decision(self, record: dict[str, Any], audit: str | None = None) -> None:
        self._put(decisions.write_decision(record, audit))

    def write_command(
        self, cmd_id: str, decision: str, device: str, name: str, args: dict[str, float], at: float
    ) -> None:
        self._put(decisions.write_command(cmd_id, decision, device, name, args, at))

    def write_ack(self, cmd_id: str, status: str, at: float, detail: str) -> None:
        self._put(decisions.write_ack(cmd_id, status, at, detail))

    def write_outcome(
        self, device: str, ts: float, at: float, kind: str, decision: str | None, detail: dict[str, Any]
    ) -> None:
        self._put(decisions.write_outcome(device, ts, at, kind, decision, detail))

    def write_verdict(self, decision: str, device: str, verdict: str, by: str, why: str, at: float) -> None:
        self._put(decisions.write_verdict(decision, device, verdict, by, why, at))

    def write_approval_request(
        self, decision: str, device: str, command: dict[str, Any], requested: float, expires: float
    ) -> None:
        self._put(approvals.write_approval_request(decision, device, command, requested, expires))

    def write_approval_answer(self, decision: str, answer: str, by: str, why: str, at: float) -> None:
        self._put(approvals.write_approval_answer(decision, answer, by, why, at))

    def write_answer_taken(self, row_id: int, result: str, at: float) -> None:
        self._put(approvals.write_answer_taken(row_id, result, at))

    def write_holdout(self, record: dict[str, Any], at: float) -> None:
        """Log a holdout record; the latest one holds every assignment so far."""
        self._put(ledger.write_holdout(record, at))

    def write_entries(self, entries: list[dict[str, Any]], audit: str | None = None) -> None:
        """Append ledger entries (`Entry.to_json()` dicts); a sequence number already taken is an error."""
        self._put(ledger.write_entries(entries, audit))

    def write_day(self, day: int) -> None:
        """Mark a UTC day index as one the site had data on."""
        self._put(ledger.write_day(day))

    def write_site_policy(self, policy: dict[str, Any], source: str, at: float) -> None:
        self._put(agent_state.write_site_policy(policy, source, at))

    def write_guard_state(self, state: dict[str, Any], at: float) -> None:
        self._put(agent_state.write_guard_state(state, at))

    def write_outbox(self, rows: list[OutboxRow]) -> None:
        """Messages about to be published (the durable outbox): they are committed before they go out."""
        self._put(outbox.write_outbox(rows))

    def mark_sent(self, ids: list[str], at: float) -> None:
        """Outbox messages the broker acknowledged."""
        self._put(outbox.mark_sent(ids, at))

    def forget_sent(self, before: float) -> None:
        """Delete outbox rows acknowledged before `before`."""
        self._put(outbox.forget_sent(before))

    def write_learnt(self, name: str, state: dict[str, Any], at: float) -> None:
        """Keep what the agent learnt under `name` (e.g. from feedback), so a restart does not forget it."""
        self._put(agent_state.write_learnt(name, state, at))

    def write_champion(self, asset_type: str, learner: str, threshold: float, sustain: int, at: float) -> None:
        self._put(agent_state.write_champion(asset_type, learner, threshold, sustain, at))

    def write_shadow(self, rows: list[ShadowRow]) -> None:
        self._put(agent_state.write_shadow(rows))

    def _write_loop(self) -> None:
        conn = self._write_conn
        while True:
            job = self._queue.get()
            jobs = [job]
            while len(jobs) < 10_000:  # group commit: take whatever else is waiting
                try:
                    jobs.append(self._queue.get_nowait())
                except queue.Empty:
                    break
            stop = None in jobs
            work = [j for j in jobs if j is not None]
            while work and self.failure is None:
                try:
                    with conn:
                        for sql, rows in work:
                            conn.executemany(sql, rows)
                    self.marks.done(len(work))
                    break
                except Exception as exc:  # the writer never dies silently: a failure stops intake with its reason
                    transient = isinstance(exc, sqlite3.Error) and any(w in str(exc).lower() for w in TRANSIENT)
                    if not transient:
                        self.failure = StoreError(f"store write failed ({self.path}): {type(exc).__name__}: {exc}")
                        log.error("store writer stopped: %s", self.failure)
                        break
                    self.write_errors += 1  # outage: keep the batch and retry
                    log.warning("store write failed (%s); retrying, nothing dropped", exc)
                    time.sleep(min(5.0, 0.1 * self.write_errors))
            for _ in jobs:
                self._queue.task_done()
            if stop:
                return

    def check(self) -> None:
        """Raise the error that stopped the writer, if any."""
        if self.failure is not None:
            raise self.failure

    def flush(self, timeout: float | None = None) -> bool:
        """Block until every queued write is committed, or `timeout` seconds; whether all were."""
        return wait_for_writes(self._queue, timeout, lambda: self.failure is not None)

    @property
    def backlog(self) -> int:
        return self._queue.qsize()

    def close(self, timeout: float = 5.0) -> None:
        """Commit what is queued and stop the writer; after `timeout` seconds of a failing store, give up (what
        was not committed is logged as lost, never silently)."""
        if self._writer.is_alive():
            self._queue.put(None)
            self._writer.join(timeout)
        if self._writer.is_alive():
            log.error("store %s: %d writes not committed at shutdown", self.path, self._queue.unfinished_tasks)
            return  # the writer still holds the connection; the process is ending
        self._write_conn.close()
        self._reader.close()

    # -- raw reads, for tests -------------------------------------------------------------------------------------

    def query(self, sql: str, args: Sequence[Any] = ()) -> list[Row]:
        return self._reader.execute(sql, args).fetchall()

    def count(self, table: str, where: str = "1=1", args: Sequence[Any] = ()) -> int:
        return int(self.query(f"SELECT COUNT(*) FROM {table} WHERE {where}", args)[0][0])
