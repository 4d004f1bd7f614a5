"""Labelled data for model selection: a factory recording (`edgeloop sim record`) or a NAB-format corpus, each
replayed through a learner as the agent would feed it, and turned into scored units (`eventscore.Unit`).

A factory recording is replayed in time order, in blocks of `block_s` (the agent's micro-batches), one series
key per device, metric and life: after a device is repaired it starts afresh on new keys and settles for
`settle_s` before it may alarm, as in the agent. A NAB file is one unit of its category (its asset type); its
probationary rows may not alarm.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import orjson
from numpy.typing import NDArray

from edgeloop.bench.eventscore import Event, Unit
from edgeloop.bench.nab.corpus import Corpus
from edgeloop.bench.nab.evaluate import Interleaved, unix_seconds
from edgeloop.learn.base import Learner

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]
Tick = Callable[[int], None]


class RecordingError(ValueError):
    """A folder that is not a readable recording; the message names the file."""


@dataclass(slots=True)
class Replay:
    """Labelled data as one point stream: keys, values, ts, and for each point its sample (unit, row)."""

    name: str
    keys: IntArray
    values: FloatArray
    ts: FloatArray
    sample: IntArray  # global sample index of each point
    groups: IntArray  # key -> the unit life it belongs to (for learners that watch a device's metrics together)
    bounds: list[int]  # batch boundaries in the point arrays
    units: list[Unit]  # scores filled in by `score_with`
    unit_samples: list[IntArray]  # each unit's global sample indices, in time order

    @property
    def n_points(self) -> int:
        return int(self.keys.shape[0])

    def score_with(self, learner: Learner, tick: Tick | None = None) -> list[Unit]:
        """Every unit with its sample scores (the highest of its metrics') from one replay through `learner`."""
        set_groups = getattr(learner, "set_groups", None)
        if set_groups is not None:
            set_groups(self.groups)
        point_scores = np.empty(self.n_points)
        for a, b in zip(self.bounds[:-1], self.bounds[1:], strict=True):
            point_scores[a:b] = learner.score_learn(self.keys[a:b], self.values[a:b], self.ts[a:b])
            if tick is not None:
                tick(b - a)
        n_samples = int(self.sample.max()) + 1 if self.n_points else 0
        sample_scores = np.zeros(n_samples)
        np.maximum.at(sample_scores, self.sample, point_scores)
        return [Unit(u.asset_type, u.ts, sample_scores[s], u.events, u.may_alarm)
                for u, s in zip(self.units, self.unit_samples, strict=True)]  # fmt: skip


def read_factory(folder: Path, settle_s: float, lead_s: float, block_s: float = 300.0) -> Replay:
    """A recording of `edgeloop sim record` as a replay; developing faults count as caught `lead_s` before failure."""
    try:
        devices = orjson.loads((folder / "devices.json").read_bytes())
        truth = orjson.loads((folder / "truth.json").read_bytes())
        events = [orjson.loads(line) for line in (folder / "events.jsonl").read_bytes().splitlines() if line.strip()]
    except (OSError, orjson.JSONDecodeError) as exc:
        raise RecordingError(f"{folder}: not a factory recording ({exc})") from exc
    restarts: dict[str, list[float]] = {}
    for e in events:
        if e.get("kind") in ("repaired", "started"):
            restarts.setdefault(str(e["device"]), []).append(float(e["ts"]))
    parts: list[tuple[FloatArray, IntArray, FloatArray, IntArray]] = []  # ts, key, value, sample per point
    units: list[Unit] = []
    unit_samples: list[IntArray] = []
    groups: list[int] = []
    n_keys = n_samples = 0
    for meta in devices:
        device, asset_type = str(meta["device"]), str(meta["asset_type"])
        path = folder / "telemetry" / f"{device}.csv"
        try:
            table = np.loadtxt(path, delimiter=",", skiprows=1, ndmin=2)
        except (OSError, ValueError) as exc:
            raise RecordingError(f"{path}: {exc}") from exc
        ts, values = table[:, 0], table[:, 1:]
        n, m = values.shape
        starts = np.array(sorted(restarts.get(device, [])), dtype=np.float64)
        life = np.searchsorted(starts, ts, side="right")  # lives begin at each restart
        key = n_keys + life[:, None] * m + np.arange(m)[None, :]
        lives = int(starts.shape[0]) + 1
        groups += [len(units) * 1000 + lf for lf in range(lives) for _ in range(m)]
        n_keys += lives * m
        samples = n_samples + np.arange(n)
        n_samples += n
        parts.append((np.repeat(ts, m), key.ravel(), values.ravel(), np.repeat(samples, m)))
        settle_until = np.where(life > 0, starts[np.maximum(life - 1, 0)] + settle_s, -np.inf) if lives > 1 else None
        may_alarm = None if settle_until is None else ts >= settle_until
        faults = [_event(f, lead_s) for f in truth.get("faults", []) if f["device"] == device]
        units.append(Unit(asset_type, ts, np.zeros(n), faults, may_alarm))
        unit_samples.append(samples)
    if not parts:
        raise RecordingError(f"{folder}: the recording has no devices")
    ts_all = np.concatenate([p[0] for p in parts])
    order = np.argsort(ts_all, kind="stable")
    keys = np.concatenate([p[1] for p in parts])[order]
    values = np.concatenate([p[2] for p in parts])[order]
    sample = np.concatenate([p[3] for p in parts])[order]
    ts_all = ts_all[order]
    edges = np.arange(ts_all[0], ts_all[-1] + block_s, block_s) if ts_all.size else np.zeros(0)
    bounds = sorted({0, *np.searchsorted(ts_all, edges, side="right").tolist(), int(ts_all.shape[0])})
    return Replay(f"factory recording {folder.name}", keys, values, ts_all, sample,
                  np.array(groups, dtype=np.int64), bounds, units, unit_samples)  # fmt: skip


def _event(fault: dict[str, Any], lead_s: float) -> Event:
    end = fault["failure_ts"] if fault["failure_ts"] is not None else fault["cleared_ts"]
    end = np.inf if end is None else float(end)
    if not fault["developing"]:
        return Event(float(fault["start_ts"]), end)
    deadline = (np.inf if fault["failure_ts"] is None else float(fault["failure_ts"])) - lead_s
    return Event(float(fault["start_ts"]), end, deadline)


def read_nab(corpus: Corpus) -> Replay:
    """A NAB-format corpus as a replay: one unit per file, its category as asset type, its windows as events."""
    stream = Interleaved(corpus)
    offsets = np.concatenate([[0], np.cumsum(stream.lengths)]).astype(np.int64)
    sample = offsets[stream.keys] + stream.rows
    units: list[Unit] = []
    unit_samples: list[IntArray] = []
    for k, f in enumerate(corpus.files):
        ts = unix_seconds(f)
        events = [Event(float(ts[a]), float(ts[b]), float(ts[b])) for a, b in f.windows.tolist()]
        may_alarm = np.arange(f.n_rows) >= f.probation
        units.append(Unit(f.category or "nab", ts, np.zeros(f.n_rows), events, may_alarm))
        unit_samples.append(np.arange(offsets[k], offsets[k + 1]))
    bounds = stream.bounds.tolist()
    return Replay(f"NAB corpus ({len(corpus.files)} files)", stream.keys, stream.values, stream.ts, sample,
                  np.arange(len(corpus.files), dtype=np.int64), bounds, units, unit_samples)  # fmt: skip
