"""The baseline of `edgeloop bench chaos`: what the broker delivered of the faulted site, replayed into one agent
that never stops, and the two runs' scores compared point by point (`docs/chaos.md`)."""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import numpy as np

from edgeloop.agent.ledger_writer import LedgerWriter
from edgeloop.agent.service import make_learner, make_policy
from edgeloop.agent.site import SiteAgent
from edgeloop.io.loopback import Loopback
from edgeloop.io.store import Chunk, SeriesNames, SqliteStore, StoreReads
from edgeloop.io.transport import Message
from edgeloop.settings import load_settings

#: a run's scores by device, metric and timestamp
Scores = dict[tuple[str, str, float], float]
#: per series with late readings, the data time the last one came at (`late_came`)
Came = dict[tuple[str, str], float]
#: what an observer received: arrival time, topic, payload, retain
Recording = list[tuple[float, str, bytes, bool]]


def replay(recording: Recording, site: str, data_dir: Path, batch_wait_s: float = 0.05) -> tuple[Scores, Came]:
    """The scores of one agent that never stopped, given what the faulted run's broker delivered of the site
    (`recording`), replayed in arrival order, in micro-batches as the agent would take them (a new batch after
    `batch_wait_s` of arrival time or 5,000 messages), on the arrival clock; and when its late readings came
    (`late_came`: the observer too may get a reading after newer ones)."""
    settings = load_settings(None, agent={"site": site, "data_dir": data_dir, "autonomy": 3})
    store = SqliteStore(settings.agent.db_path, site)
    clock = [recording[0][0] if recording else time.time()]
    agent = SiteAgent(settings.agent, Loopback(), store, make_learner(settings.agent), make_policy(settings.agent),
                      LedgerWriter.open(store, settings.ledger), clock=lambda: clock[0])  # fmt: skip
    batch: list[Message] = []
    for at, topic, payload, retain in recording:
        if batch and (at - clock[0] > batch_wait_s or len(batch) >= 5000):
            agent.handle_batch(batch)
            batch = []
        if not batch:
            clock[0] = at
        batch.append(Message(topic, payload, retain))
    if batch:
        agent.handle_batch(batch)
    store.flush()
    scores, came = _scores(store), late(store)
    store.close()
    return scores, came


def _scores(store: StoreReads) -> Scores:
    scores: Scores = {}
    for device, metric in sorted(set(store.read_series_names().values())):
        ts, _, scored = store.read_series(device, metric)
        for t, s in zip(ts.tolist(), scored.tolist(), strict=True):
            scores[(device, metric, t)] = s
    return scores


def late(store: StoreReads) -> Came:
    """Per series, the newest point the agent scored before a late reading or a late restart of it came."""
    chunks, names = store.read_chunks_after(0), store.read_series_names()  # read once, for both
    came = late_came(chunks, names)
    for name, t in late_restarts(store, chunks, names).items():
        came[name] = max(came.get(name, -np.inf), t)
    return came


def late_came(chunks: Iterable[Chunk], names: SeriesNames) -> Came:
    """Per series that had late readings, the data time its last one came at: the newest of the series' points
    stored before it (chunks in the order written). The agent scored the points up to it without that reading.

    >>> from edgeloop.io.store import Chunk
    >>> c = Chunk(1, np.array([0, 0, 0, 0]), np.array([1.0, 3.0, 2.0, 4.0]), np.zeros(4), np.zeros(4, np.float32))
    >>> late_came([c], {(1, 0): ("p", "m")})
    {('p', 'm'): 3.0}
    """
    newest: dict[tuple[str, str], float] = {}
    came: Came = {}
    for name, _, t in _named_points(chunks, names):
        prior = newest.get(name, -np.inf)
        if t < prior:
            came[name] = prior
        else:
            newest[name] = t
    return came


def _named_points(chunks: Iterable[Chunk], names: SeriesNames) -> Iterator[tuple[tuple[str, str], int, float]]:
    """Each stored point of a series the store names, in the order written: ((device, metric), key, time)."""
    for chunk in chunks:
        for key, t in zip(chunk.keys.tolist(), chunk.ts.tolist(), strict=True):
            name = names.get((chunk.run, key))
            if name is not None:
                yield name, key, t


def late_restarts(
    store: StoreReads,
    chunks: list[Chunk],
    names: SeriesNames,
    restart_kinds: Iterable[str] = ("repaired", "started"),
) -> Came:
    """Per series of a device whose restart (a repair) came after readings from its time on, the newest of those:
    the old series scored them, where a run that got the restart in time scored them with the fresh series.
    Found in the store alone (`chunks` and `names` as it holds them): readings from the restart's time on, stored
    under a key that holds readings from before it (keys stay with their series across the agent's restarts; a
    renewal hands out new ones)."""
    restarts: dict[str, list[float]] = {}
    for device in {d for d, _ in names.values()}:
        restarts[device] = [float(e["ts"]) for e in store.read_events(device, 1000) if e["kind"] in restart_kinds]
    oldest: dict[tuple[str, str, int], float] = {}  # a key's oldest reading over every run
    for name, key, t in _named_points(chunks, names):
        oldest[(*name, key)] = min(oldest.get((*name, key), np.inf), t)
    came: Came = {}
    for name, key, t in _named_points(chunks, names):
        if any(oldest[(*name, key)] < r <= t for r in restarts.get(name[0], ())):
            came[name] = max(came.get(name, -np.inf), t)
    return came


def score_difference(run: Scores, base: Scores, came: tuple[Came, Came] | None = None) -> dict[str, Any]:
    """Scores of the points both stored, compared: how many, the largest and the 99th percentile difference
    (matched by device, metric and timestamp). A late reading is stored unscored (NaN): two NaNs are equal; a
    point scored in one run only is counted apart (`unscored_in_one`) and left out of the largest and the 99th
    percentile.

    >>> d = score_difference({("p", "m", 1.0): 0.5, ("p", "m", 2.0): float("nan"), ("p", "m", 3.0): 0.7},
    ...                      {("p", "m", 1.0): 0.5, ("p", "m", 2.0): float("nan"), ("p", "m", 3.0): float("nan")})
    >>> d["within_1e-9"], d["unscored_in_one"], d["max"]
    (2, 1, 0.0)
    """
    common = sorted(run.keys() & base.keys())
    if not common:
        return {"points_compared": 0}
    a, b = (np.array([scores[k] for k in common], dtype=np.float64) for scores in (run, base))
    one = np.isnan(a) != np.isnan(b)
    diff = np.where(np.isnan(a) & np.isnan(b), 0.0, np.abs(a - b))
    both = diff[~one]
    out: dict[str, Any] = {"points_compared": len(common), "only_in_faulted_run": len(run.keys() - base.keys()),
           "only_in_replay": len(base.keys() - run.keys()), "unscored_in_one": int(one.sum()),
           "max": float(both.max()) if both.size else 0.0, "p99": float(np.quantile(both, 0.99)) if both.size else 0.0,
           "within_1e-9": int((both <= 1e-9).sum())}  # fmt: skip
    if came is not None:  # scored before a late reading of the series came to either run (without it), or after
        late = {k: max(came[0].get(k, -np.inf), came[1].get(k, -np.inf)) for k in came[0].keys() | came[1].keys()}
        before = np.array([t <= late.get((d, m), -np.inf) for d, m, t in common], dtype=bool)
        equal = (diff <= 1e-9) & ~one
        out["scored_before_a_late_reading_or_restart_came"] = {
            "points": int(before.sum()),
            "within_1e-9": int(equal[before].sum()),
        }
        out["scored_after"] = {"points": int((~before).sum()), "within_1e-9": int(equal[~before].sum())}
    return out
