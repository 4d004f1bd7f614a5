"""Process upsets: a device slowed by the process around it for some minutes, then back, with nothing wrong.

An upstream valve throttled, a downstream consumer that trips, a tank that runs low: the demand on a pump or
motor dips to `DEPTH` of what it was for `MINUTES`, and every metric moves with it, as a failing device's would
for a moment. No fault is active and nothing breaks, so an alarm on one is a false alarm, and one that goes away
on its own: the nuisance alarms alarm management (ISA-18.2) sets on-delays for. A detector cannot tell the
first minutes of an upset from a fault by itself; what an operator says about them can (`edgeloop bench
feedback`). They arrive per device as a Poisson stream after the plant's warm-up, drawn up front from a random
stream of their own, so a plant with upsets has the same faults and noise as one without.

>>> up = Upsets([[(100.0, 400.0, 0.7)], []])
>>> up.depth(50.0).tolist(), up.depth(100.0).tolist(), up.depth(400.0).tolist()
([1.0, 1.0], [0.7, 1.0], [1.0, 1.0])
>>> [u["device"] for u in up.truth(["pump-001", "motor-002"], 500.0)]
['pump-001']
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from edgeloop.sim.faults import poisson_starts

#: the share of its demand a device keeps during an upset, drawn uniform
DEPTH = (0.6, 0.8)
#: how long an upset lasts, drawn uniform
MINUTES = (3.0, 12.0)

Upset = tuple[float, float, float]  # start, end, depth


def plan_upsets(rng: np.random.Generator, start_ts: float, warmup_s: float, per_day: float) -> list[Upset]:
    """One device's upsets: a Poisson stream after the warm-up, each with its length and depth."""
    out = []
    for t in poisson_starts(rng, start_ts, warmup_s, per_day):
        minutes, depth = rng.uniform(*MINUTES), rng.uniform(*DEPTH)
        out.append((t, t + 60.0 * float(minutes), float(depth)))
    return out


class Upsets:
    """Every device's upsets, and the demand factor they set at a time (1 where none is under way)."""

    def __init__(self, plans: Sequence[Sequence[Upset]]) -> None:
        self.plans = [list(p) for p in plans]
        n = len(self.plans)
        self._next = np.zeros(n, dtype=np.int64)  # each device's current or next upset
        self._start, self._end, self._depth = np.full(n, np.inf), np.full(n, np.inf), np.ones(n)
        for i in range(n):
            self._load(i)

    def _load(self, i: int) -> None:
        plan, j = self.plans[i], int(self._next[i])
        self._start[i], self._end[i], self._depth[i] = plan[j] if j < len(plan) else (np.inf, np.inf, 1.0)

    def depth(self, ts: float) -> np.ndarray[Any, np.dtype[np.float64]]:
        """The demand factor of every device at `ts` (times go forward)."""
        for i in np.flatnonzero(self._end <= ts).tolist():
            while self._end[i] <= ts:
                self._next[i] += 1
                self._load(i)
        return np.where(self._start <= ts, self._depth, 1.0)

    def truth(self, devices: Sequence[str], now: float) -> list[dict[str, Any]]:
        """The upsets that started by `now`, for the ground truth."""
        return [
            {"device": devices[i], "start_ts": s, "end_ts": e, "depth": round(d, 4)}
            for i, plan in enumerate(self.plans)
            for s, e, d in plan
            if s <= now
        ]
