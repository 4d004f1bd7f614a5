"""Noise ratio: a series that got rougher than it usually is, whatever its level does.

Some faults show in the spread of a signal before its level moves: a cavitating pump's pressure and vibration
get broadband noise while its flow sinks too slowly for a level detector whose baseline follows the process (a
baseline slow enough to see the drift would also alarm on the daily swing). The level detectors here measure
deviations *in units of* the noise, so a rise of the noise hides from them; this learner watches the noise
itself.

Per series, two exponentially weighted means of the absolute successive difference |x(t) - x(t-1)|: a fast one
(half-life `fast` points) and a slow one (half-life `slow` points), the usual roughness. The surprise is the
ratio of the two past 1, in units of `level` - 1:

    r = fast / max(slow, rel_floor * |mean|)        u = max(r - 1, 0) / (level - 1)

so u = 1 (likelihood 0.9) when the series is `level` times rougher than usual. The slow mean learns at a tenth
of its rate while r >= `clip`, so a fault does not teach it that roughness is normal, while a lasting change
of the process is still learnt in the end. A series stuck at one value has r = 0 and is left to the level
detectors.

With `step_clip`, a difference counts at most `step_clip` times the usual roughness in the fast mean: a lone
sensor spike (a jump up and back of ten times the noise) then raises the fast mean for a moment instead of for
several half-lives, while a lasting rise of the noise up to that factor shows in full (Huber's clipping of an
outlier's influence; the agent's noise view uses 6, `catalog.NOISE_STEP_CLIP`).

With `point_s`, a point's weight is its time since the series' previous point in units of `point_s` (a device
sampled every 15 s or every minute then has the same memory in time); without it every point counts as one.

>>> import numpy as np
>>> rng = np.random.default_rng(3)
>>> x = 10 + rng.normal(0, 0.1, 600)
>>> x[500:] += rng.normal(0, 0.6, 100)                          # six times the usual noise from point 500
>>> s = NoiseRatio().score_learn(np.zeros(600, dtype=np.int64), x, np.arange(600.0))
>>> bool(s[:500].max() < 0.9), bool(s[520:].max() > 0.9)
(True, True)

A lone spike of fifty times the noise: fifteen points above 0.9 after it, none with `step_clip`:

>>> y = 10 + rng.normal(0, 0.1, 600)
>>> y[300] += 5.0
>>> [int((NoiseRatio(step_clip=c).score_learn(np.zeros(600, dtype=np.int64), y, np.arange(600.0)) >= 0.9).sum())
...  for c in (None, 6.0)]
[15, 0]
"""

from __future__ import annotations

import numpy as np

from edgeloop.learn.base import FloatArray, IntArray
from edgeloop.learn.calibrate import likelihood
from edgeloop.learn.stepwise import STEP_BLOCK, StepwiseLearner, grow


class NoiseRatio(StepwiseLearner):
    """Per-series ratio of recent to usual roughness (mean absolute successive difference)."""

    name = "noise_ratio"
    #: the usual roughness and level, frozen while a series is on hold (`calibrated.py`); the fast mean follows
    normal_state = ("_slow", "_mean")
    step_block = STEP_BLOCK  # a step reads each point's own series only

    def __init__(
        self,
        fast: float = 10.0,
        slow: float = 1000.0,
        level: float = 3.0,
        clip: float = 2.0,
        warmup: int = 120,
        rel_floor: float = 1e-4,
        point_s: float | None = None,
        step_clip: float | None = None,
    ) -> None:
        if not 0 < fast < slow:
            raise ValueError(f"half-lives must satisfy 0 < fast < slow, not fast={fast}, slow={slow}")
        if level <= 1 or clip <= 1:
            raise ValueError(f"level and clip are ratios above 1, not level={level}, clip={clip}")
        self.fast = fast
        self.slow = slow
        self.level = level
        self.clip = clip
        self.warmup = warmup
        self.rel_floor = rel_floor
        self.point_s = point_s
        self.step_clip = step_clip
        self._fast = np.zeros(0, dtype=np.float64)
        self._slow = np.zeros(0, dtype=np.float64)
        self._mean = np.zeros(0, dtype=np.float64)
        self._last = np.zeros(0, dtype=np.float64)
        self._last_ts = np.zeros(0, dtype=np.float64)
        self._count = np.zeros(0, dtype=np.int64)

    @property
    def n_series(self) -> int:
        return int(np.count_nonzero(self._count))

    def _ensure(self, size: int) -> None:
        self._fast = grow(self._fast, size, 0.0)
        self._slow = grow(self._slow, size, 0.0)
        self._mean = grow(self._mean, size, 0.0)
        self._last = grow(self._last, size, 0.0)
        self._last_ts = grow(self._last_ts, size, 0.0)
        self._count = grow(self._count, size, 0)

    def _rates(self, k: IntArray, t: FloatArray, count: IntArray) -> tuple[FloatArray, FloatArray]:
        """Each point's weight in the fast and slow means (1/n while a mean has seen few points)."""
        points = np.ones_like(t) if self.point_s is None else np.maximum(t - self._last_ts[k], 0.0) / self.point_s
        fast = 1.0 - 0.5 ** (points / self.fast)
        slow = 1.0 - 0.5 ** (points / self.slow)
        n = np.maximum(count, 1).astype(np.float64)  # differences seen so far, this one included
        return np.maximum(fast, 1.0 / n), np.maximum(slow, 1.0 / n)

    def _step(self, k: IntArray, x: FloatArray, t: FloatArray) -> FloatArray:
        count = self._count[k]
        step = np.abs(x - self._last[k])
        a_fast, a_slow = self._rates(k, t, count)
        usual = np.maximum(self._slow[k], self.rel_floor * np.abs(self._mean[k]) + 1e-12)
        seen = step  # what the fast mean takes: clipped after the warm-up, when the usual roughness is known
        if self.step_clip is not None:
            seen = np.where(count > self.warmup, np.minimum(step, self.step_clip * usual), step)
        fast = np.where(count >= 1, self._fast[k] + a_fast * (seen - self._fast[k]), 0.0)
        ratio = fast / usual
        u = np.maximum(ratio - 1.0, 0.0) / (self.level - 1.0)
        score = np.where(count > self.warmup, likelihood(u), 0.0)
        calm = (ratio < self.clip) | (count <= self.warmup)
        a_learn = np.where(calm, a_slow, a_slow / 10.0)
        self._slow[k] = np.where(count >= 1, self._slow[k] + a_learn * (step - self._slow[k]), 0.0)
        self._fast[k] = fast
        self._mean[k] = np.where(count == 0, x, self._mean[k] + a_slow * (x - self._mean[k]))
        self._last[k] = x
        self._last_ts[k] = t
        self._count[k] = count + 1
        return score
