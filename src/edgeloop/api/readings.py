"""Reading the store's telemetry chunks for the API: the newest reading of each series (a device's current
state and the dashboard's live sparklines) and anomaly episodes (runs of points scored at or above a level).

The chunks hold many series each (see `io/store.py`); series keys are named per run in the `series` table.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

Latest = dict[str, dict[str, list[float]]]  # device -> metric -> [t, value, score]


@dataclass
class Chunk:
    run: int
    keys: NDArray[np.int32]
    ts: NDArray[np.float64]
    vals: NDArray[np.float64]
    scores: NDArray[np.float32]


def series_names(conn: sqlite3.Connection) -> dict[tuple[int, int], tuple[str, str]]:
    """(run, key) -> (device, metric)."""
    return {(r, k): (d, m) for r, k, d, m in conn.execute("SELECT run, key, device, metric FROM series")}


def _chunks(rows: Iterable[tuple[Any, ...]]) -> list[Chunk]:
    return [
        Chunk(int(run), np.frombuffer(kb, np.int32), np.frombuffer(tb, np.float64), np.frombuffer(vb, np.float64),
              np.frombuffer(sb, np.float32))
        for run, kb, tb, vb, sb in rows
    ]  # fmt: skip


def newest_rowid(conn: sqlite3.Connection) -> int:
    return int(conn.execute("SELECT COALESCE(MAX(rowid), 0) FROM telemetry").fetchone()[0])


def latest_after(conn: sqlite3.Connection, rowid: int, names: dict[tuple[int, int], tuple[str, str]]) -> Latest:
    """The newest reading of each series in the chunks written after `rowid` (series not yet in `names` are
    looked up again)."""
    rows = conn.execute("SELECT run, keys, ts, vals, scores FROM telemetry WHERE rowid > ? ORDER BY rowid", (rowid,))
    return _latest(conn, _chunks(rows.fetchall()), names)


def latest(conn: sqlite3.Connection, chunks: int = 200) -> Latest:
    """The newest reading of each series seen in the last `chunks` chunks (a device's current state)."""
    rows = conn.execute("SELECT run, keys, ts, vals, scores FROM telemetry ORDER BY rowid DESC LIMIT ?", (chunks,))
    return _latest(conn, _chunks(reversed(rows.fetchall())), {})


def _latest(conn: sqlite3.Connection, chunks: list[Chunk], names: dict[tuple[int, int], tuple[str, str]]) -> Latest:
    out: Latest = {}
    newest: dict[tuple[int, int], tuple[float, float, float]] = {}
    for c in chunks:
        for key, t, v, s in zip(c.keys.tolist(), c.ts.tolist(), c.vals.tolist(), c.scores.tolist(), strict=True):
            if (c.run, key) not in newest or t >= newest[c.run, key][0]:
                newest[c.run, key] = (t, v, s)
    if any(k not in names for k in newest):
        names.update(series_names(conn))
    for k, (t, v, s) in newest.items():
        if k in names:
            device, metric = names[k]
            out.setdefault(device, {})[metric] = [t, v, s]
    return out


def anomalies(conn: sqlite3.Connection, t_from: float, t_to: float, min_score: float) -> list[dict[str, Any]]:
    """Episodes in [t_from, t_to]: runs of consecutive points of one series scored >= `min_score`, newest first."""
    rows = conn.execute(
        "SELECT run, keys, ts, vals, scores FROM telemetry WHERE t1 >= ? AND t0 <= ?", (t_from, t_to)
    ).fetchall()
    names = series_names(conn)
    by_series: dict[tuple[int, int], list[tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.float32]]]] = {}
    for c in _chunks(rows):
        keep = (c.ts >= t_from) & (c.ts <= t_to)
        for key in np.unique(c.keys[keep]).tolist():
            m = keep & (c.keys == key)
            by_series.setdefault((c.run, key), []).append((c.ts[m], c.vals[m], c.scores[m]))
    episodes = []
    for k, parts in by_series.items():
        if k not in names:
            continue
        t, v, s = (np.concatenate([p[i] for p in parts]) for i in range(3))
        order = np.argsort(t, kind="stable")
        t, v, s = t[order], v[order], s[order]
        high = np.concatenate(([False], s >= min_score, [False]))
        starts = np.flatnonzero(~high[:-1] & high[1:])
        ends = np.flatnonzero(high[:-1] & ~high[1:])
        for a, b in zip(starts.tolist(), ends.tolist(), strict=True):
            peak = a + int(np.argmax(s[a:b]))
            episodes.append({"device": names[k][0], "metric": names[k][1], "start": float(t[a]),
                             "end": float(t[b - 1]), "points": b - a, "peak_score": float(s[peak]),
                             "peak_value": float(v[peak])})  # fmt: skip
    return sorted(episodes, key=lambda e: (-e["end"], e["device"], e["metric"]))
