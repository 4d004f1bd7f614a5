"""Robust EWMA baseline: a Huber-clipped exponentially weighted mean and mean absolute deviation per series.

Clipping each update at `clip` deviations keeps a spike from dragging the baseline (the robustness of a
median/MAD estimate at the cost of an EWMA), while a lasting change is still learnt at a bounded speed.
The score also flags a sensor stuck at one value on a series that normally moves.
"""

from __future__ import annotations

import numpy as np

from edgeloop.learn.base import FloatArray, IntArray, Learner, grow, occurrence_rank

# A deviation of z MADs maps to z² / (z² + Z_HALF²): z=4 gives 0.5, z=8 gives 0.8, z=12 gives 0.9.
Z_HALF = 4.0
MAD_TO_SIGMA = 1.2533  # mean absolute deviation of a normal is sigma * sqrt(2/pi)


class RobustEWMA(Learner):
    """Per-series robust EWMA z-score, calibrated to [0, 1].

    >>> import numpy as np
    >>> learner = RobustEWMA(alpha=0.05, warmup=20)
    >>> rng = np.random.default_rng(0)
    >>> values = np.r_[10 + rng.normal(0, 1, 200), 30.0]
    >>> scores = learner.score_learn(np.zeros(201, dtype=np.int64), values, np.arange(201.0))
    >>> bool(scores[:20].max() == 0.0), bool(scores[-1] > 0.9)
    (True, True)
    """

    name = "robust_ewma"

    def __init__(
        self,
        alpha: float = 0.01,
        warmup: int = 60,
        clip: float = 3.0,
        stuck_after: int = 40,
        rel_floor: float = 1e-3,
    ) -> None:
        self.alpha = alpha
        self.warmup = warmup
        self.clip = clip
        self.stuck_after = stuck_after
        self.rel_floor = rel_floor
        self._mean = np.zeros(0, dtype=np.float64)
        self._dev = np.zeros(0, dtype=np.float64)
        self._last = np.zeros(0, dtype=np.float64)
        self._count = np.zeros(0, dtype=np.int64)
        self._same = np.zeros(0, dtype=np.int64)

    @property
    def n_series(self) -> int:
        return int(np.count_nonzero(self._count))

    def _ensure(self, size: int) -> None:
        self._mean = grow(self._mean, size, 0.0)
        self._dev = grow(self._dev, size, 0.0)
        self._last = grow(self._last, size, np.nan)
        self._count = grow(self._count, size, 0)
        self._same = grow(self._same, size, 0)

    def score_learn(self, keys: IntArray, values: FloatArray, ts: FloatArray) -> FloatArray:
        scores = np.zeros(keys.shape[0], dtype=np.float64)
        if keys.shape[0] == 0:
            return scores
        self._ensure(int(keys.max()) + 1)
        rank = occurrence_rank(keys)
        top = int(rank.max())
        for r in range(top + 1):
            idx = np.flatnonzero(rank == r) if top else np.arange(keys.shape[0])
            scores[idx] = self._step(keys[idx], values[idx])
        return scores

    def _step(self, k: IntArray, x: FloatArray) -> FloatArray:
        """Score then learn one point for each of the distinct series `k`."""
        mean, dev, count = self._mean[k], self._dev[k], self._count[k]
        scale = np.maximum(dev * MAD_TO_SIGMA, self.rel_floor * np.abs(mean) + 1e-9)
        z = np.abs(x - mean) / scale
        score = z * z / (z * z + Z_HALF * Z_HALF)
        same = np.where(x == self._last[k], self._same[k] + 1, 0)
        stuck = np.where((dev > self.rel_floor * np.abs(mean)) & (same >= self.stuck_after), 0.95, 0.0)
        warm = count >= self.warmup
        score = np.where(warm, np.maximum(score, stuck), 0.0)

        # warm-up learns fast and unclipped (alpha 1/n), then the clipped slow update takes over
        a = np.where(warm, self.alpha, 1.0 / (count + 1.0))
        err = x - mean
        limit = np.where(warm, self.clip * scale, np.inf)
        step = np.clip(err, -limit, limit)
        self._mean[k] = mean + a * step
        self._dev[k] = dev + a * (np.minimum(np.abs(err), limit) - dev)
        self._count[k] = count + 1
        self._same[k] = same
        self._last[k] = x
        return np.asarray(score, dtype=np.float64)
