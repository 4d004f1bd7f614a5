"""The site agent's store on PostgreSQL: `PgStore`.

As on SQLite, every write goes through one writer thread that commits whatever has queued up in one
transaction, telemetry by `COPY ... FROM STDIN (FORMAT BINARY)` (one COPY per group). When the database is
unreachable (down, restarting, the network cut) the writer keeps the group, reconnects and retries until it
commits: nothing queued is dropped, the queue grows meanwhile (`backlog`). Any other database error is a bug:
the writer stops, and the next `check()` raises it. Reads use a pool of connections of their own.
"""

from __future__ import annotations

import contextlib
import logging
import queue
import threading
import time
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import psycopg
from psycopg_pool import ConnectionPool, PoolTimeout

from edgeloop.io.store.approvals import InboxRow
from edgeloop.io.store.base import StoreError
from edgeloop.io.store.outbox import OutboxRow
from edgeloop.io.store.postgres import schema, writes
from edgeloop.io.store.postgres.reads import PgReads
from edgeloop.io.store.queued import WriteMarks, wait_for_writes
from edgeloop.io.store.schema import Row, Write
from edgeloop.io.store.state import ShadowRow

log = logging.getLogger(__name__)

COPY = "COPY telemetry(site, run, bucket, t0, t1, n, keys, ts, vals, scores) FROM STDIN (FORMAT BINARY)"
_COPY_TYPES = ["text", "int8", "int8", "float8", "float8", "int8", "bytea", "bytea", "bytea", "bytea"]
READ_TIMEOUT_S = 5.0


class PgStore(PgReads):
    """The agent's store (`AgentStore`) in a PostgreSQL database that many sites may share."""

    def __init__(self, url: str, site: str, path: Path | None = None) -> None:
        self.url = url
        self.site = site
        self.path = path if path is not None else Path(schema.where(url))
        self._conn: psycopg.Connection[tuple[Any, ...]] | None = schema.connect(url, autocommit=True)
        try:
            schema.migrate(self._conn)
            self._partitioned = schema.partitioned(self._conn)
            row = self._conn.execute("INSERT INTO runs(site, started) VALUES (%s, %s) RETURNING run",
                                     (site, time.time())).fetchone()  # fmt: skip
        except BaseException:
            self._conn.close()
            raise
        self._days: set[int] = set()
        self.run = int(row[0]) if row else 0
        self._pool = ConnectionPool(url, min_size=1, max_size=4, kwargs={"autocommit": True}, timeout=READ_TIMEOUT_S,
                                    name=f"edgeloop-{site}", open=True)  # fmt: skip
        self._queue: queue.Queue[Write | None] = queue.Queue()
        self.marks = WriteMarks()
        self.write_errors = 0
        self.outage = False  # the writer cannot reach the database right now
        self._skip_reads_until = 0.0
        self.failure: StoreError | None = None
        self._writer = threading.Thread(target=self._write_loop, name="edgeloop-store", daemon=True)
        self._writer.start()

    # -- reads ------------------------------------------------------------------------------------------------------

    def _fetch(self, query: str, args: tuple[Any, ...] = ()) -> list[Row]:
        with self._pool.connection() as conn:
            return conn.execute(query, args or None).fetchall()

    def read_untaken_answers(self) -> list[InboxRow]:
        """As the other reads; during an outage none (the answers wait in the inbox) rather than stall the loop."""
        if self.outage or time.monotonic() < self._skip_reads_until:
            return []
        try:
            return super().read_untaken_answers()
        except (psycopg.OperationalError, PoolTimeout) as exc:
            self._skip_reads_until = time.monotonic() + READ_TIMEOUT_S  # an idle agent tries again later
            log.warning("inbox not read (%s); answers wait until the database is back", exc)
            return []

    # -- writes (thread-safe, never block on the database) ----------------------------------------------------------

    def write(self, sql: str, rows: list[Row]) -> None:
        """Queue one statement (PostgreSQL's dialect) over its rows (prefer the named writes; this is for tests)."""
        if rows:
            self.marks.put(self._queue, (sql, rows))

    def _put(self, job: Write) -> None:
        self.write(*job)

    def write_telemetry(self, rows: list[Row]) -> None:
        """`chunk_rows` of one batch."""
        self.write(COPY, rows)

    def write_series(self, rows: Iterable[tuple[int, str, str, int]]) -> None:
        self._put(writes.write_series(self.site, self.run, rows))

    def write_device(self, device: str, asset_type: str, meta: dict[str, Any], at: float) -> None:
        self._put(writes.write_device(self.site, device, asset_type, meta, at))

    def write_quarantine(self, rows: list[tuple[float, str, str | None, str, bytes]]) -> None:
        self._put(writes.write_quarantine(self.site, rows))

    def write_decision(self, record: dict[str, Any], audit: str | None = None) -> None:
        self._put(writes.write_decision(self.site, record, audit))

    def write_command(
        self, cmd_id: str, decision: str, device: str, name: str, args: dict[str, float], at: float
    ) -> None:
        self._put(writes.write_command(self.site, cmd_id, decision, device, name, args, at))

    def write_ack(self, cmd_id: str, status: str, at: float, detail: str) -> None:
        self._put(writes.write_ack(self.site, cmd_id, status, at, detail))

    def write_outcome(
        self, device: str, ts: float, at: float, kind: str, decision: str | None, detail: dict[str, Any]
    ) -> None:
        self._put(writes.write_outcome(self.site, device, ts, at, kind, decision, detail))

    def write_verdict(self, decision: str, device: str, verdict: str, by: str, why: str, at: float) -> None:
        self._put(writes.write_verdict(self.site, decision, device, verdict, by, why, at))

    def write_approval_request(
        self, decision: str, device: str, command: dict[str, Any], requested: float, expires: float
    ) -> None:
        self._put(writes.write_approval_request(self.site, decision, device, command, requested, expires))

    def write_approval_answer(self, decision: str, answer: str, by: str, why: str, at: float) -> None:
        self._put(writes.write_approval_answer(self.site, decision, answer, by, why, at))

    def write_answer_taken(self, row_id: int, result: str, at: float) -> None:
        self._put(writes.write_answer_taken(self.site, row_id, result, at))

    def write_holdout(self, record: dict[str, Any], at: float) -> None:
        self._put(writes.write_holdout(self.site, record, at))

    def write_entries(self, entries: list[dict[str, Any]], audit: str | None = None) -> None:
        self._put(writes.write_entries(self.site, entries, audit))

    def write_day(self, day: int) -> None:
        self._put(writes.write_day(self.site, day))

    def write_site_policy(self, policy: dict[str, Any], source: str, at: float) -> None:
        self._put(writes.write_site_policy(self.site, policy, source, at))

    def write_guard_state(self, state: dict[str, Any], at: float) -> None:
        self._put(writes.write_guard_state(self.site, state, at))

    def write_outbox(self, rows: list[OutboxRow]) -> None:
        self._put(writes.write_outbox(self.site, rows))

    def mark_sent(self, ids: list[str], at: float) -> None:
        self._put(writes.mark_sent(self.site, ids, at))

    def forget_sent(self, before: float) -> None:
        self._put(writes.forget_sent(self.site, before))

    def write_learnt(self, name: str, state: dict[str, Any], at: float) -> None:
        self._put(writes.write_learnt(self.site, name, state, at))

    def write_champion(self, asset_type: str, learner: str, threshold: float, sustain: int, at: float) -> None:
        self._put(writes.write_champion(self.site, asset_type, learner, threshold, sustain, at))

    def write_shadow(self, rows: list[ShadowRow]) -> None:
        self._put(writes.write_shadow(self.site, rows))

    # -- the writer thread ------------------------------------------------------------------------------------------

    def _commit(self, work: list[Write]) -> None:
        """One transaction: the statements in their order (runs of the same one in one `executemany`), and all
        telemetry of the group in one binary COPY."""
        if self._conn is None or self._conn.closed:
            self._conn = psycopg.connect(self.url, autocommit=True, connect_timeout=5)
        conn = self._conn
        telemetry: list[Row] = []
        groups: list[tuple[str, list[Row]]] = []
        for sql, rows in work:
            if sql == COPY:
                telemetry.extend(rows)
            elif groups and groups[-1][0] == sql:
                groups[-1][1].extend(rows)
            else:
                groups.append((sql, list(rows)))
        if telemetry and self._partitioned:
            days = {int(r[1] // schema.DAY_S) for r in telemetry}
            if not days <= self._days:
                schema.add_partitions(conn, days | {max(days) + 1})  # the next day too: made ahead of its data
                self._days |= days | {max(days) + 1}
        with conn.transaction(), conn.cursor() as cur:
            for sql, rows in groups:
                cur.executemany(sql, rows)
            if telemetry:
                head = (self.site, self.run)
                with cur.copy(COPY) as copy:
                    copy.set_types(_COPY_TYPES)
                    for row in telemetry:
                        copy.write_row(head + row)

    def _write_loop(self) -> None:
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
            attempt = 0
            while work and self.failure is None:
                try:
                    self._commit(work)
                    self.outage = False
                    self.marks.done(len(work))
                    break
                except psycopg.OperationalError as exc:  # unreachable: keep the group, reconnect, retry
                    attempt += 1
                    self.write_errors += 1
                    self.outage = True
                    log.warning("store write failed (%s); retrying, nothing dropped", str(exc).strip())
                    self._drop_connection()
                    time.sleep(min(2.0, 0.1 * attempt))
                except Exception as exc:  # the writer never dies silently: a failure stops intake with its reason
                    self.failure = StoreError(f"store write failed: {type(exc).__name__}: {exc}")
                    log.error("store writer stopped: %s", self.failure)
                    self._rollback()
            for _ in jobs:
                self._queue.task_done()
            if stop:
                return

    def _drop_connection(self) -> None:
        if self._conn is not None:
            with contextlib.suppress(psycopg.Error):
                self._conn.close()
        self._conn = None

    def _rollback(self) -> None:
        try:
            if self._conn is not None and not self._conn.closed:
                self._conn.rollback()
        except psycopg.Error:
            self._drop_connection()

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
        """Commit what is queued and stop the writer; after `timeout` seconds of an unreachable database, give up
        (what was not committed is logged as lost, never silently)."""
        if self._writer.is_alive():
            self._queue.put(None)
            self._writer.join(timeout)
        if self._writer.is_alive():
            log.error("store %s: %d writes not committed at shutdown", self.path, self._queue.unfinished_tasks)
            return
        self._drop_connection()
        self._pool.close()

    # -- raw reads, for tests ---------------------------------------------------------------------------------------

    def query(self, sql: str, args: Sequence[Any] = ()) -> list[Row]:
        """A query of this database with SQLite's `?` placeholders (every site's rows: filter by `site`)."""
        if not args:
            return self._fetch(sql)
        return self._fetch(sql.replace("%", "%%").replace("?", "%s"), tuple(args))

    def count(self, table: str, where: str = "1=1", args: Sequence[Any] = ()) -> int:
        """Rows of this site in `table` that match `where` (with `?` placeholders)."""
        return int(self.query(f"SELECT COUNT(*) FROM {table} WHERE site = ? AND ({where})", (self.site, *args))[0][0])
