"""Robust EWMA baseline: a Huber-clipped exponentially weighted mean and mean absolute deviation per series.

The noise scale is an EWMA of the absolute successive difference |x(t) - x(t-1)| / sqrt(2): measurement noise
shows in it, a slow trend does not. (A deviation-from-the-mean scale grows along a developing fault's ramp,
since every lagging error looks like an inlier, until the fault is measured against itself.)

A point within `clip` sigmas updates the mean and the scale; a point beyond it moves the mean by at most `clip`
sigmas at `outlier_rate` (by default a quarter) of the rate and leaves the scale alone: a spike barely moves the
baseline (the robustness of a median/MAD estimate at the cost of an EWMA) while a lasting change is still learnt
at a bounded speed. That bound must exceed the steepest normal slope of the series, or the baseline falls behind
it and alarms on it.
The score also flags a sensor stuck at one value on a series that normally moves.

Memory is `alpha` per point by default (for series whose rows are the unit, as in NAB). With `half_life_s` it
is set in time instead: each point weighs 1 - 0.5^(dt / half_life_s), dt the time since the series' previous
point, so the same learner behaves the same on a device sampled every 15 s or every minute.

With `reanchor_s`, a series that has stayed beyond `clip` sigmas for that long (in its own time) is taken to
have moved to a new level: its mean jumps to the latest value. Without it, a baseline learnt during a transient
(a machine warming up after a stop) creeps toward the true level at the outlier rate for hours, alarming all the
while. A developing fault alarms long before (`sustain` samples), so re-anchoring does not hide it.

With `beta` > 0 the baseline also learns a local trend (Holt's linear method in error-correction form): the
prediction is mean + trend x dt, and the noise scale uses successive differences less the trend's step. A level
alone lags a smooth daily swing by about 1/alpha points, which on a low-noise series reads as an anomaly.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from edgeloop.learn.base import FloatArray, IntArray, Learner, grow, occurrence_rank
from edgeloop.learn.prior import SeriesPrior, SeriesStats
from edgeloop.learn.stepwise import in_blocks

# A deviation of z robust sigmas maps to 1 - exp(-z² / (2 Z_SCALE²)): z=3 gives 0.39, z=5 0.75, z=6.4 0.9.
Z_SCALE = 3.0
# mean |difference| of two independent normal draws is 2 sigma / sqrt(pi): sigma = that * sqrt(pi) / 2
DIFF_TO_SIGMA = 0.8862


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
    #: the per-key arrays that make the normal model, frozen while a series is on hold (`calibrated.py`); the
    #: rest (last value and time, stuck count) follows the data even then
    normal_state = ("_mean", "_dev", "_trend", "_out_since", "_count")
    score_form = "gaussian"

    def __init__(
        self,
        alpha: float = 0.04,
        warmup: int = 60,
        clip: float = 3.0,
        stuck_after: int = 40,
        rel_floor: float = 1e-3,
        half_life_s: float | None = None,
        beta: float = 0.0,
        reanchor_s: float | None = None,
        outlier_rate: float = 0.25,
    ) -> None:
        self.alpha = alpha
        self.warmup = warmup
        self.clip = clip
        self.stuck_after = stuck_after
        self.rel_floor = rel_floor
        self.half_life_s = half_life_s
        self.beta = beta
        self.reanchor_s = reanchor_s
        self.outlier_rate = outlier_rate
        self._out_since = np.zeros(0, dtype=np.float64)  # time the current run of outliers began (nan: none)
        self._trend = np.zeros(0, dtype=np.float64)
        self._mean = np.zeros(0, dtype=np.float64)
        self._dev = np.zeros(0, dtype=np.float64)
        self._last = np.zeros(0, dtype=np.float64)
        self._last_ts = np.zeros(0, dtype=np.float64)
        self._count = np.zeros(0, dtype=np.int64)
        self._same = np.zeros(0, dtype=np.int64)
        self._seed_abs = np.zeros(0, dtype=np.float64)  # a seeded series' prior sigma (nan: not seeded) ...
        self._seed_rel = np.zeros(0, dtype=np.float64)  # ... plus this much of its first value's magnitude

    @property
    def n_series(self) -> int:
        return int(np.count_nonzero(self._count))

    def _ensure(self, size: int) -> None:
        self._mean = grow(self._mean, size, 0.0)
        self._dev = grow(self._dev, size, 0.0)
        self._last = grow(self._last, size, np.nan)
        self._last_ts = grow(self._last_ts, size, np.nan)
        self._trend = grow(self._trend, size, 0.0)
        self._out_since = grow(self._out_since, size, np.nan)
        self._count = grow(self._count, size, 0)
        self._same = grow(self._same, size, 0)
        self._seed_abs = grow(self._seed_abs, size, np.nan)
        self._seed_rel = grow(self._seed_rel, size, 0.0)

    def summarize(self, keys: IntArray) -> SeriesStats:
        """Each key's level, noise sigma and points seen (the prior protocol, `edgeloop.learn.prior`)."""
        self._ensure(int(keys.max(initial=-1)) + 1)
        return SeriesStats(self._mean[keys].copy(), self._dev[keys] * DIFF_TO_SIGMA, self._count[keys].copy())

    def seed(self, keys: IntArray, priors: Sequence[SeriesPrior]) -> None:
        """Start unseen keys from a prior: the first point sets the level, the prior the noise scale, and the
        series scores from its second point on (instead of after `warmup` points).

        >>> import numpy as np
        >>> learner = RobustEWMA(warmup=60)
        >>> learner.seed(np.array([0]), [SeriesPrior(10.0, 1.0, 0.1, False, 5)])
        >>> s = learner.score_learn(np.zeros(3, dtype=np.int64), np.array([10.0, 10.5, 30.0]), np.arange(3.0))
        >>> float(s[0]), bool(s[1] < 0.1), bool(s[2] > 0.9)
        (0.0, True, True)
        """
        if len(priors) != keys.shape[0]:
            raise ValueError(f"{keys.shape[0]} keys but {len(priors)} priors")
        self._ensure(int(keys.max(initial=-1)) + 1)
        fresh = self._count[keys] == 0
        k = keys[fresh]
        chosen = [p for p, f in zip(priors, fresh.tolist(), strict=True) if f]
        self._seed_abs[k] = [0.0 if p.relative else p.scale for p in chosen]
        self._seed_rel[k] = [p.rel_scale if p.relative else 0.0 for p in chosen]

    def score_learn(self, keys: IntArray, values: FloatArray, ts: FloatArray) -> FloatArray:
        scores = np.zeros(keys.shape[0], dtype=np.float64)
        if keys.shape[0] == 0:
            return scores
        self._ensure(int(keys.max()) + 1)
        rank = occurrence_rank(keys)
        top = int(rank.max())
        for r in range(top + 1):
            idx = np.flatnonzero(rank == r) if top else np.arange(keys.shape[0])
            scores[idx] = in_blocks(self._step, keys[idx], values[idx], ts[idx])  # each point its own series
        return scores

    def _alpha(self, dt: FloatArray | float) -> FloatArray | float:
        """The learning rate of a step `dt` seconds after the series' last point (fixed without a half-life)."""
        if self.half_life_s is None:
            return self.alpha
        return np.asarray(-np.expm1(np.log(0.5) * np.maximum(dt, 0.0) / self.half_life_s), dtype=np.float64)

    def _step(self, k: IntArray, x: FloatArray, t: FloatArray) -> FloatArray:
        """Score then learn one point for each of the distinct series `k`."""
        mean, dev, count, last, trend = self._mean[k], self._dev[k], self._count[k], self._last[k], self._trend[k]
        dt = np.nan_to_num(t - self._last_ts[k], nan=0.0) if self.half_life_s is not None else 1.0
        drift = trend * dt
        pred = mean + drift
        floor = self.rel_floor * np.abs(mean)
        scale = np.maximum(dev * DIFF_TO_SIGMA, floor + 1e-9)
        z = np.abs(x - pred) / scale
        score = -np.expm1(-0.5 * (z / Z_SCALE) ** 2)
        same = np.where(x == last, self._same[k] + 1, 0)
        stuck = np.where((dev > floor) & (same >= self.stuck_after), 0.95, 0.0)
        warm = count >= self.warmup
        score = np.where(warm, np.maximum(score, stuck), 0.0)

        # warm-up learns fast and unclipped (alpha 1/n); then outliers only nudge the mean
        err = x - pred
        inlier = ~warm | (z <= self.clip)
        alpha = self._alpha(dt)
        a = np.where(warm, np.where(inlier, alpha, self.outlier_rate * alpha), 1.0 / (count + 1.0))
        limit = np.where(warm, self.clip * scale, np.inf)
        correction = a * np.clip(err, -limit, limit)
        new_mean = np.where(warm, pred, mean) + correction
        if self.reanchor_s is not None:
            out_since = self._out_since[k]
            since = np.where(inlier, np.nan, np.where(np.isnan(out_since), t, out_since))
            moved = t - since >= self.reanchor_s  # False where since is nan
            new_mean = np.where(moved, x, new_mean)
            self._out_since[k] = np.where(moved, np.nan, since)
        self._mean[k] = new_mean
        if self.beta:
            slope = np.divide(correction, dt, out=np.zeros_like(correction), where=dt > 0)
            self._trend[k] = np.where(warm, trend + self.beta * slope, 0.0)
        step = np.abs(x - last - drift)
        first = np.isnan(step)
        a_dev = np.where(warm, alpha, 1.0 / np.maximum(count, 1.0))
        self._dev[k] = np.where(inlier & ~first, dev + a_dev * (np.where(first, 0.0, step) - dev), dev)
        self._count[k] = count + 1
        seeded = (count == 0) & ~np.isnan(self._seed_abs[k])
        if seeded.any():  # a seeded series is warm after its first point: its level is that point
            s, first_x = k[seeded], x[seeded]
            sigma = self._seed_abs[s] + self._seed_rel[s] * np.abs(first_x)
            ok = sigma > 0  # a relative scale at a level of 0 says nothing: that series warms up as usual
            self._mean[s[ok]] = first_x[ok]
            self._dev[s[ok]] = sigma[ok] / DIFF_TO_SIGMA
            self._count[s[ok]] = max(self.warmup, 1)
            self._seed_abs[s] = np.nan
        self._same[k] = same
        self._last[k] = x
        self._last_ts[k] = t
        return np.asarray(score, dtype=np.float64)
