"""What `edgeloop bench detect` reports of one learner's scores on a corpus.

Per run, the device's score of a row is the highest of its metrics' scores. At an operating point (threshold
τ, sustain s) a row *alarms* when it and the s - 1 rows before it score >= τ, as in the agent's alarm stage.
Over the scored rows (after each run's warm-up):

- point-wise precision, recall and F1 of the alarming rows against the labelled rows;
- event-wise recall (a labelled fault with at least one alarming row inside it) and the detection delay (from
  the fault's first row to its first alarming row, median over the detected faults, in seconds);
- false alarms per device-day: alarm onsets (an alarming row after a non-alarming one) on the normal rows, per
  day of normal rows;
- calibration: the fraction of the metrics' scores >= τ on the normal rows, for τ = 0.9, 0.99 and 0.999.

>>> s = RunScores(np.array([[0.1], [0.95], [0.96], [0.2]]), np.array([False, True, True, False]), 0, 60.0)
>>> alarms(s.device, 0.9, 2).tolist()
[False, False, True, False]
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray

FloatArray = NDArray[np.float64]
BoolArray = NDArray[np.bool_]

TAUS = (0.9, 0.99, 0.999)
DAY_S = 86_400.0


@dataclass(slots=True)
class RunScores:
    """One run's per-metric scores (rows, metrics), labels, warm-up rows and sampling period."""

    scores: FloatArray
    label: BoolArray
    warmup: int
    sample_s: float
    device: FloatArray = field(init=False)

    def __post_init__(self) -> None:
        self.device = np.nanmax(self.scores, axis=1) if self.scores.shape[1] else np.zeros(self.scores.shape[0])


def alarms(device: FloatArray, threshold: float, sustain: int) -> BoolArray:
    """Rows whose score, and that of the `sustain - 1` rows before, reaches the threshold."""
    hot = (device >= threshold).astype(np.int64)
    if sustain <= 1:
        return hot.astype(bool)
    run = np.zeros(hot.shape[0], dtype=np.int64)
    acc = 0
    for i, h in enumerate(hot.tolist()):  # runs of hot rows; a loop is fast enough at bench sizes
        acc = acc + 1 if h else 0
        run[i] = acc
    return np.asarray(run >= sustain)


def _events(label: BoolArray) -> list[tuple[int, int]]:
    edges = np.diff(np.r_[0, label.astype(np.int8), 0])
    return list(zip(np.flatnonzero(edges == 1).tolist(), (np.flatnonzero(edges == -1) - 1).tolist(), strict=True))


@dataclass(slots=True)
class Figures:
    """The figures of one learner on one corpus at one operating point."""

    threshold: float | None
    sustain: int
    precision: float
    recall: float
    f1: float
    events: int
    events_found: int
    delay_s: float | None
    false_alarms_per_device_day: float
    normal_days: float
    exceedance: dict[str, float]
    onsets_before_fault: int = 0  # runs whose first alarm onset comes before the run's first fault

    @property
    def event_recall(self) -> float:
        return self.events_found / self.events if self.events else float("nan")

    def as_dict(self) -> dict[str, Any]:
        return {"threshold": self.threshold, "sustain": self.sustain, "precision": self.precision,
                "recall": self.recall, "f1": self.f1, "events": self.events, "events_found": self.events_found,
                "event_recall": self.event_recall, "delay_s": self.delay_s,
                "false_alarms_per_device_day": self.false_alarms_per_device_day, "normal_days": self.normal_days,
                "exceedance": self.exceedance, "false_alarm_before_fault": self.onsets_before_fault}  # fmt: skip


def figures(runs: Sequence[RunScores], threshold: float | Sequence[float], sustain: int) -> Figures:
    """The figures at an operating point; `threshold` is one τ, or one per run (a per-device budget)."""
    per_run = [threshold] * len(runs) if isinstance(threshold, float) else list(threshold)
    tp = fp = fn = found = n_events = onsets = early = 0
    normal_s = 0.0
    delays: list[float] = []
    exceed = dict.fromkeys(TAUS, 0)
    normal_points = 0
    for r, thr in zip(runs, per_run, strict=True):
        sl = slice(r.warmup, None)
        hit, lab = alarms(r.device, thr, sustain)[sl], r.label[sl]
        tp += int(np.count_nonzero(hit & lab))
        fp += int(np.count_nonzero(hit & ~lab))
        fn += int(np.count_nonzero(~hit & lab))
        for a, b in _events(lab):
            n_events += 1
            inside = np.flatnonzero(hit[a : b + 1])
            if inside.size:
                found += 1
                delays.append(float(inside[0]) * r.sample_s)
        start = hit & ~np.r_[False, hit[:-1]]
        onsets += int(np.count_nonzero(start & ~lab))
        first_fault = np.flatnonzero(lab)
        first_onset = np.flatnonzero(start)
        if first_fault.size and first_onset.size and first_onset[0] < first_fault[0]:
            early += 1
        normal_s += float(np.count_nonzero(~lab)) * r.sample_s
        metric = r.scores[sl][~lab]
        normal_points += int(np.count_nonzero(~np.isnan(metric)))
        for tau in TAUS:
            exceed[tau] += int(np.count_nonzero(metric >= tau))
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    days = normal_s / DAY_S
    return Figures(
        threshold=float(np.median(per_run)) if per_run else None,
        sustain=sustain,
        precision=precision,
        recall=recall,
        f1=f1,
        events=n_events,
        events_found=found,
        delay_s=float(np.median(delays)) if delays else None,
        false_alarms_per_device_day=onsets / days if days else float("nan"),
        normal_days=days,
        exceedance={str(tau): exceed[tau] / normal_points if normal_points else float("nan") for tau in TAUS},
        onsets_before_fault=early,
    )


def best_in_hindsight(runs: Sequence[RunScores], candidates: int = 200) -> Figures:
    """The point-wise F1 at the best single threshold (sustain 1), picked with the labels: an upper bound."""
    pooled = np.concatenate([r.device[r.warmup :] for r in runs])
    qs = np.unique(np.quantile(pooled[np.isfinite(pooled)], np.linspace(0.0, 1.0, candidates)))
    best: Figures | None = None
    for q in qs.tolist():
        f = figures(runs, float(q), 1)
        if best is None or f.f1 > best.f1:
            best = f
    assert best is not None
    return best
