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
from collections.abc import Callable, Iterable
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


#: (device, metric): a series by its name, over all runs
SeriesName = tuple[str, str]
#: the telemetry rows of one run's bucket that reach into a time range: (keys, ts, vals, scores) blobs
BucketRows = Callable[[int, int], Iterable[tuple[bytes, bytes, bytes, bytes]]]


def gather_series(
    wanted: set[SeriesName],
    keys: Iterable[tuple[int, int, int, str, str]],
    rows: BucketRows,
    t_from: float,
    t_to: float,
) -> dict[SeriesName, Series]:
    """Each series of `wanted`: its timestamps, values and scores in [t_from, t_to], in time order (empty where none
    is stored), from `keys` (run, bucket, key, device, metric of stored series; those not wanted are passed over)
    and the rows of each bucket (`rows(run, bucket)`, read once for all the series in it).

    >>> blob = lambda a, t: np.asarray(a, dtype=t).tobytes()
    >>> row = (blob([3, 4, 3], np.int32), blob([1.0, 1.0, 2.0], np.float64), blob([5, 6, 7], np.float64),
    ...        blob([0, 0, 0], np.float32))
    >>> wanted = {("p1", "flow"), ("p1", "temp"), ("p2", "flow")}
    >>> got = gather_series(wanted, [(1, 0, 3, "p1", "flow"), (1, 0, 4, "p1", "temp")], lambda r, b: [row], 0, 9)
    >>> got["p1", "flow"][1].tolist(), got["p1", "temp"][1].tolist(), got["p2", "flow"][1].tolist()
    ([5.0, 7.0], [6.0], [])
    """
    names: dict[tuple[int, int], dict[int, SeriesName]] = {}
    for run, bucket, key, device, metric in keys:
        if (device, metric) in wanted:
            names.setdefault((run, bucket), {})[key] = (device, metric)
    parts: dict[SeriesName, list[Series]] = {name: [] for name in wanted}
    for (run, bucket), of_bucket in sorted(names.items()):
        in_bucket = np.fromiter(of_bucket, dtype=np.int32)
        for kb, tb, vb, sb in rows(run, bucket):
            k, t = np.frombuffer(kb, dtype=np.int32), np.frombuffer(tb, dtype=np.float64)
            inside = np.flatnonzero((t >= t_from) & (t <= t_to) & np.isin(k, in_bucket))
            if inside.shape[0] == 0:
                continue
            k, t = k[inside], t[inside]
            v, sc = np.frombuffer(vb, dtype=np.float64)[inside], np.frombuffer(sb, dtype=np.float32)[inside]
            for key in np.unique(k).tolist():
                at = k == key
                parts[of_bucket[key]].append((t[at], v[at], sc[at]))
    return {name: _in_time_order(p) for name, p in parts.items()}


def _in_time_order(parts: list[Series]) -> Series:
    if not parts:
        return np.zeros(0), np.zeros(0), np.zeros(0, dtype=np.float32)
    t_all = np.concatenate([p[0] for p in parts])
    order = np.argsort(t_all, kind="stable")
    return t_all[order], np.concatenate([p[1] for p in parts])[order], np.concatenate([p[2] for p in parts])[order]


def read_series(
    conn: sqlite3.Connection, device: str, metric: str, t_from: float = -np.inf, t_to: float = np.inf
) -> Series:
    """Timestamps, values and scores of one metric of one device, over all runs, in time order."""
    return read_many_series(conn, [(device, metric)], t_from, t_to)[device, metric]


def read_many_series(
    conn: sqlite3.Connection, names: Iterable[SeriesName], t_from: float = -np.inf, t_to: float = np.inf
) -> dict[SeriesName, Series]:
    """`read_series` of each of `names` (empty where none is stored), reading each bucket's rows once."""
    wanted = set(names)
    if len(wanted) == 1:
        ((device, metric),) = wanted
        keys = conn.execute("SELECT run, bucket, key, device, metric FROM series WHERE device=? AND metric=?",
                            (device, metric)).fetchall()  # fmt: skip
    else:
        keys = conn.execute("SELECT run, bucket, key, device, metric FROM series").fetchall()

    def rows(run: int, bucket: int) -> list[tuple[bytes, bytes, bytes, bytes]]:
        return conn.execute("SELECT keys, ts, vals, scores FROM telemetry WHERE run=? AND bucket=? AND t1>=? AND "
                            "t0<=?", (run, bucket, t_from, t_to)).fetchall()  # fmt: skip

    return gather_series(wanted, keys, rows, t_from, t_to)


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
