"""Telemetry and its series keys (tables `runs`, `series`, `telemetry`).

Telemetry is stored in columnar chunks: one row per bucket of devices per micro-batch, holding the series keys,
timestamps, values and scores as packed arrays. That is how time-series stores keep writes cheap (a row per
point would cost the agent a whole core at 500k points/s). A bucket holds up to BUCKET devices, so a batch of
single-metric messages from many devices is still a few rows, and reading one device back is one index range
over its bucket, filtered by series key. Series keys are numbered per run (one run per opening of the store).
"""

from __future__ import annotations

import itertools
import sqlite3
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from edgeloop.io.store.schema import Row, Write

BUCKET = 64  # devices per telemetry chunk row

Series = tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.float32]]  # timestamps, values, scores
SeriesNames = dict[tuple[int, int], tuple[str, str]]  # (run, key) -> (device, metric)


@dataclass
class Chunk:
    """One stored chunk, unpacked: parallel arrays of series key, timestamp, value and score."""

    run: int
    keys: NDArray[np.int32]
    ts: NDArray[np.float64]
    vals: NDArray[np.float64]
    scores: NDArray[np.float32]


def bucket_of(device_index: int) -> int:
    return device_index // BUCKET


def chunk_rows(
    device_of_point: NDArray[np.int64],
    keys: NDArray[np.int64],
    ts: NDArray[np.float64],
    values: NDArray[np.float64],
    scores: NDArray[np.float64],
) -> list[Row]:
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


# -- writes -----------------------------------------------------------------------------------------------------


def start_run(conn: sqlite3.Connection, site: str, at: float) -> int:
    """Number a new run of the agent on this store (series keys are per run)."""
    cur = conn.execute("INSERT INTO runs(site, started) VALUES (?, ?)", (site, at))
    return int(cur.lastrowid or 0)


def write_chunks(run: int, rows: list[Row]) -> Write:
    """`chunk_rows` of one batch."""
    return f"INSERT INTO telemetry VALUES ({run}, ?, ?, ?, ?, ?, ?, ?, ?)", rows


def write_series(run: int, rows: Iterable[tuple[int, str, str, int]]) -> Write:
    """(key, device, metric, bucket) of new series keys."""
    return f"INSERT OR REPLACE INTO series VALUES ({run}, ?, ?, ?, ?)", list(rows)


# -- reads ------------------------------------------------------------------------------------------------------


def points(conn: sqlite3.Connection) -> int:
    return int(conn.execute("SELECT COALESCE(SUM(n), 0) FROM telemetry").fetchone()[0])


def data_until(conn: sqlite3.Connection) -> float | None:
    """The newest timestamp stored, or None before any telemetry."""
    newest = conn.execute("SELECT MAX(t1) FROM telemetry").fetchone()[0]
    return None if newest is None else float(newest)


def read_series(
    conn: sqlite3.Connection, device: str, metric: str, t_from: float = -np.inf, t_to: float = np.inf
) -> Series:
    """Timestamps, values and scores of one metric of one device, over all runs, in time order."""
    parts: list[Series] = []
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


def read_series_names(conn: sqlite3.Connection) -> SeriesNames:
    return {(r, k): (d, m) for r, k, d, m in conn.execute("SELECT run, key, device, metric FROM series")}


def telemetry_mark(conn: sqlite3.Connection) -> int:
    """Where the chunks written so far end (0 before any): pass it to `read_chunks_after` for what follows."""
    return int(conn.execute("SELECT COALESCE(MAX(rowid), 0) FROM telemetry").fetchone()[0])


def _chunks(rows: Iterable[tuple[Any, ...]]) -> list[Chunk]:
    return [
        Chunk(int(run), np.frombuffer(kb, np.int32), np.frombuffer(tb, np.float64), np.frombuffer(vb, np.float64),
              np.frombuffer(sb, np.float32))
        for run, kb, tb, vb, sb in rows
    ]  # fmt: skip


def read_chunks_after(conn: sqlite3.Connection, mark: int) -> list[Chunk]:
    """The chunks written after `mark`, oldest first."""
    rows = conn.execute("SELECT run, keys, ts, vals, scores FROM telemetry WHERE rowid > ? ORDER BY rowid", (mark,))
    return _chunks(rows.fetchall())


def read_run_chunks(conn: sqlite3.Connection, run: int, skip: int) -> list[Chunk]:
    """The chunks one run of the agent wrote, in the order written, after its first `skip`."""
    rows = conn.execute(
        "SELECT run, keys, ts, vals, scores FROM telemetry WHERE run = ? ORDER BY rowid LIMIT -1 OFFSET ?", (run, skip)
    )
    return _chunks(rows.fetchall())


def read_newest_chunks(conn: sqlite3.Connection, n: int) -> list[Chunk]:
    """The last `n` chunks written, oldest first."""
    rows = conn.execute("SELECT run, keys, ts, vals, scores FROM telemetry ORDER BY rowid DESC LIMIT ?", (n,))
    return _chunks(reversed(rows.fetchall()))


def read_chunks_between(conn: sqlite3.Connection, t_from: float, t_to: float) -> list[Chunk]:
    """The chunks that hold any point in [t_from, t_to] (they may hold points outside it too)."""
    rows = conn.execute(
        "SELECT run, keys, ts, vals, scores FROM telemetry WHERE t1 >= ? AND t0 <= ?", (t_from, t_to)
    ).fetchall()
    return _chunks(rows)
