"""SQLite storage (WAL): telemetry, scores, devices, decisions, commands, acks, outcomes, quarantine.

Telemetry is stored in columnar chunks: one row per device per micro-batch holding its series keys,
timestamps, values and scores as packed arrays. That is how time-series stores keep writes cheap (a row per
point would cost the agent a whole core at 500k points/s), and reading one device back stays one index range.

All writes go through one writer thread that commits whatever has queued up in one transaction. If the
database is unavailable (locked, disk full) the writer keeps the batch and retries: nothing is dropped.
"""

from __future__ import annotations

import itertools
import logging
import queue
import sqlite3
import threading
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import orjson
from numpy.typing import NDArray

log = logging.getLogger(__name__)

SCHEMA = """
CREATE TABLE IF NOT EXISTS runs(run INTEGER PRIMARY KEY, site TEXT, started REAL);
CREATE TABLE IF NOT EXISTS devices(device TEXT PRIMARY KEY, asset_type TEXT, meta TEXT, updated REAL);
CREATE TABLE IF NOT EXISTS series(run INTEGER, key INTEGER, device TEXT, metric TEXT, PRIMARY KEY(run, key));
CREATE TABLE IF NOT EXISTS telemetry(
    run INTEGER, device TEXT, t0 REAL, t1 REAL, n INTEGER, keys BLOB, ts BLOB, vals BLOB, scores BLOB);
CREATE INDEX IF NOT EXISTS telemetry_device_t0 ON telemetry(device, t0);
CREATE TABLE IF NOT EXISTS quarantine(
    id INTEGER PRIMARY KEY, at REAL, topic TEXT, device TEXT, reason TEXT, raw BLOB);
CREATE TABLE IF NOT EXISTS decisions(
    id TEXT PRIMARY KEY, device TEXT, ts REAL, at REAL, score REAL, status TEXT, rule TEXT, record TEXT);
CREATE TABLE IF NOT EXISTS commands(
    id TEXT PRIMARY KEY, decision TEXT, device TEXT, name TEXT, args TEXT, sent_at REAL,
    status TEXT, acked_at REAL, detail TEXT);
CREATE TABLE IF NOT EXISTS outcomes(
    id INTEGER PRIMARY KEY, device TEXT, ts REAL, at REAL, kind TEXT, decision TEXT, detail TEXT);
"""


def connect(path: Path) -> sqlite3.Connection:
    path.parent.mkdir(parents=True, exist_ok=True)
    conn = sqlite3.connect(path, check_same_thread=False, timeout=30)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    return conn


@dataclass(frozen=True, slots=True)
class TelemetryChunk:
    device: str
    keys: NDArray[np.int64]
    ts: NDArray[np.float64]
    values: NDArray[np.float64]
    scores: NDArray[np.float32]


def chunk_by_device(
    device_names: Sequence[str],
    device_of_point: NDArray[np.int64],
    keys: NDArray[np.int64],
    ts: NDArray[np.float64],
    values: NDArray[np.float64],
    scores: NDArray[np.float64],
) -> list[tuple[Any, ...]]:
    """Rows for the telemetry table: one per device present in the batch."""
    if keys.shape[0] == 0:
        return []
    order = np.argsort(device_of_point, kind="stable")
    dev = device_of_point[order]
    cuts = np.flatnonzero(np.diff(dev)) + 1
    bounds = np.concatenate(([0], cuts, [dev.shape[0]]))
    k, t, v, s = keys[order].astype(np.int32), ts[order], values[order], scores[order].astype(np.float32)
    rows = []
    for a, b in itertools.pairwise(bounds):
        tt = t[a:b]
        rows.append(
            (device_names[int(dev[a])], float(tt[0]), float(tt[-1]), int(b - a),
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

    def write_series(self, rows: Iterable[tuple[int, str, str]]) -> None:
        self.write(
            f"INSERT OR REPLACE INTO series VALUES ({self.run}, ?, ?, ?)",
            list(rows),
        )

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
            while work:
                try:
                    with conn:
                        for sql, rows in work:
                            conn.executemany(sql, rows)
                    break
                except sqlite3.OperationalError as exc:  # locked, disk full, ...: keep the batch, retry
                    self.write_errors += 1
                    log.warning("store write failed (%s); retrying, nothing dropped", exc)
                    time.sleep(min(5.0, 0.1 * self.write_errors))
            for _ in jobs:
                self._queue.task_done()
            if stop:
                return

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

    def read_series(
        self, device: str, metric: str, t_from: float = -np.inf, t_to: float = np.inf
    ) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.float32]]:
        """Timestamps, values and scores of one metric of one device, over all runs, in time order."""
        keys = {
            (run, key)
            for run, key in self.query("SELECT run, key FROM series WHERE device=? AND metric=?", (device, metric))
        }
        parts_t, parts_v, parts_s = [], [], []
        for run, kb, tb, vb, sb in self.query(
            "SELECT run, keys, ts, vals, scores FROM telemetry WHERE device=? AND t1>=? AND t0<=? ORDER BY t0",
            (device, t_from, t_to),
        ):
            k = np.frombuffer(kb, dtype=np.int32)
            mask = np.isin(k, [key for r, key in keys if r == run])
            t = np.frombuffer(tb, dtype=np.float64)
            mask &= (t >= t_from) & (t <= t_to)
            parts_t.append(t[mask])
            parts_v.append(np.frombuffer(vb, dtype=np.float64)[mask])
            parts_s.append(np.frombuffer(sb, dtype=np.float32)[mask])
        if not parts_t:
            return np.zeros(0), np.zeros(0), np.zeros(0, dtype=np.float32)
        return np.concatenate(parts_t), np.concatenate(parts_v), np.concatenate(parts_s)
