"""Event-wise scoring of alarms against labelled events, as model selection uses it.

A unit (a device of a recording, or a file of a NAB-format corpus) has samples `ts` with a sample score (the
highest of its metrics' scores) and labelled events: a window `[start, end]` during which the unit is at fault,
and, for events to catch, a `deadline` by which an alarm must come to count as caught (a developing fault: some
time before its failure, so that maintenance can still prevent it; a NAB window: its end).

Alarms come from the agent's own rule: a sample is hot when its score reaches the threshold (and the unit is not
settling after a restart); `sustain` hot samples in a row raise an alarm; after an alarm the unit is quiet for
`cooldown_s`. Each alarm is then:

- **true** when it falls in an event's window that no earlier alarm claimed (it claims every such window),
- **redundant** (ignored) when it falls only in windows claimed already: an agent would have acted on the first,
- **false** otherwise.

precision = true / (true + false); recall = events caught by their deadline / events to catch; F1 their
harmonic mean. Counting events, not samples, is what an operator feels: one alarm per fault, and every alarm
that is not about a fault is a wasted visit.

>>> unit = Unit("pump", np.arange(10.0), np.array([0, 0, .95, .97, 0, 0, 0, .99, .99, 0]), events=[Event(1, 4, 3)])
>>> tally = score([unit], threshold=0.9, sustain=2, cooldown_s=0.0)
>>> tally.alarms, tally.false_alarms, tally.caught, round(tally.f1, 3)
(2, 1, 1, 0.667)
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

FloatArray = NDArray[np.float64]


@dataclass(frozen=True, slots=True)
class Event:
    """A labelled fault: at fault during [start, end]; caught if an alarm comes by `deadline` (None: not to catch)."""

    start: float
    end: float
    deadline: float | None = None


@dataclass(slots=True)
class Unit:
    """One device or file: its asset type, sample times, sample scores, events, and which samples may alarm."""

    asset_type: str
    ts: FloatArray
    scores: FloatArray
    events: Sequence[Event] = ()
    may_alarm: NDArray[np.bool_] | None = None


@dataclass(slots=True)
class Tally:
    alarms: int = 0
    false_alarms: int = 0
    redundant: int = 0
    events: int = 0
    caught: int = 0

    @property
    def true_alarms(self) -> int:
        return self.alarms - self.false_alarms

    @property
    def precision(self) -> float | None:
        return self.true_alarms / self.alarms if self.alarms else None

    @property
    def recall(self) -> float | None:
        return self.caught / self.events if self.events else None

    @property
    def f1(self) -> float:
        p, r = self.precision or 0.0, self.recall or 0.0
        return 2 * p * r / (p + r) if p + r > 0 else 0.0


def alarm_times(ts: FloatArray, hot: NDArray[np.bool_], sustain: int, cooldown_s: float) -> list[float]:
    """When the agent's rule raises alarms on one unit's samples (in time order).

    >>> alarm_times(np.arange(8.0), np.array([1, 1, 1, 0, 1, 1, 1, 1], dtype=bool), 2, 3.0)
    [1.0, 5.0]
    """
    n = hot.shape[0]
    if n == 0 or not hot.any():
        return []
    idx = np.arange(n)
    last_cold = np.maximum.accumulate(np.where(hot, -1, idx))
    runs = np.where(hot, idx - last_cold, 0)
    candidates = np.flatnonzero(runs >= sustain)
    out: list[float] = []
    pos, last = 0, -(10**12)
    while pos < candidates.shape[0]:
        i = int(candidates[pos])
        if min(int(runs[i]), i - last) >= sustain:
            out.append(float(ts[i]))
            last = i
            quiet_until = ts[i] + cooldown_s
            pos = max(pos + 1, int(np.searchsorted(ts[candidates], quiet_until, side="left")))
        else:
            pos += 1
    return out


def tally_unit(unit: Unit, alarms: Iterable[float], tally: Tally) -> None:
    """Add one unit's alarms and events to `tally`."""
    claimed = [False] * len(unit.events)
    caught = [False] * len(unit.events)
    for a in alarms:
        tally.alarms += 1
        active = [k for k, e in enumerate(unit.events) if e.start <= a <= e.end]
        fresh = [k for k in active if not claimed[k]]
        if not active:
            tally.false_alarms += 1
        elif not fresh:
            tally.alarms -= 1
            tally.redundant += 1
        for k in fresh:
            claimed[k] = True
            deadline = unit.events[k].deadline
            caught[k] = deadline is not None and a <= deadline
    tally.events += sum(1 for e in unit.events if e.deadline is not None)
    tally.caught += sum(caught)


def score(units: Iterable[Unit], threshold: float, sustain: int, cooldown_s: float) -> Tally:
    """Alarms of every unit at this threshold and sustain, scored against the events."""
    tally = Tally()
    for unit in units:
        hot = unit.scores >= threshold
        if unit.may_alarm is not None:
            hot &= unit.may_alarm
        tally_unit(unit, alarm_times(unit.ts, hot, sustain, cooldown_s), tally)
    return tally
