"""Alarm on-delays learnt from false alarms that went away on their own (ISA-18.2's on-delay, set by feedback).

A sensor glitch (a spike, a transient) makes an anomaly that lasts a few minutes and is then gone: an operator
who looks calls the alarm false, and maintenance would find nothing. A higher threshold does not help, since a
glitch scores as high as a failing bearing. Waiting does: a developing fault is still there minutes later, a
glitch is not. So each false alarm whose anomaly *ended on its own* records how long it lasted after the alarm,
per alarm class (asset type, the metric that led the alarm, and whether several metrics were anomalous at once:
`alarm_class`), and an alarm of that class waits
for the class's on-delay before it is raised: the `quantile` of the last `keep` durations plus `margin_s`, at
most `max_s`, once the class has `min_false` such false alarms on record. One is not enough in the agent
(`agent.on_delay_min_false`, 3): an operator who calls a true alarm false by mistake, on a fault that then
clears (a stuck sensor freed), would make every alarm of its class wait (measured with `edgeloop bench
feedback`, where the operator is wrong one time in ten). The default quantile is 1, the longest: a class has
seen few false alarms when it starts to wait, and a lower quantile of a few samples lets the longer glitches
through (measured with `edgeloop bench feedback`). The agent raises the alarm only if the device is still
anomalous when the delay is over.

A failure on a device whose alarm lapsed in its on-delay (`missed`) shows what waiting may have cost: the
class drops the longest duration on record, so it waits less (as long as its next-longest false alarm
lasted, or not at all once fewer than `min_false` are left); repeated misses bring it back to raising alarms at
once. A false alarm whose anomaly did not end (it lasted until the device was stopped or maintained) teaches no
on-delay; thresholds deal with those (`edgeloop.learn.feedback`).

>>> od = OnDelay(quantile=0.8, margin_s=120.0, max_s=1200.0)
>>> od.delay("pump/current")
0.0
>>> for lasted in (200.0, 240.0, 260.0, 300.0):
...     _ = od.transient("pump/current", lasted)
>>> od.delay("pump/current"), od.delay("pump/vibration")
(396.0, 0.0)
>>> od.transient("pump/current", 5000.0)  # never longer than max_s
1200.0
>>> od.missed("pump/current"), od.delay("pump/current")  # the 5000 s one is dropped
(True, 396.0)
"""

from __future__ import annotations

from collections import deque
from collections.abc import Mapping
from typing import Any

import numpy as np


def alarm_class(asset_type: str, evidence: Mapping[str, float], threshold: float | None = None) -> str:
    """An alarm's class: its asset type and the metric with the highest score in its evidence, marked `+` when
    (given the alarm's `threshold`) several metrics were anomalous at once. A sensor glitch is one metric's; a
    process upset moves several at once, as a machine's fault does, so the two learn apart (`MULTI`).

    >>> alarm_class("pump", {"current": 0.98, "vibration": 0.2})
    'pump/current'
    >>> alarm_class("pump", {"speed": 1.0, "current": 1.0, "vibration": 0.2}, threshold=0.9)
    'pump/speed+'
    >>> alarm_class("pump", {})
    'pump/*'
    """
    lead = max(evidence, key=lambda m: evidence[m]) if evidence else "*"
    several = threshold is not None and sum(1 for s in evidence.values() if s >= threshold) >= 2
    return f"{asset_type}/{lead}{MULTI if several else ''}"


#: the mark of a class whose alarms had several metrics anomalous at once: a second anomalous metric does not
#: confirm one of them held in its on-delay (it had several already; `alarm/watches.py`)
MULTI = "+"


class OnDelay:
    """Per alarm class, how long a new alarm waits before it is raised; see the module's docstring."""

    def __init__(
        self, quantile: float = 1.0, margin_s: float = 120.0, max_s: float = 1800.0, keep: int = 20, min_false: int = 1
    ) -> None:
        if not 0.0 < quantile <= 1.0:
            raise ValueError(f"quantile must be in (0, 1], not {quantile}")
        if margin_s < 0 or max_s < 0:
            raise ValueError(f"margin_s ({margin_s}) and max_s ({max_s}) cannot be negative; max_s 0: never wait")
        self.quantile = quantile
        self.margin_s = margin_s
        self.max_s = max_s
        self.keep = keep
        if not 1 <= min_false <= keep:
            raise ValueError(f"min_false must be from 1 to keep ({keep}), not {min_false}")
        self.min_false = min_false
        self._lasted: dict[str, deque[float]] = {}

    def delay(self, key: str) -> float:
        """Seconds an alarm of class `key` waits; 0 for a class with fewer than `min_false` transient false alarms
        on record.

        >>> od = OnDelay(min_false=2)
        >>> od.transient("pump/current", 300.0), od.transient("pump/current", 200.0)
        (0.0, 420.0)
        """
        lasted = self._lasted.get(key)
        if not lasted or len(lasted) < self.min_false or self.max_s == 0:
            return 0.0
        wait = float(np.quantile(np.fromiter(lasted, dtype=np.float64), self.quantile)) + self.margin_s
        return round(min(wait, self.max_s), 1)

    def transient(self, key: str, lasted_s: float) -> float:
        """A false alarm of class `key` whose anomaly ended `lasted_s` after the alarm; the class's new delay."""
        self._lasted.setdefault(key, deque(maxlen=self.keep)).append(max(float(lasted_s), 0.0))
        return self.delay(key)

    def missed(self, key: str) -> bool:
        """A failure followed an alarm of class `key` that lapsed in its on-delay: the class's longest duration
        on record goes, so it waits less. False when the class had no false alarm on record."""
        lasted = self._lasted.get(key)
        if not lasted:
            return False
        lasted.remove(max(lasted))
        if not lasted:
            del self._lasted[key]
        return True

    def to_json(self) -> dict[str, Any]:
        return {"lasted_s": {k: list(v) for k, v in self._lasted.items()}}

    def restore(self, state: Mapping[str, Any]) -> None:
        """Take back what `to_json` saved (e.g. after a restart)."""
        for key, lasted in dict(state.get("lasted_s", {})).items():
            self._lasted[str(key)] = deque((float(x) for x in lasted), maxlen=self.keep)

    def delays(self) -> dict[str, float]:
        """Every class's current on-delay, in seconds."""
        return {key: self.delay(key) for key in sorted(self._lasted)}
