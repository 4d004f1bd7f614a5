"""Reading the store's telemetry chunks for the API: the newest reading of each series (a device's current
state and the dashboard's live sparklines) and anomaly episodes (points scored at or above a level, with short
dips merged).

The chunks hold many series each (see `io/store/telemetry.py`); series keys are named per run.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from edgeloop.io.store import Chunk, SeriesNames, StoreReads

Latest = dict[str, dict[str, list[float]]]  # device -> metric -> [t, value, score]


def latest_after(store: StoreReads, mark: int, names: SeriesNames) -> Latest:
    """The newest reading of each series in the chunks written after `mark` (`StoreReads.telemetry_mark`);
    series not yet in `names` are looked up again."""
    return _latest(store, store.read_chunks_after(mark), names)


def latest(store: StoreReads, chunks: int = 200) -> Latest:
    """The newest reading of each series seen in the last `chunks` chunks (a device's current state)."""
    return _latest(store, store.read_newest_chunks(chunks), {})


def _latest(store: StoreReads, chunks: list[Chunk], names: SeriesNames) -> Latest:
    out: Latest = {}
    newest: dict[tuple[int, int], tuple[float, float, float]] = {}
    for c in chunks:
        for key, t, v, s in zip(c.keys.tolist(), c.ts.tolist(), c.vals.tolist(), c.scores.tolist(), strict=True):
            if (c.run, key) not in newest or t >= newest[c.run, key][0]:
                newest[c.run, key] = (t, v, s)
    if any(k not in names for k in newest):
        names.update(store.read_series_names())
    for k, (t, v, s) in newest.items():
        if k in names:
            device, metric = names[k]
            out.setdefault(device, {})[metric] = [t, v, s]
    return out


#: Two runs of high points of one series are one episode when at most this many points lie between them...
GAP_POINTS = 5
#: ... and the data time from the last high point of one to the first of the next is at most this (seconds), so
#: that a stretch without data (a device off line) still separates episodes.
GAP_S = 3600.0


def anomalies(
    store: StoreReads, t_from: float, t_to: float, min_score: float, gap_points: int = GAP_POINTS,
    gap_s: float = GAP_S,
) -> list[dict[str, Any]]:  # fmt: skip
    """Episodes in [t_from, t_to], newest first: the points of one series scored >= `min_score`, where high
    points with at most `gap_points` lower points and at most `gap_s` seconds of data time between them belong
    to one episode (a score that dips for a reading or two does not start a new one). `points` counts the high
    points of an episode, not the low ones inside it."""
    chunks = store.read_chunks_between(t_from, t_to)
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
    high = np.flatnonzero(s >= min_score)
    if high.size == 0:
        return []
    apart = (series[high[1:]] != series[high[:-1]]) | (np.diff(high) - 1 > gap_points)
    apart |= np.diff(t[high]) > gap_s
    groups = np.split(high, np.flatnonzero(apart) + 1)
    names = store.read_series_names()
    episodes = []
    for g in groups:
        key = (int(series[g[0]]) >> 32, int(series[g[0]]) & 0xFFFFFFFF)
        if key not in names:
            continue
        peak = int(g[np.argmax(s[g])])
        episodes.append({"device": names[key][0], "metric": names[key][1], "start": float(t[g[0]]),
                         "end": float(t[g[-1]]), "points": int(g.size), "peak_score": float(s[peak]),
                         "peak_value": float(v[peak])})  # fmt: skip
    return sorted(episodes, key=lambda e: (-e["end"], e["device"], e["metric"]))
