"""Seasonal profile: what a series usually reads at this time of day (or of the week), and how far it is off.

Time is cut into `period_s / slot_s` slots from the point's own timestamp (unix seconds, UTC): with the
defaults, the 24 hours of the day; with `period_s=604800`, the 168 hours of the week (slot 0 is Thursday
00:00 UTC, the epoch's weekday). Each series keeps, per slot, an exponentially weighted mean m and mean absolute
deviation d of its values (rate `alpha`, or 1/n while a slot has seen fewer than 1/alpha values). A point's
raw statistic is its deviation from its slot's profile in units of that slot's spread:

    z = |x - m[slot]| / max(d[slot], spread_floor * D)

where D is the series' average absolute deviation over all slots, so a slot that happened to be flat does not
make every small wiggle infinite. A busy hour and a quiet night are judged each by their own spread.

The score is the record-tail likelihood of z (`calibrate.RecordTail`): a deviation larger than any in the last
`blocks * block` points, by how much, in units of their range; `level` scales it so that likelihood 0.9 is
where NAB's standard profile places its best threshold for this learner alone.

>>> import numpy as np
>>> ts = 1_420_070_400.0 + 3600.0 * np.arange(24 * 21)          # three weeks, hourly
>>> x = 10 + 5 * np.sin(2 * np.pi * ts / 86400) + np.random.default_rng(0).normal(0, 0.3, ts.size)
>>> x[-5] = 10 + 5 * np.sin(2 * np.pi * ts[-5] / 86400) + 4.0    # in range, but not at this hour
>>> s = SeasonalProfile().score_learn(np.zeros(ts.size, dtype=np.int64), x, ts)
>>> bool(s[-5] == s.max() > 0.99), int(np.count_nonzero(s > 0.9))  # one record of the noise, days earlier
(True, 2)
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from edgeloop.learn.base import FloatArray, IntArray
from edgeloop.learn.calibrate import BoolArray, RecordTail, likelihood
from edgeloop.learn.stepwise import StepwiseLearner, grow, grow_rows


class SlotProfiles:
    """The per-slot means and spreads of one or more seasons, their slots side by side in one array per key.

    `deviation` gives one z per season for each point (shape: points, seasons) and learns the points; a
    detector that watches several seasons pays for one gather and one scatter, not one per season.
    """

    def __init__(
        self, seasons: Sequence[tuple[int, int]], alpha: float, min_slot_count: int, spread_floor: float
    ) -> None:
        for period_s, slot_s in seasons:
            if period_s % slot_s:
                raise ValueError(f"slot_s ({slot_s}) must divide period_s ({period_s})")
        self.alpha = alpha
        self.min_slot_count = min_slot_count
        self.spread_floor = spread_floor
        self._period = np.array([p for p, _ in seasons], dtype=np.float64)
        self._slot_s = np.array([s for _, s in seasons], dtype=np.float64)
        n_slots = np.array([p // s for p, s in seasons], dtype=np.int64)
        self._offset = np.concatenate([[0], np.cumsum(n_slots)[:-1]]).astype(np.int64)
        total = int(n_slots.sum())
        self._mean = np.zeros((0, total), dtype=np.float64)
        self._dev = np.zeros((0, total), dtype=np.float64)
        self._seen = np.zeros((0, total), dtype=np.float64)
        self._spread = np.zeros((0, len(seasons)), dtype=np.float64)

    def ensure(self, size: int) -> None:
        self._mean = grow_rows(self._mean, size, 0.0)
        self._dev = grow_rows(self._dev, size, 0.0)
        self._seen = grow_rows(self._seen, size, 0.0)
        self._spread = grow_rows(self._spread, size, 0.0)

    def deviation(self, k: IntArray, x: FloatArray, t: FloatArray) -> tuple[FloatArray, BoolArray]:
        """z of each point in each season and whether its slot has seen enough to judge; then learn."""
        slot = ((t[:, None] % self._period) // self._slot_s).astype(np.int64) + self._offset
        rows = k[:, None]
        mean, dev, seen, spread = self._mean[rows, slot], self._dev[rows, slot], self._seen[rows, slot], self._spread[k]
        err = x[:, None] - mean
        abs_err = np.abs(err)
        z = abs_err / (np.maximum(dev, self.spread_floor * spread) + 1e-12 * (1.0 + np.abs(mean)))
        ready = seen >= self.min_slot_count
        a = np.maximum(self.alpha, 1.0 / (seen + 1.0))
        learnt = seen >= 1
        self._mean[rows, slot] = mean + a * err
        self._dev[rows, slot] = np.where(learnt, dev + a * (abs_err - dev), 0.0)
        self._spread[k] = np.where(learnt, spread + 0.01 * (abs_err - spread), spread)
        self._seen[rows, slot] = seen + 1.0
        return np.where(ready, z, 0.0), ready


class SeasonalProfile(StepwiseLearner):
    """Per-series profile by time slot (hour of day by default), scored by a record tail of the deviation."""

    name = "seasonal"

    def __init__(
        self,
        period_s: int = 86400,
        slot_s: int = 3600,
        alpha: float = 0.3,
        min_slot_count: int = 3,
        spread_floor: float = 0.1,
        warmup: int = 150,
        block: int = 1000,
        blocks: int = 8,
        level: float = 60.0,
    ) -> None:
        self.period_s = period_s
        self.slot_s = slot_s
        self.alpha = alpha
        self.min_slot_count = min_slot_count
        self.spread_floor = spread_floor
        self.warmup = warmup
        self.block = block
        self.blocks = blocks
        self.level = level
        self._profiles = SlotProfiles([(period_s, slot_s)], alpha, min_slot_count, spread_floor)
        self._count = np.zeros(0, dtype=np.int64)
        self._tail = RecordTail([block], blocks)

    @property
    def n_series(self) -> int:
        return int(np.count_nonzero(self._count))

    def _ensure(self, size: int) -> None:
        self._profiles.ensure(size)
        self._count = grow(self._count, size, 0)
        self._tail.ensure(size)

    def _step(self, k: IntArray, x: FloatArray, t: FloatArray) -> FloatArray:
        count = self._count[k]
        z, ready = self._profiles.deviation(k, x, t)
        up, _ = self._tail.excess(k, z, ready)
        self._count[k] = count + 1
        return np.where(count >= self.warmup, likelihood(self.level * up[:, 0]), 0.0)
