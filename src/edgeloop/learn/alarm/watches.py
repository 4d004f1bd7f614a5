"""Alarms waiting out their class's on-delay, and false alarms waiting to show whether their anomaly ends.

The site agent keeps, per device, the data time of its newest anomalous sample. With it:

- a **watch** is an alarm held for its class's on-delay (`edgeloop.learn.ondelay`). It is *confirmed* at once
  if another metric of the device turns anomalous too (a glitch is one sensor's; a fault of the machine shows
  in several of its metrics), or if the anomaly stops for `back_after_s` and comes back (a glitch makes one
  anomaly and is gone; a developing fault comes and goes at first), or when the device's data passes the end
  of the delay if the device was still anomalous within `grace_s` of that end. Otherwise it *lapses* (logged,
  counted, and remembered for `memory_s`: a failure soon after a lapse is what the delay cost);
- a **doubt** is an alarm an operator (or maintenance) called false, whose anomaly has not ended yet. It is
  *transient* once the running device has been calm for `quiet_s` (it then teaches the on-delay how long such
  anomalies last) and *persistent* if the device is stopped or serviced before that (thresholds learn from it).

>>> import numpy as np
>>> w = Watches(quiet_s=600.0, grace_s=60.0)
>>> w.note(np.array([0, 1]), np.array([100.0, 100.0]), np.array([True, True]), n_devices=2)
>>> w.hold(Watch(0, "pump/current", 100.0, 400.0, 0.98, {"current": 0.98}, lead=5))
>>> _ = w.doubt(1, Doubt("d1", "pump-001", "pump/vibration", 100.0))
>>> w.note(np.array([0, 1]), np.array([700.0, 700.0]), np.array([False, False]), n_devices=2)
>>> confirmed, lapsed, ended = w.due(np.array([0, 1]), np.array([700.0, 700.0]))
>>> confirmed, [x.key for x, _ in lapsed], [(d.decision, lasted) for d, lasted in ended]
([], ['pump/current'], [('d1', 0.0)])

An anomaly that stops and comes back is confirmed before its delay is over:

>>> w.hold(Watch(0, "pump/current", 800.0, 2000.0, 0.98, {"current": 0.98}, lead=5))
>>> w.note(np.array([0, 0, 0]), np.array([815.0, 1100.0, 1115.0]), np.array([False, False, True]), n_devices=2)
>>> [(x.key, at) for x, at in w.due(np.array([0]), np.array([1115.0]))[0]]
[('pump/current', 1115.0)]

And so is one whose device shows a second anomalous metric (series key 7, not the lead's 5):

>>> w.hold(Watch(0, "pump/current", 1200.0, 2000.0, 0.98, {"current": 0.98}, lead=5))
>>> w.corroborate(np.array([0, 0]), np.array([5, 7]), np.array([1215.0, 1230.0]), np.array([True, True]))
>>> [(x.key, at) for x, at in w.due(np.array([0]), np.array([1230.0]))[0]]
[('pump/current', 1230.0)]

But not one whose class is of alarms with several anomalous metrics from the start (a process upset's):

>>> w.hold(Watch(0, "pump/speed+", 1300.0, 2000.0, 1.0, {"speed": 1.0, "current": 1.0}, lead=5))
>>> w.corroborate(np.array([0, 0]), np.array([5, 7]), np.array([1315.0, 1315.0]), np.array([True, True]))
>>> w.due(np.array([0]), np.array([1315.0]))[0]
[]
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from edgeloop.learn.base import grow
from edgeloop.learn.ondelay import MULTI

HOUR = 3600.0


@dataclass(frozen=True, slots=True)
class Watch:
    """An alarm held for its on-delay: raised at `until` (data time) if the device is still anomalous then."""

    device: int  # the device's index
    key: str  # its alarm class
    since: float  # data time the sustained anomaly completed
    until: float
    score: float
    evidence: dict[str, float]
    lead: int  # the series key of the metric that led the alarm

    def to_json(self) -> dict[str, Any]:
        return {"alarm_class": self.key, "since": self.since, "until": self.until, "score": self.score,
                "evidence": self.evidence}  # fmt: skip


@dataclass(frozen=True, slots=True)
class Doubt:
    """A decision called a false alarm whose anomaly was still there when the answer came."""

    decision: str
    device: str
    key: str
    ts: float  # data time the decision's anomaly was sustained (before any on-delay)


class Watches:
    """The watches and doubts of one site agent; see the module's docstring."""

    def __init__(
        self, quiet_s: float = 600.0, grace_s: float = 60.0, back_after_s: float = 180.0, memory_s: float = 6 * HOUR
    ) -> None:
        self.quiet_s = quiet_s
        self.grace_s = grace_s
        self.back_after_s = back_after_s
        self.memory_s = memory_s
        self._calm_from: dict[int, float] = {}  # watched device -> data time its anomaly stopped
        self._back: dict[int, float] = {}  # watched device -> data time its alarm was confirmed before the end
        self.waiting: dict[int, Watch] = {}
        self.doubts: dict[int, Doubt] = {}
        self._lapsed: dict[int, tuple[str, float]] = {}  # device -> class and data time of its latest lapse
        self._last_hot = np.zeros(0, dtype=np.float64)
        self._last_seen = np.zeros(0, dtype=np.float64)

    def note(self, device: NDArray[np.int64], ts: NDArray[np.float64], hot: NDArray[np.bool_], n_devices: int) -> None:
        """Each sample's device, data time and whether it was anomalous."""
        self._last_hot = grow(self._last_hot, n_devices, -np.inf)
        self._last_seen = grow(self._last_seen, n_devices, -np.inf)
        np.maximum.at(self._last_seen, device, ts)
        if hot.any():
            np.maximum.at(self._last_hot, device[hot], ts[hot])
        if self.waiting:
            self._follow(device, ts, hot)

    def _follow(self, device: NDArray[np.int64], ts: NDArray[np.float64], hot: NDArray[np.bool_]) -> None:
        """Sample by sample for the watched devices: has the anomaly stopped for `back_after_s` and come back?"""
        chosen = np.isin(device, np.fromiter(self.waiting, dtype=np.int64))
        for d, t, h in zip(device[chosen].tolist(), ts[chosen].tolist(), hot[chosen].tolist(), strict=True):
            if d in self._back:
                continue
            if not h:
                self._calm_from.setdefault(d, t)
                continue
            calm = self._calm_from.pop(d, None)
            if calm is not None and t - calm >= self.back_after_s:
                self._back[d] = t

    def corroborate(
        self, device: NDArray[np.int64], series: NDArray[np.int64], ts: NDArray[np.float64], hot: NDArray[np.bool_]
    ) -> None:
        """Each point's device, series key, data time and whether it was anomalous: a watched device with an
        anomalous point of a metric other than its watch's lead, at or after the watch began, is confirmed,
        unless its class is of alarms that had several anomalous metrics already (`ondelay.MULTI`): a process
        upset moves several metrics and goes away, so for such a class a second metric tells nothing."""
        if not self.waiting:
            return
        chosen = hot & np.isin(device, np.fromiter(self.waiting, dtype=np.int64))
        for d, k, t in zip(device[chosen].tolist(), series[chosen].tolist(), ts[chosen].tolist(), strict=True):
            watch = self.waiting[d]
            if watch.key.endswith(MULTI):  # it had several metrics anomalous from the start: no news
                continue
            if k != watch.lead and t >= watch.since and d not in self._back:
                self._back[d] = t

    def lasted(self, device: int, since: float) -> float | None:
        """How long after `since` the device's anomaly went on, if it has ended (calm samples for `quiet_s`
        after its last anomalous one); None while it has not."""
        if device >= len(self._last_hot) or self._last_seen[device] - self._last_hot[device] < self.quiet_s:
            return None
        return max(float(self._last_hot[device]) - since, 0.0)

    def hold(self, watch: Watch) -> None:
        self.waiting[watch.device] = watch
        self._calm_from.pop(watch.device, None)
        self._back.pop(watch.device, None)

    def doubt(self, device: int, doubt: Doubt) -> Doubt | None:
        """Wait for the anomaly of a decision called false to end; the device's earlier doubt, if it had one."""
        earlier = self.doubts.get(device)
        self.doubts[device] = doubt
        return earlier

    def due(
        self, device: NDArray[np.int64], ts: NDArray[np.float64]
    ) -> tuple[list[tuple[Watch, float]], list[tuple[Watch, float]], list[tuple[Doubt, float]]]:
        """Given a batch's samples: the watches confirmed and lapsed, each with the data time it was settled at,
        and the doubts whose anomaly ended, each with how long it lasted after its alarm."""
        if not self.waiting and not self.doubts:
            return [], [], []
        interest = np.fromiter(set(self.waiting) | set(self.doubts), dtype=np.int64)
        chosen = np.isin(device, interest)
        latest: dict[int, float] = {}
        for d, t in zip(device[chosen].tolist(), ts[chosen].tolist(), strict=True):
            latest[d] = max(latest.get(d, t), t)
        confirmed, lapsed = [], []
        for d, watch in list(self.waiting.items()):
            back = self._back.get(d)
            if back is not None:
                self._settle(d)
                confirmed.append((watch, back))
                continue
            t = latest.get(d)
            if t is None or t < watch.until:
                continue
            self._settle(d)
            if self._last_hot[d] >= watch.until - self.grace_s:
                confirmed.append((watch, t))
            else:
                self._lapsed[d] = (watch.key, t)
                lapsed.append((watch, t))
        ended = []
        for d, doubt in list(self.doubts.items()):
            lasted = self.lasted(d, doubt.ts) if d in latest else None
            if lasted is not None:
                del self.doubts[d]
                ended.append((doubt, lasted))
        return confirmed, lapsed, ended

    def stopped(self, device: int, ts: float) -> tuple[Watch | None, tuple[Doubt, float | None] | None]:
        """The device went down at `ts`: its watch lapses; its doubt is settled, with how long its anomaly lasted
        if it had ended before (`lasted`), None if it had not."""
        watch = self.waiting.get(device)
        if watch is not None:
            self._settle(device)
            self._lapsed[device] = (watch.key, ts)
        doubt = self.doubts.pop(device, None)
        return watch, None if doubt is None else (doubt, self.lasted(device, doubt.ts))

    def _settle(self, device: int) -> None:
        del self.waiting[device]
        self._calm_from.pop(device, None)
        self._back.pop(device, None)

    def lapsed_within(self, device: int, ts: float, within_s: float) -> bool:
        """Whether one of the device's alarms lapsed within `within_s` before `ts`: glitches are rare, so a
        device anomalous again that soon is not having one (a developing fault can come and go at first)."""
        lapse = self._lapsed.get(device)
        return lapse is not None and 0.0 <= ts - lapse[1] <= within_s

    def snapshot(self) -> dict[str, Any]:
        """The whole state as plain Python values (lists, dicts, floats including infinities)."""
        return {
            "waiting": [
                [w.device, w.key, w.since, w.until, w.score, dict(w.evidence), w.lead] for w in self.waiting.values()
            ],
            "doubts": [[d, x.decision, x.device, x.key, x.ts] for d, x in self.doubts.items()],
            "calm_from": sorted(self._calm_from.items()),
            "back": sorted(self._back.items()),
            "lapsed": [[d, key, t] for d, (key, t) in self._lapsed.items()],
            "last_hot": self._last_hot.tolist(),
            "last_seen": self._last_seen.tolist(),
        }

    def restore(self, state: dict[str, Any]) -> None:
        self.waiting = {int(w[0]): Watch(int(w[0]), str(w[1]), float(w[2]), float(w[3]), float(w[4]), dict(w[5]),
                                         int(w[6])) for w in state["waiting"]}  # fmt: skip
        self.doubts = {int(d): Doubt(str(x), str(dev), str(k), float(t)) for d, x, dev, k, t in state["doubts"]}
        self._calm_from = {int(d): float(t) for d, t in state["calm_from"]}
        self._back = {int(d): float(t) for d, t in state["back"]}
        self._lapsed = {int(d): (str(key), float(t)) for d, key, t in state["lapsed"]}
        self._last_hot = np.asarray(state["last_hot"], dtype=np.float64)
        self._last_seen = np.asarray(state["last_seen"], dtype=np.float64)

    def lapsed_before(self, device: int, ts: float) -> str | None:
        """The class of the device's alarm that lapsed within `memory_s` before `ts`, if one did."""
        lapse = self._lapsed.get(device)
        if lapse is None or ts - lapse[1] > self.memory_s:
            return None
        del self._lapsed[device]
        return lapse[0]
