"""Streaming peaks-over-threshold: a raw score's tail probability under the series' own recent behaviour.

The method is SPOT / DSPOT (Siffer, Fouque, Termier, Largouët, "Anomaly detection in streams with extreme
value theory", KDD 2017): the excesses of a statistic over a high threshold t follow, by the
Pickands-Balkema-de Haan theorem, a generalized Pareto law GPD(γ, σ), whatever the statistic's own law, so

    P(U > u) = (1 - q) · (1 + γ (u - t) / σ) ^ (-1/γ)        for u >= t, t the q-quantile of U.

What differs from the paper, so that it runs vectorized over thousands of series at O(1) cost and a few
floats of state per series:

- t is the q-quantile tracked by stochastic approximation (Robbins-Monro), with a step in units of the
  series' own spread, instead of a quantile of an initial batch kept fixed;
- γ and σ come from the method of moments on exponentially weighted first and second moments of the excesses
  (Hosking and Wallis 1987), instead of Grimshaw's maximum likelihood over stored peaks; the weights forget
  with a memory of `window` excesses, which is what DSPOT's drift does with a moving window;
- below t, a second tracked quantile t0 (at `q_body`, 0.9) anchors the body: between t0 and t the log of the
  probability is interpolated linearly in u (exact at both quantiles), and below t0 it goes on with the same
  slope, so it is monotone and continuous. Extrapolated with the excesses' own scale instead, as before, the
  body of a heavy-tailed series scored far too high (NAB: 3.4 times the nominal exceedance at τ = 0.9 with the
  tail fitted over the 98% quantile).

The statistic learnt undoes the map a learner used to squeeze its surprise into [0, 1), so that the tail fitted
is that of the surprise itself: with `odds`, u = raw / (1 - raw), which is 9 times the surprise of a
`likelihood` score (surprises of Gaussian-tail and chi-square statistics have near-exponential tails, γ near 0);
otherwise u = -ln(1 - raw), which is z² / 18 of the robust EWMA's 1 - exp(-z² / 18). The wrong one costs:
measured on AR(1) noise, the odds of the EWMA's score have too heavy a tail for the moments (2.5 times the
nominal exceedance at τ = 0.999), the logarithm of a likelihood too light a one (0.2 times).

>>> import numpy as np
>>> tail = SpotTail(warmup=200)
>>> tail.ensure(1)
>>> raw = np.random.default_rng(0).uniform(0, 1, 20_000)
>>> k = np.zeros(1, dtype=np.int64)
>>> p = np.array([tail.tail(k, raw[i : i + 1], np.ones(1, dtype=bool))[0] for i in range(raw.shape[0])])
>>> [round(float(np.mean(p[2000:] < a)), 3) for a in (0.1, 0.01)]
[0.1, 0.01]
"""

from __future__ import annotations

from typing import Any

import numpy as np

from edgeloop.learn.base import FloatArray, IntArray, grow

BoolArray = np.ndarray[tuple[int, ...], np.dtype[np.bool_]]

_TINY = 1e-12
_STATE = ("_t", "_mean", "_mad", "_m1", "_m2")  # a series' calibration, as `prior.TailPrior` orders it
LOW_GAMMA = -0.45
#: the quantile that anchors the body below the tail's threshold (see the module's docstring)
Q_BODY = 0.9


class SpotTail:
    """Per series: the tracked q-quantile of u and a GPD fitted to the excesses above it.

    `tail(k, raw, learn)` gives each point's tail probability (1 before `warmup` points) and learns the points
    where `learn` is True and 1 - p < `learn_below`. Points of `k` must be distinct series (one vectorized step).
    """

    def __init__(
        self,
        q: float = 0.9,
        warmup: int = 200,
        window: int = 200,
        gain: float = 0.02,
        odds: bool = False,
        q_body: float = Q_BODY,
    ) -> None:
        if not 0.5 <= q < 1:
            raise ValueError(f"q is a high quantile in [0.5, 1), not {q}")
        self.q = q
        self.q_body = min(q_body, q)
        self.warmup = warmup
        self.window = window
        self.gain = gain
        self.odds = odds
        self._n = np.zeros(0, dtype=np.int64)
        self._t = np.zeros(0, dtype=np.float64)  # the tracked q-quantile of u
        self._mean = np.zeros(0, dtype=np.float64)  # EW mean and mean absolute deviation of u: the step's unit
        self._mad = np.zeros(0, dtype=np.float64)
        self._ne = np.zeros(0, dtype=np.int64)  # excesses learnt
        self._m1 = np.zeros(0, dtype=np.float64)  # EW moments of the excesses
        self._m2 = np.zeros(0, dtype=np.float64)
        self._t0 = np.zeros(0, dtype=np.float64)  # the tracked `q_body`-quantile of u: the body's anchor

    def __setstate__(self, state: dict[str, Any]) -> None:  # a checkpoint pickled before the body's quantile
        state.setdefault("q_body", state["q"])
        state.setdefault("_t0", np.full(state["_t"].shape, np.nan))
        self.__dict__.update(state)

    def ensure(self, size: int) -> None:
        for name in ("_n", "_ne"):
            setattr(self, name, grow(getattr(self, name), size, 0))
        for name in _STATE:
            setattr(self, name, grow(getattr(self, name), size, 0.0))
        self._t0 = grow(self._t0, size, 0.0)

    def forget(self, k: IntArray) -> None:
        """Start these series over (a re-base to a regime whose scores are not those learnt)."""
        for name in ("_n", "_ne", "_t0", *_STATE):
            getattr(self, name)[k] = 0

    def stats(self, k: IntArray) -> FloatArray:
        """Each series' calibration as rows of `prior.TailPrior` (t, mean, mad, m1, m2); NaN where the series has
        not finished its warm-up or has fewer than 2 excesses."""
        rows = np.stack([getattr(self, name)[k] for name in _STATE], axis=1).astype(np.float64)
        rows[(self._n[k] < self.warmup) | (self._ne[k] < 2)] = np.nan
        return rows

    def start(self, k: IntArray, rows: FloatArray, excesses: int) -> None:
        """Start these series calibrated, from `rows` (as `stats` gives them), weighing as `excesses` excesses."""
        for j, name in enumerate(_STATE):
            getattr(self, name)[k] = rows[:, j]
        self._n[k] = self.warmup
        self._ne[k] = excesses
        _, sigma = _gpd(rows[:, 3], rows[:, 4])  # the body's quantile where the tail's scale puts it
        self._t0[k] = rows[:, 0] - sigma * np.log((1.0 - self.q_body) / (1.0 - self.q))

    def seen(self, k: IntArray) -> IntArray:
        return np.asarray(self._n[k], dtype=np.int64)

    def tail(self, k: IntArray, raw: FloatArray, learn: BoolArray, learn_below: float = 1.0) -> FloatArray:
        r = np.clip(np.nan_to_num(raw, nan=0.0), 0.0, 1.0 - 1e-15)
        u = r / (1.0 - r) if self.odds else -np.log1p(-r)
        n, t, ne = self._n[k], self._t[k], self._ne[k]
        m1, m2 = self._m1[k], self._m2[k]
        gamma, sigma = _gpd(m1, m2)
        y = u - t
        z = np.maximum(1.0 + gamma * y / sigma, 0.0)
        small = np.abs(gamma) < 1e-6
        log_pareto = np.where(small, -y / sigma, -np.log(np.maximum(z, 1e-300)) / np.where(small, 1.0, gamma))
        t0 = self._t0[k]
        span = t - t0
        body = (span > _TINY) & np.isfinite(span) & (self.q_body < self.q)  # log p linear in u through t0
        slope = np.where(body, np.log((1.0 - self.q_body) / (1.0 - self.q)) / np.where(body, span, 1.0), 1 / sigma)
        log_p = np.log1p(-self.q) + np.where(y >= 0, np.where(z > 0, log_pareto, -np.inf), -y * slope)
        ready = (n >= self.warmup) & (ne >= 2) & (m1 > 0)
        p = np.where(ready, np.exp(np.minimum(log_p, 0.0)), 1.0)

        learn = learn & (1.0 - p < learn_below)
        # learn: the quantile by stochastic approximation, the excess moments by exponential weights
        first = n == 0
        a = np.maximum(1.0 / (n + 1.0), 1.0 / (self.window / (1.0 - self.q)))
        mean = np.where(first, u, self._mean[k] + a * (u - self._mean[k]))
        mad = np.where(first, 0.0, self._mad[k] + a * (np.abs(u - mean) - self._mad[k]))
        step = np.maximum(self.gain, 1.0 / (n + 1.0)) * np.maximum(mad, _TINY) / (1.0 - self.q)
        new_t = np.where(first, u, t + step * ((u > t) - (1.0 - self.q)))
        step0 = np.maximum(self.gain, 1.0 / (n + 1.0)) * np.maximum(mad, _TINY) / (1.0 - self.q_body)
        new_t0 = np.where(first | np.isnan(t0), u, t0 + step0 * ((u > t0) - (1.0 - self.q_body)))
        # while warming up, t starts at the first value and the step is large: it sweeps towards the quantile
        over = learn & (u > t) & ~first
        ex = np.where(over, u - t, 0.0)
        b = np.maximum(1.0 / (ne + 1.0), 1.0 / self.window)
        self._m1[k] = np.where(over, m1 + b * (ex - m1), m1)
        self._m2[k] = np.where(over, m2 + b * (ex * ex - m2), m2)
        self._ne[k] = ne + over
        self._t[k] = np.where(learn, new_t, t)
        self._t0[k] = np.where(learn, new_t0, t0)
        self._mean[k] = np.where(learn, mean, self._mean[k])
        self._mad[k] = np.where(learn, mad, self._mad[k])
        self._n[k] = n + learn
        return np.asarray(p, dtype=np.float64)


def _gpd(m1: FloatArray, m2: FloatArray) -> tuple[FloatArray, FloatArray]:
    """The shape γ and scale σ of the excesses' GPD from their first two moments (method of moments)."""
    ratio = m1 * m1 / np.maximum(m2 - m1 * m1, _TINY)
    return np.clip(0.5 * (1.0 - ratio), LOW_GAMMA, 0.45), np.maximum(0.5 * m1 * (ratio + 1.0), _TINY)
