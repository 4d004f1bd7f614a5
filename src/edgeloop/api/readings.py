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
    chunks = _chunks(rows)
    if not chunks:
        return []
    series = np.concatenate([(np.int64(c.run) << 32) | c.keys.astype(np.int64) for c in chunks])
    t = np.concatenate([c.ts for c in chunks])
    v = np.concatenate([c.vals for c in chunks])
    s = np.concatenate([c.scores for c in chunks])
    keep = (t >= t_from) & (t <= t_to)
    series, t, v, s = series[keep], t[keep], v[keep], s[keep]
    order = np.lexsort((t, series))  # by series, then time
    series, t, v, s = series[order], t[order], v[order], s[order]
    high = s >= min_score
    same = series[1:] == series[:-1]
    starts = np.flatnonzero(high & ~np.concatenate(([False], high[:-1] & same)))
    ends = np.flatnonzero(high & ~np.concatenate((high[1:] & same, [False])))  # inclusive
    names = series_names(conn)
    episodes = []
    for a, b in zip(starts.tolist(), ends.tolist(), strict=True):
        key = (int(series[a]) >> 32, int(series[a]) & 0xFFFFFFFF)
        if key not in names:
            continue
        peak = a + int(np.argmax(s[a : b + 1]))
        episodes.append({"device": names[key][0], "metric": names[key][1], "start": float(t[a]), "end": float(t[b]),
                         "points": b - a + 1, "peak_score": float(s[peak]), "peak_value": float(v[peak])})  # fmt: skip
    return sorted(episodes, key=lambda e: (-e["end"], e["device"], e["metric"]))
