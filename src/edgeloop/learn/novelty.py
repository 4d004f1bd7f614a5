"""Range novelty: a value, or a short average of values, beyond anything the series did in its recent memory.

Two statistics per series, the value x and its exponentially weighted mean over about 1/`alpha` points, go
through a `RecordTail` (the highest and lowest of each over the last `blocks * block` points). The surprise is
the larger excess past a record, in units of the record range, times `level`:

    u = level * max over {x, mean} of max(v - high, low - v, 0) / (high - low)

A spike or a level never seen before scores at once; a level that comes back often is inside the range and
does not; an extreme is forgotten after at most `blocks * block` points, so a series that settled down can be
surprised again by what was once normal. No distribution is assumed, which suits counts, rates and bounded
percentages alike.

>>> import numpy as np
>>> x = np.r_[np.random.default_rng(1).normal(50, 2, 400), 58.0]
>>> s = RangeNovelty().score_learn(np.zeros(401, dtype=np.int64), x, np.arange(401.0))
>>> bool(s[-1] > 0.9), bool(s[:-1].max() < s[-1])
(True, True)
"""

from __future__ import annotations

import numpy as np

from edgeloop.learn.base import FloatArray, IntArray
from edgeloop.learn.calibrate import RecordTail, likelihood
from edgeloop.learn.stepwise import StepwiseLearner, grow


class RangeNovelty(StepwiseLearner):
    """Per-series record tail of the value and of its short mean."""

    name = "range_novelty"

    def __init__(
        self, alpha: float = 0.1, warmup: int = 150, block: int = 1000, blocks: int = 8, level: float = 200.0
    ) -> None:
        self.alpha = alpha
        self.warmup = warmup
        self.block = block
        self.blocks = blocks
        self.level = level
        self._mean = np.zeros(0, dtype=np.float64)
        self._count = np.zeros(0, dtype=np.int64)
        self._tail = RecordTail([block, block], blocks)

    @property
    def n_series(self) -> int:
        return int(np.count_nonzero(self._count))

    def _ensure(self, size: int) -> None:
        self._mean = grow(self._mean, size, 0.0)
        self._count = grow(self._count, size, 0)
        self._tail.ensure(size)

    def _step(self, k: IntArray, x: FloatArray, t: FloatArray) -> FloatArray:
        count = self._count[k]
        mean = np.where(count == 0, x, self._mean[k] + self.alpha * (x - self._mean[k]))
        ok = np.stack([np.ones(k.shape[0], dtype=bool), count * self.alpha >= 1.0], axis=1)
        up, down = self._tail.excess(k, np.stack([x, mean], axis=1), ok)
        self._mean[k] = mean
        self._count[k] = count + 1
        u = self.level * np.maximum(up, down).max(axis=1)
        return np.where(count >= self.warmup, likelihood(u), 0.0)
