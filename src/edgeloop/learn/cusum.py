"""Two-sided CUSUM: level shifts and drifts, found by accumulating small deviations from a slow baseline.

Per series, a baseline b (exponentially weighted mean, rate `alpha`) and a spread s (mean absolute deviation
from b, learnt from inliers only) standardize each point: z = (x - b) / (1.25 s), clipped to +-`z_clip` so one
spike cannot fill the sums alone. Page's cumulative sums then collect what exceeds the allowance `slack`:

    S+ = max(0, S+ + z - slack)        S- = max(0, S- - z - slack)

A shift of d spreads is found after about h / (d - slack) points; noise drains away at `slack` per point. When
max(S+, S-) passes the decision interval `h`, the detector alarms, restarts both sums at zero and re-anchors
the baseline on the recent level (a fast mean), so one change is reported once, as a short spike, and the next
change can be found. The score is `likelihood(max(S+, S-) / h)`: 0.9 at the decision interval.

>>> import numpy as np
>>> x = np.r_[np.random.default_rng(2).normal(0, 1, 300), np.random.default_rng(3).normal(2.5, 1, 100)]
>>> s = Cusum().score_learn(np.zeros(400, dtype=np.int64), x, np.arange(400.0))
>>> bool(s[:300].max() < 0.9), 300 <= int(np.argmax(s >= 0.9)) < 320
(True, True)
"""

from __future__ import annotations

import numpy as np

from edgeloop.learn.base import FloatArray, IntArray
from edgeloop.learn.calibrate import likelihood
from edgeloop.learn.stepwise import StepwiseLearner, grow

# mean absolute deviation to standard deviation for a normal distribution: sqrt(pi / 2)
MAD_TO_SIGMA = 1.2533


class Cusum(StepwiseLearner):
    """Per-series two-sided CUSUM with alarm, restart and re-anchoring."""

    name = "cusum"

    def __init__(
        self,
        alpha: float = 0.01,
        slack: float = 0.5,
        h: float = 12.0,
        z_clip: float = 4.0,
        fast_alpha: float = 0.2,
        warmup: int = 60,
        rel_floor: float = 1e-3,
    ) -> None:
        self.alpha = alpha
        self.slack = slack
        self.h = h
        self.z_clip = z_clip
        self.fast_alpha = fast_alpha
        self.warmup = warmup
        self.rel_floor = rel_floor
        self._base = np.zeros(0, dtype=np.float64)
        self._spread = np.zeros(0, dtype=np.float64)
        self._fast = np.zeros(0, dtype=np.float64)
        self._up = np.zeros(0, dtype=np.float64)
        self._down = np.zeros(0, dtype=np.float64)
        self._count = np.zeros(0, dtype=np.int64)

    @property
    def n_series(self) -> int:
        return int(np.count_nonzero(self._count))

    def _ensure(self, size: int) -> None:
        for name in ("_base", "_spread", "_fast", "_up", "_down"):
            setattr(self, name, grow(getattr(self, name), size, 0.0))
        self._count = grow(self._count, size, 0)

    def _step(self, k: IntArray, x: FloatArray, t: FloatArray) -> FloatArray:
        up, down, warm = self.sums(k, x, t)
        return np.where(warm, likelihood(np.maximum(up, down) / self.h), 0.0)

    def sums(self, k: IntArray, x: FloatArray, t: FloatArray) -> tuple[FloatArray, FloatArray, np.ndarray]:
        """S+ and S- after each point (before an alarm's restart) and whether the series is warm; then learn."""
        count, base, spread = self._count[k], self._base[k], self._spread[k]
        warm = count >= self.warmup
        scale = MAD_TO_SIGMA * np.maximum(spread, self.rel_floor * np.abs(base)) + 1e-12
        z = np.clip((x - base) / scale, -self.z_clip, self.z_clip)
        up = np.where(warm, np.maximum(0.0, self._up[k] + z - self.slack), 0.0)
        down = np.where(warm, np.maximum(0.0, self._down[k] - z - self.slack), 0.0)
        stat = np.maximum(up, down)
        alarm = stat > self.h

        fast = np.where(count == 0, x, self._fast[k] + self.fast_alpha * (x - self._fast[k]))
        a = np.where(warm, self.alpha, 1.0 / (count + 1.0))
        new_base = np.where(count == 0, x, base + a * (x - base))
        inlier = ~warm | (np.abs(z) < 3.0)
        a_spread = np.where(warm, self.alpha, 1.0 / np.maximum(count, 1.0))
        new_spread = np.where(inlier & (count > 0), spread + a_spread * (np.abs(x - base) - spread), spread)
        self._base[k] = np.where(alarm, fast, new_base)
        self._spread[k] = new_spread
        self._fast[k] = fast
        self._up[k] = np.where(alarm, 0.0, up)
        self._down[k] = np.where(alarm, 0.0, down)
        self._count[k] = count + 1
        return up, down, warm
