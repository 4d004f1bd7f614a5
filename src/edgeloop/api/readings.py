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


#: Two high points of one series are in one episode when at most this much data time lies between them...
GAP_S = 900.0
#: ... or when at most this many lower points lie between them (for series read seldom) ...
GAP_POINTS = 5
#: ... but never across more than this much data time (a device off line ends an episode).
OUTAGE_S = 3600.0


def anomalies(
    store: StoreReads, t_from: float, t_to: float, min_score: float, gap_s: float = GAP_S,
    gap_points: int = GAP_POINTS, outage_s: float = OUTAGE_S,
) -> list[dict[str, Any]]:  # fmt: skip
    """Episodes in [t_from, t_to], newest first: the points of one series scored >= `min_score`, where two high
    points at most `gap_s` seconds of data time apart, or with at most `gap_points` lower points between them,
    belong to one episode, unless more than `outage_s` seconds lie between them. So a score that dips below the
    level for a while does not start a new episode. `points` counts the high points of an episode, not the low
    ones inside it."""
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
    dt = np.diff(t[high])
    near = ((dt <= gap_s) | (np.diff(high) - 1 <= gap_points)) & (dt <= outage_s)
    apart = (series[high[1:]] != series[high[:-1]]) | ~near
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
