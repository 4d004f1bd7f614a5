"""SQLite storage (WAL): telemetry, scores, devices, decisions, commands, acks, outcomes, quarantine.

Telemetry is stored in columnar chunks: one row per bucket of devices per micro-batch, holding the series keys,
timestamps, values and scores as packed arrays. That is how time-series stores keep writes cheap (a row per
point would cost the agent a whole core at 500k points/s). A bucket holds up to BUCKET devices, so a batch of
single-metric messages from many devices is still a few rows, and reading one device back is one index range
over its bucket, filtered by series key.

All writes go through one writer thread that commits whatever has queued up in one transaction. If the
database is unavailable (locked, busy, disk full, I/O error) the writer keeps the batch and retries: nothing
is dropped. Any other database error is a bug: the writer stops, and the next `check()` raises it.
"""

from __future__ import annotations

import itertools
import logging
import queue
import sqlite3
import threading
import time
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import orjson
from numpy.typing import NDArray

log = logging.getLogger(__name__)

TRANSIENT = ("locked", "busy", "disk", "full", "i/o", "unable to open")


class StoreError(RuntimeError):
    """The store's writer stopped on an error that retrying cannot fix."""


SCHEMA = """
CREATE TABLE IF NOT EXISTS runs(run INTEGER PRIMARY KEY, site TEXT, started REAL);
CREATE TABLE IF NOT EXISTS devices(device TEXT PRIMARY KEY, asset_type TEXT, meta TEXT, updated REAL);
CREATE TABLE IF NOT EXISTS series(
    run INTEGER, key INTEGER, device TEXT, metric TEXT, bucket INTEGER, PRIMARY KEY(run, key));
CREATE INDEX IF NOT EXISTS series_device ON series(device, metric);
CREATE TABLE IF NOT EXISTS telemetry(
    run INTEGER, bucket INTEGER, t0 REAL, t1 REAL, n INTEGER, keys BLOB, ts BLOB, vals BLOB, scores BLOB);
CREATE INDEX IF NOT EXISTS telemetry_bucket_t0 ON telemetry(run, bucket, t0);
CREATE TABLE IF NOT EXISTS quarantine(
    id INTEGER PRIMARY KEY, at REAL, topic TEXT, device TEXT, reason TEXT, raw BLOB);
CREATE TABLE IF NOT EXISTS decisions(
    id TEXT PRIMARY KEY, device TEXT, ts REAL, at REAL, score REAL, status TEXT, rule TEXT, record TEXT);
CREATE TABLE IF NOT EXISTS commands(
    id TEXT PRIMARY KEY, decision TEXT, device TEXT, name TEXT, args TEXT, sent_at REAL,
    status TEXT, acked_at REAL, detail TEXT);
CREATE TABLE IF NOT EXISTS outcomes(
    id INTEGER PRIMARY KEY, device TEXT, ts REAL, at REAL, kind TEXT, decision TEXT, detail TEXT);
CREATE TABLE IF NOT EXISTS holdout(id INTEGER PRIMARY KEY, at REAL, devices INTEGER, record TEXT);
CREATE TABLE IF NOT EXISTS ledger(
    seq INTEGER PRIMARY KEY, device TEXT, asset_type TEXT, arm TEXT, ts REAL, day INTEGER, kind TEXT,
    amount TEXT, rule TEXT, decision TEXT, outcome TEXT, action TEXT, quantity REAL, note TEXT);
CREATE TABLE IF NOT EXISTS data_days(day INTEGER PRIMARY KEY);
CREATE TABLE IF NOT EXISTS approvals(
    decision TEXT PRIMARY KEY, device TEXT, command TEXT, requested REAL, expires REAL,
    answer TEXT, by TEXT, why TEXT, answered REAL);
CREATE TABLE IF NOT EXISTS verdicts(id INTEGER PRIMARY KEY, decision TEXT, device TEXT, verdict TEXT, by TEXT,
    why TEXT, at REAL);
CREATE TABLE IF NOT EXISTS site_policy(id INTEGER PRIMARY KEY CHECK (id = 1), at REAL, source TEXT, policy TEXT);
CREATE TABLE IF NOT EXISTS shadow(device TEXT, asset_type TEXT, learner TEXT, ts REAL, at REAL, score REAL);
CREATE TABLE IF NOT EXISTS champions(asset_type TEXT PRIMARY KEY, learner TEXT, threshold REAL, sustain INTEGER,
                                     at REAL);
CREATE TABLE IF NOT EXISTS guard_state(id INTEGER PRIMARY KEY CHECK (id = 1), at REAL, state TEXT);
CREATE TABLE IF NOT EXISTS learnt_state(name TEXT PRIMARY KEY, at REAL, state TEXT);
CREATE TABLE IF NOT EXISTS inbox(
    id INTEGER PRIMARY KEY, at REAL, kind TEXT, decision TEXT, answer TEXT, by TEXT, why TEXT,
    taken REAL, result TEXT);
"""


def connect(path: Path) -> sqlite3.Connection:
    path.parent.mkdir(parents=True, exist_ok=True)
    conn = sqlite3.connect(path, check_same_thread=False, timeout=30)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    return conn


BUCKET = 64  # devices per telemetry chunk row


def bucket_of(device_index: int) -> int:
    return device_index // BUCKET


def chunk_rows(
    device_of_point: NDArray[np.int64],
    keys: NDArray[np.int64],
    ts: NDArray[np.float64],
    values: NDArray[np.float64],
    scores: NDArray[np.float64],
) -> list[tuple[Any, ...]]:
    """Rows for the telemetry table: one per bucket of devices present in the batch."""
    if keys.shape[0] == 0:
        return []
    bucket = device_of_point // BUCKET
    if bucket[0] == bucket[-1] and (bucket == bucket[0]).all():
        order = np.arange(keys.shape[0])
        bounds = np.array([0, keys.shape[0]])
    else:
        order = np.argsort(bucket, kind="stable")
        cuts = np.flatnonzero(np.diff(bucket[order])) + 1
        bounds = np.concatenate(([0], cuts, [keys.shape[0]]))
    b_sorted = bucket[order]
    k, t, v, s = keys[order].astype(np.int32), ts[order], values[order], scores[order].astype(np.float32)
    rows = []
    for a, b in itertools.pairwise(bounds):
        tt = t[a:b]
        rows.append(
            (int(b_sorted[a]), float(tt.min()), float(tt.max()), int(b - a),
             k[a:b].tobytes(), tt.tobytes(), v[a:b].tobytes(), s[a:b].tobytes())
        )  # fmt: skip
    return rows


class SqliteStore:
    """The agent's store. Writes are queued to one writer thread; reads use their own connection."""

    def __init__(self, path: Path, site: str) -> None:
        self.path = path
        self.site = site
        self._write_conn = connect(path)
        self._write_conn.executescript(SCHEMA)
        cur = self._write_conn.execute("INSERT INTO runs(site, started) VALUES (?, ?)", (site, time.time()))
        self.run = int(cur.lastrowid or 0)
        self._write_conn.commit()
        self._read_conn = connect(path)
        self._queue: queue.Queue[tuple[str, list[tuple[Any, ...]]] | None] = queue.Queue()
        self.write_errors = 0
        self.failure: StoreError | None = None
        self._writer = threading.Thread(target=self._write_loop, name="edgeloop-store", daemon=True)
        self._writer.start()

    # -- writes (thread-safe, never block on the database) --------------------------------------------------

    def write(self, sql: str, rows: list[tuple[Any, ...]]) -> None:
        if rows:
            self._queue.put((sql, rows))

    def write_telemetry(self, rows: list[tuple[Any, ...]]) -> None:
        self.write(
            f"INSERT INTO telemetry VALUES ({self.run}, ?, ?, ?, ?, ?, ?, ?, ?)",
            rows,
        )

    def write_series(self, rows: Iterable[tuple[int, str, str, int]]) -> None:
        """(key, device, metric, bucket) of new series keys."""
        self.write(f"INSERT OR REPLACE INTO series VALUES ({self.run}, ?, ?, ?, ?)", list(rows))

    def write_device(self, device: str, asset_type: str, meta: dict[str, Any], at: float) -> None:
        self.write(
            "INSERT OR REPLACE INTO devices VALUES (?, ?, ?, ?)",
            [(device, asset_type, orjson.dumps(meta).decode(), at)],
        )

    def write_quarantine(self, rows: list[tuple[float, str, str | None, str, bytes]]) -> None:
        self.write("INSERT INTO quarantine(at, topic, device, reason, raw) VALUES (?, ?, ?, ?, ?)", list(rows))

    def write_decision(self, record: dict[str, Any]) -> None:
        self.write(
            "INSERT OR REPLACE INTO decisions VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            [(record["id"], record["device"], record["ts"], record["at"], record["score"], record["status"],
              record["rule"], orjson.dumps(record).decode())],
        )  # fmt: skip

    def write_command(
        self, cmd_id: str, decision: str, device: str, name: str, args: dict[str, float], at: float
    ) -> None:
        self.write(
            "INSERT INTO commands VALUES (?, ?, ?, ?, ?, ?, 'sent', NULL, NULL)",
            [(cmd_id, decision, device, name, orjson.dumps(args).decode(), at)],
        )

    def write_ack(self, cmd_id: str, status: str, at: float, detail: str) -> None:
        self.write("UPDATE commands SET status=?, acked_at=?, detail=? WHERE id=?", [(status, at, detail, cmd_id)])

    def write_outcome(
        self, device: str, ts: float, at: float, kind: str, decision: str | None, detail: dict[str, Any]
    ) -> None:
        self.write(
            "INSERT INTO outcomes(device, ts, at, kind, decision, detail) VALUES (?, ?, ?, ?, ?, ?)",
            [(device, ts, at, kind, decision, orjson.dumps(detail).decode())],
        )

    def write_holdout(self, record: dict[str, Any], at: float) -> None:
        """Log a holdout record; the latest one holds every assignment so far."""
        self.write(
            "INSERT INTO holdout(at, devices, record) VALUES (?, ?, ?)",
            [(at, len(record["assignments"]), orjson.dumps(record).decode())],
        )

    def write_entries(self, entries: list[dict[str, Any]]) -> None:
        """Append ledger entries (`Entry.to_json()` dicts); a sequence number already taken is an error."""
        self.write(
            "INSERT INTO ledger VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [(e["seq"], e["device"], e["asset_type"], e["arm"], e["ts"], int(e["ts"] // 86_400), e["kind"],
              e["amount"], e["rule"], e["decision"], e["outcome"], e["action"], e["quantity"], e["note"])
             for e in entries],
        )  # fmt: skip

    def write_guard_state(self, state: dict[str, Any], at: float) -> None:
        self.write("INSERT OR REPLACE INTO guard_state VALUES (1, ?, ?)", [(at, orjson.dumps(state).decode())])

    def read_guard_state(self) -> dict[str, Any] | None:
        rows = self.query("SELECT state FROM guard_state WHERE id = 1")
        return None if not rows else dict(orjson.loads(rows[0][0]))

    def write_learnt(self, name: str, state: dict[str, Any], at: float) -> None:
        """Keep what the agent learnt under `name` (e.g. from feedback), so a restart does not forget it."""
        self.write("INSERT OR REPLACE INTO learnt_state VALUES (?, ?, ?)", [(name, at, orjson.dumps(state).decode())])

    def read_learnt(self, name: str) -> dict[str, Any] | None:
        rows = self.query("SELECT state FROM learnt_state WHERE name = ?", (name,))
        return None if not rows else dict(orjson.loads(rows[0][0]))

    def write_day(self, day: int) -> None:
        """Mark a UTC day index as one the site had data on."""
        self.write("INSERT OR IGNORE INTO data_days VALUES (?)", [(day,)])

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
                    break
                except sqlite3.Error as exc:
                    if not any(word in str(exc).lower() for word in TRANSIENT):
                        self.failure = StoreError(f"store write failed: {exc}")
                        log.error("store writer stopped: %s", exc)
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

    def flush(self) -> None:
        """Block until every queued write is committed."""
        self._queue.join()

    @property
    def backlog(self) -> int:
        return self._queue.qsize()

    def close(self) -> None:
        if self._writer.is_alive():
            self._queue.put(None)
            self._writer.join()
        self._write_conn.close()
        self._read_conn.close()

    # -- reads ------------------------------------------------------------------------------------------------

    def query(self, sql: str, args: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        return self._read_conn.execute(sql, args).fetchall()

    def count(self, table: str, where: str = "1=1", args: Sequence[Any] = ()) -> int:
        return int(self.query(f"SELECT COUNT(*) FROM {table} WHERE {where}", args)[0][0])

    def points(self) -> int:
        return int(self.query("SELECT COALESCE(SUM(n), 0) FROM telemetry")[0][0])

    def read_holdout(self) -> dict[str, Any] | None:
        rows = self.query("SELECT record FROM holdout ORDER BY id DESC LIMIT 1")
        return None if not rows else dict(orjson.loads(rows[0][0]))

    def read_entries(self, since_ts: float = -np.inf) -> list[dict[str, Any]]:
        """Ledger entries in sequence order, as `Entry.from_json` takes them."""
        cols = ("seq", "device", "asset_type", "arm", "ts", "kind", "amount", "rule", "decision", "outcome",
                "action", "quantity", "note")  # fmt: skip
        rows = self.query(f"SELECT {', '.join(cols)} FROM ledger WHERE ts >= ? ORDER BY seq", (since_ts,))
        return [dict(zip(cols, row, strict=True)) for row in rows]

    def read_days(self) -> list[int]:
        return [int(r[0]) for r in self.query("SELECT day FROM data_days ORDER BY day")]

    def read_decisions(self, since_ts: float = -np.inf) -> list[dict[str, Any]]:
        """Decision records in data-time order."""
        rows = self.query("SELECT record FROM decisions WHERE ts >= ? ORDER BY ts", (since_ts,))
        return [dict(orjson.loads(r[0])) for r in rows]

    def read_series(
        self, device: str, metric: str, t_from: float = -np.inf, t_to: float = np.inf
    ) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.float32]]:
        """Timestamps, values and scores of one metric of one device, over all runs, in time order."""
        return read_series(self._read_conn, device, metric, t_from, t_to)


def read_series(
    conn: sqlite3.Connection, device: str, metric: str, t_from: float = -np.inf, t_to: float = np.inf
) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.float32]]:
    """`SqliteStore.read_series` on any connection to a store (the API reads with its own)."""
    parts: list[tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.float32]]] = []
    series = conn.execute(
        "SELECT run, bucket, key FROM series WHERE device=? AND metric=?", (device, metric)
    ).fetchall()
    for run, bucket in sorted({(r, b) for r, b, _ in series}):
        wanted = [k for r, b, k in series if (r, b) == (run, bucket)]
        for kb, tb, vb, sb in conn.execute(
            "SELECT keys, ts, vals, scores FROM telemetry WHERE run=? AND bucket=? AND t1>=? AND t0<=?",
            (run, bucket, t_from, t_to),
        ).fetchall():
            t = np.frombuffer(tb, dtype=np.float64)
            mask = np.isin(np.frombuffer(kb, dtype=np.int32), wanted) & (t >= t_from) & (t <= t_to)
            parts.append((t[mask], np.frombuffer(vb, dtype=np.float64)[mask], np.frombuffer(sb, np.float32)[mask]))
    if not parts:
        return np.zeros(0), np.zeros(0), np.zeros(0, dtype=np.float32)
    t_all = np.concatenate([p[0] for p in parts])
    order = np.argsort(t_all, kind="stable")
    v_all = np.concatenate([p[1] for p in parts])
    s_all = np.concatenate([p[2] for p in parts])
    return t_all[order], v_all[order], s_all[order]
