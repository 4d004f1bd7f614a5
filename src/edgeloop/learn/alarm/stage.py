"""The alarm stage: from scores to alarms, per device, vectorized over a micro-batch.

A sample (one device's metrics at one time) is *anomalous* when its highest score reaches the device's
threshold, the device is running and has settled since its last restart. `sustain` anomalous samples in a
row make an alarm, unless the device's last alarm is less than `cooldown_s` (data time) ago. An alarm of a
class whose false alarms used to go away on their own waits out the class's on-delay first (`watches.py`).
Thresholds and on-delays are what answers and outcomes have taught (`feedback.py`).

State has an explicit shape (after bytewax): per-device arrays and the watches, fed by `on_batch` and the
device events (`on_device`, `on_down`, `on_restart`), kept and brought back with `snapshot` and `restore`.
The stage runs on data time only, carried by the batches: it has no wall-clock tick. Pure: no I/O.

>>> import numpy as np
>>> stage = AlarmStage(threshold=0.9, sustain=2, cooldown_s=600.0)
>>> stage.on_device(0, "p1", "pump", {"vibration": 0, "temp": 1})
>>> scores = np.array([0.95, 0.1, 0.97, 0.2, 0.99, 0.3])  # three samples of two metrics each
>>> result = stage.on_batch(np.array([0, 0, 0]), np.array([15.0, 30.0, 45.0]), np.array([0, 2, 4]),
...                         np.array([0, 1, 0, 1, 0, 1]), scores)
>>> result.anomalous, [(a.ts, a.score, a.evidence) for a in result.events]
(3, [(30.0, 0.97, {'vibration': 0.97, 'temp': 0.2})])
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray

from edgeloop.learn.alarm.budget import BUDGET_SUSTAIN, budget_threshold
from edgeloop.learn.alarm.feedback import AlarmFeedback, Note
from edgeloop.learn.alarm.runs import run_lengths
from edgeloop.learn.alarm.watches import Doubt, Watch, Watches
from edgeloop.learn.base import grow
from edgeloop.learn.ondelay import alarm_class

#: an anomaly this soon (data time) after one of the device's alarms lapsed in its on-delay is raised at once
REPEAT_S = 6 * 3600.0


@dataclass(frozen=True, slots=True)
class Alarm:
    """A sustained anomaly to decide on: the device's index, the data time and score of the sample that
    completed it, each metric's score in that sample, and how long it waited in an on-delay."""

    device: int
    ts: float
    score: float
    evidence: dict[str, float]
    key: str  # its alarm class (`ondelay.alarm_class`), as the stage saw it
    on_delay_s: float = 0.0


@dataclass(slots=True)
class BatchAlarms:
    """What one batch raised: alarms and notes for the log, in the order they happened."""

    events: list[Alarm | Note] = field(default_factory=list)
    anomalous: int = 0  # anomalous samples in the batch


class AlarmStage:
    """Thresholds, sustain, cooldown, settling, on-delays and watches of one site's devices."""

    def __init__(
        self,
        threshold: float,
        sustain: int,
        cooldown_s: float,
        on_delay_max_s: float = 1800.0,
        repeat_s: float = REPEAT_S,
        budget: tuple[float, float] | None = None,
        on_delay_min_false: int = 1,
    ) -> None:
        self.threshold = threshold
        #: (false alarms per device-day, sampling period in s): each device's threshold then comes from it and
        #: its number of metrics (`budget.py`), in place of `threshold` and any champion's own
        self.budget = budget
        self.sustain = sustain
        self.cooldown_s = cooldown_s
        self.repeat_s = repeat_s
        self.feedback = AlarmFeedback(threshold, on_delay_max_s, on_delay_min_false)
        self.watches = Watches()
        self._ids: list[str] = []  # device index -> device id
        self._types: list[str] = []  # device index -> asset type
        self._metric_of: list[dict[int, str]] = []  # device index -> series key -> metric name
        self._index: dict[str, int] = {}
        self._base: dict[str, float] = {}  # asset type -> its champion's own threshold, where one was selected
        self._type_sustain: dict[str, int] = {}
        self._thr = np.zeros(0, dtype=np.float64)  # each device's threshold, as feedback has set it
        self._sustain = np.zeros(0, dtype=np.int64)
        self._run = np.zeros(0, dtype=np.int64)
        self._cooldown_until = np.zeros(0, dtype=np.float64)
        self._down = np.zeros(0, dtype=bool)
        self._settle_until = np.zeros(0, dtype=np.float64)  # a restarted device warms up: no alarms till then

    # -- devices -------------------------------------------------------------------------------------------------

    def on_device(self, index: int, device: str, asset_type: str, keys: Mapping[str, int]) -> None:
        """A device announced (or announced again, or given fresh series keys): its threshold is where feedback
        left its type's and its own, its sustain its type's."""
        n = max(index + 1, len(self._ids))
        self._grow(n)
        while len(self._ids) < n:
            self._ids.append("")
            self._types.append("")
            self._metric_of.append({})
        self._ids[index], self._types[index] = device, asset_type
        self._metric_of[index] = {k: m for m, k in keys.items()}
        self._index[device] = index
        self._thr[index] = self._scaled(self.feedback.thresholds.threshold(device, asset_type), asset_type, index)
        self._sustain[index] = self._type_sustain.get(asset_type, self._sustain[index])
        if self.budget is not None:
            self._sustain[index] = BUDGET_SUSTAIN

    def set_rule(self, asset_type: str, threshold: float, sustain: int) -> None:
        """The asset type's champion runs at its own threshold and sustain (model selection): feedback then
        moves thresholds in its tail as it moves them from the stage's `threshold`."""
        if (self._base.get(asset_type, self.threshold), self._type_sustain.get(asset_type)) == (threshold, sustain):
            return  # as it was: every device of the type has it already
        if threshold == self.threshold:
            self._base.pop(asset_type, None)
        else:
            self._base[asset_type] = threshold
        self._type_sustain[asset_type] = sustain
        for index, other in enumerate(self._types):
            if other == asset_type:
                self.on_device(index, self._ids[index], asset_type, {m: k for k, m in self._metric_of[index].items()})

    def threshold_of(self, index: int) -> float:
        return float(self._thr[index])

    def settled_from(self, index: int) -> float:
        """The data time from which the device may alarm again after its last restart (-inf: never restarted)."""
        return float(self._settle_until[index])

    def is_down(self, index: int) -> bool:
        return index < len(self._down) and bool(self._down[index])

    def may_alarm(self, device: NDArray[np.int64], ts: NDArray[np.float64]) -> NDArray[np.bool_]:
        """Per sample: whether its device is running and settled, so that it may alarm at all."""
        return ~self._down[device] & (ts >= self._settle_until[device])

    def on_down(self, index: int, failed: bool, found: bool, ts: float) -> list[Note]:
        """The device stopped at `ts` (`failed`: broke down; `found`: maintenance found a fault): its held alarm
        lapses, its doubted false alarm is settled; a failure after a lapse tells the lapsed alarm's class to
        wait less.

        What happened outranks what was said: an alarm called false whose device then failed, or whose
        maintenance found a fault, was right (operators are wrong sometimes), and is learnt as a true fault."""
        self._down[index] = True
        notes: list[Note] = []
        watch, settled = self.watches.stopped(index, ts)
        if watch is not None:
            notes.append(Note("alarm_lapsed", {"device": self._ids[index], "at": ts, "why": "device down",
                                               **watch.to_json()}))  # fmt: skip
        if settled is not None:
            doubt, lasted = settled
            if failed or found:
                notes += self._move(doubt.decision, doubt.device, True, "failure" if failed else "maintenance")
            elif lasted is None:
                notes += self._move(doubt.decision, doubt.device, False, "verdict")
            else:
                notes.append(self.feedback.transient(doubt, lasted))
        key = self.watches.lapsed_before(index, ts) if failed else None
        missed = None if key is None else self.feedback.missed(key, self._ids[index])
        return [*notes, missed] if missed is not None else notes

    def on_restart(self, index: int, ts: float, settle_s: float) -> None:
        """The device runs again from `ts` (repaired, started): no alarms until it has settled."""
        self._down[index] = False
        self._settle_until[index] = ts + settle_s
        self._run[index] = 0

    # -- batches ---------------------------------------------------------------------------------------------------

    def on_batch(
        self,
        device: NDArray[np.int64],
        ts: NDArray[np.float64],
        start: NDArray[np.int64],
        series: NDArray[np.int64],
        scores: NDArray[np.float64],
    ) -> BatchAlarms:
        """One batch's samples (device index, data time, index of its first point) and their points' series keys
        and scores: the alarms raised, the alarms held or lapsed, and what ended doubts taught."""
        result = BatchAlarms()
        sample_score = np.maximum.reduceat(scores, start)
        hot = (sample_score >= self._thr[device]) & self.may_alarm(device, ts)
        result.anomalous = int(np.count_nonzero(hot))
        self.watches.note(device, ts, hot, len(self._ids))
        runs, present, last = run_lengths(device, hot, self._run)
        self._run[present] = np.minimum(last, self._sustain[present])
        for i in np.flatnonzero(runs >= self._sustain[device]):  # rare: only samples that complete a sustained run
            d, t = int(device[i]), float(ts[i])
            if t < self._cooldown_until[d] or self._down[d] or d in self.watches.waiting:
                continue
            end = int(start[i + 1]) if i + 1 < start.shape[0] else scores.shape[0]
            # the evidence: each metric's score in the sample that completed the run
            metric_of = self._metric_of[d]
            evidence = {metric_of.get(int(k), str(k)): round(float(s), 4)
                        for k, s in zip(series[start[i] : end], scores[start[i] : end], strict=True)}  # fmt: skip
            key = alarm_class(self._types[d], evidence, float(self._thr[d]))
            wait = self.feedback.on_delay.delay(key)
            # false alarms of this class went away on their own: see whether this one does (unless it repeats)
            if wait > 0 and not self.watches.lapsed_within(d, t, self.repeat_s):
                lead = int(series[start[i] + int(np.argmax(scores[start[i] : end]))])
                watch = Watch(d, key, t, t + wait, float(sample_score[i]), evidence, lead)
                self.watches.hold(watch)
                result.events.append(Note("alarm_delayed", {"device": self._ids[d], **watch.to_json()}))
                continue
            result.events.append(self._raise(d, t, float(sample_score[i]), evidence, key))
        if self.watches.waiting:
            self._corroborate(device, ts, start, series, scores, hot)
        result.events += self._settle(device, ts)
        return result

    def _raise(self, d: int, ts: float, score: float, evidence: dict[str, float], key: str, wait: float = 0.0) -> Alarm:
        self._cooldown_until[d] = ts + self.cooldown_s
        self._run[d] = 0
        return Alarm(d, ts, score, evidence, key, wait)

    def class_of(self, device: str, asset_type: str, evidence: dict[str, float]) -> str:
        """The alarm class of a decision's evidence, at the device's threshold now (`ondelay.alarm_class`)."""
        index = self._index.get(device)
        return alarm_class(asset_type, evidence, None if index is None else float(self._thr[index]))

    def _corroborate(
        self,
        device: NDArray[np.int64],
        ts: NDArray[np.float64],
        start: NDArray[np.int64],
        series: NDArray[np.int64],
        scores: NDArray[np.float64],
        hot: NDArray[np.bool_],
    ) -> None:
        """Which metrics of the watched devices' anomalous samples are anomalous: a second one confirms a held
        alarm. Only those samples' points are looked at, not the whole batch's."""
        chosen = np.flatnonzero(hot & np.isin(device, np.fromiter(self.watches.waiting, dtype=np.int64)))
        if chosen.size == 0:
            return
        counts = np.append(start[1:], scores.shape[0])[chosen] - start[chosen]
        first = np.repeat(start[chosen] - np.cumsum(counts) + counts, counts)
        points = first + np.arange(int(counts.sum()))  # the chosen samples' points, in order
        point_device = np.repeat(device[chosen], counts)
        point_hot = scores[points] >= self._thr[point_device]
        self.watches.corroborate(point_device, series[points], np.repeat(ts[chosen], counts), point_hot)

    def _settle(self, device: NDArray[np.int64], ts: NDArray[np.float64]) -> list[Alarm | Note]:
        """Alarms whose on-delay is over are raised or lapse; false alarms whose anomaly ended teach on-delays."""
        confirmed, lapsed, ended = self.watches.due(device, ts)
        events: list[Alarm | Note] = []
        for watch, at in confirmed:
            if not self._down[watch.device]:
                events.append(self._raise(watch.device, at, watch.score, watch.evidence, watch.key, at - watch.since))
        for watch, at in lapsed:
            events.append(Note("alarm_lapsed", {"device": self._ids[watch.device], "at": at, **watch.to_json()}))
        events += [self.feedback.transient(doubt, lasted) for doubt, lasted in ended]
        return events

    # -- answers ---------------------------------------------------------------------------------------------------

    def answered(
        self, decision: str, device: str, right: bool, source: str, alarm: tuple[str, float] | None
    ) -> list[Note]:
        """The first answer on a decision counts. A true fault moves thresholds at once; a false alarm waits to
        show whether its anomaly ends on its own (it then teaches its class an on-delay) or not (thresholds).
        `alarm`: the decision's class and the data time its anomaly was sustained."""
        index = self._index.get(device)
        if index is None or not self.feedback.first_answer(decision):
            return []
        if right or alarm is None or self.feedback.on_delay.max_s == 0:
            return self._move(decision, device, right, source)
        doubt = Doubt(decision, device, *alarm)
        if self._down[index]:  # down already: settle on what was seen
            lasted = self.watches.lasted(index, doubt.ts)
            if lasted is None:
                return self._move(decision, device, False, source)
            return [self.feedback.transient(doubt, lasted)]
        earlier = self.watches.doubt(index, doubt)
        if earlier is not None:  # a newer false alarm while the older one's anomaly still goes on
            return self._move(earlier.decision, device, False, "verdict")
        return []

    def _move(self, decision: str, device: str, right: bool, source: str) -> list[Note]:
        """Count an answer in the thresholds; every device of the type gets its moved threshold."""
        index = self._index.get(device)
        if index is None:
            return []
        asset_type = self._types[index]
        if not self.feedback.counted(decision, device, asset_type, right):
            return []
        for other, other_type in enumerate(self._types):
            if other_type == asset_type:
                moved = self.feedback.thresholds.threshold(self._ids[other], asset_type)
                self._thr[other] = self._scaled(moved, asset_type, other)
        body = {"decision": decision, "device": device, "asset_type": asset_type, "source": source,
                "alarm_was_right": right, "device_threshold": float(self._thr[index])}  # fmt: skip
        return [Note("feedback", body)]

    def _scaled(self, threshold: float, asset_type: str, index: int) -> float:
        """Feedback moves thresholds in the tail from `threshold`; a champion's own threshold, or the budget's
        threshold of the device, moves alike."""
        base = self._base.get(asset_type)
        if self.budget is not None:
            base = budget_threshold(*self.budget, len(self._metric_of[index]))
        if base is None:
            return threshold
        return 1.0 - (1.0 - threshold) * (1.0 - base) / (1.0 - self.threshold)

    # -- state -----------------------------------------------------------------------------------------------------

    def _grow(self, n: int) -> None:
        self._thr = grow(self._thr, n, self.threshold)
        self._sustain = grow(self._sustain, n, self.sustain)
        self._run = grow(self._run, n, 0)
        self._cooldown_until = grow(self._cooldown_until, n, -math.inf)
        self._down = grow(self._down, n, False)
        self._settle_until = grow(self._settle_until, n, -math.inf)

    _ARRAYS = ("_thr", "_sustain", "_run", "_cooldown_until", "_down", "_settle_until")

    def snapshot(self) -> dict[str, Any]:
        """The whole state as plain Python values (lists, dicts, floats including infinities)."""
        n = len(self._ids)
        return {
            "devices": [list(x) for x in zip(self._ids, self._types, strict=True)],
            "metric_of": [sorted(m.items()) for m in self._metric_of],
            "base": dict(self._base),
            "type_sustain": dict(self._type_sustain),
            "arrays": {name: getattr(self, name)[:n].tolist() for name in self._ARRAYS},
            "watches": self.watches.snapshot(),
            "feedback": self.feedback.snapshot(),
        }

    def restore(self, state: Mapping[str, Any]) -> None:
        """The state a `snapshot` took, in a stage built with the same settings."""
        self._ids = [str(d) for d, _ in state["devices"]]
        self._types = [str(t) for _, t in state["devices"]]
        self._metric_of = [{int(k): str(m) for k, m in pairs} for pairs in state["metric_of"]]
        self._index = {d: i for i, d in enumerate(self._ids)}
        self._base = {str(t): float(x) for t, x in state["base"].items()}
        self._type_sustain = {str(t): int(x) for t, x in state["type_sustain"].items()}
        for name in self._ARRAYS:
            kept = getattr(self, name)
            setattr(self, name, np.asarray(state["arrays"][name], dtype=kept.dtype))
        self._grow(len(self._ids))
        self.watches.restore(state["watches"])
        self.feedback.restore_snapshot(state["feedback"])
