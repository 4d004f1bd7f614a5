"""From raw statistics to anomaly likelihoods that mean the same on every series.

Two calibrations, both online and per series:

- `RecordTail`, an extreme-value tail: each statistic is compared with the highest and lowest values it took
  over a sliding memory (`blocks` blocks of `block` points, so a value is forgotten between
  `(blocks - 1) * block` and `blocks * block` points later). Inside that range its empirical tail probability
  is not small and the excess is 0; beyond it, the excess is the distance past the record in units of the
  range. A value no recent point came near is what an operator calls an anomaly; how far past the record it
  lies ranks the anomalies of all series on one scale, whatever their units and noise.
- `log10_normal_tail`, the parametric tail Numenta's anomaly likelihood uses (a Gaussian fitted to recent
  raw scores), for statistics with a known null distribution (a CUSUM sum, a Mahalanobis distance).

`likelihood` maps a surprise u >= 0 (u = 1 at a learner's detection level) to 9u / (9u + 1): 0.9 at the
detection level, strictly increasing and never exactly 1, so a threshold can always separate two scores.

>>> tail = RecordTail(block=[4], blocks=2, warmup=3)
>>> tail.ensure(1)
>>> ups = [tail.excess(np.array([0]), np.array([[v]]), np.array([[True]]))[0][0, 0] for v in (1, 3, 2, 2, 5)]
>>> [round(float(u), 3) for u in ups]
[0.0, 0.0, 0.0, 0.0, 1.0]
>>> float(likelihood(np.array(1.0)))
0.9
>>> round(float(log10_normal_tail(np.array(3.0))), 2)  # P(Z > 3) = 1.35e-3
-2.87
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from edgeloop.learn.base import FloatArray, IntArray
from edgeloop.learn.stepwise import grow_rows

BoolArray = np.ndarray[tuple[int, ...], np.dtype[np.bool_]]

_LOG10_SQRT_2PI = float(np.log10(np.sqrt(2.0 * np.pi)))
_LOG10_E = float(np.log10(np.e))


def likelihood(u: FloatArray) -> FloatArray:
    """Surprise u >= 0 (1 = the detection level) to a likelihood in [0, 1): 9u / (9u + 1)."""
    u = np.maximum(u, 0.0)
    return np.asarray(9.0 * u / (9.0 * u + 1.0), dtype=np.float64)


def log10_normal_tail(z: FloatArray) -> FloatArray:
    """log10 P(Z > z) for a standard normal Z, accurate to 0.3 % in relative terms for every z.

    Börjesson and Sundberg's approximation Q(z) ~ phi(z) / (0.661 z + 0.339 sqrt(z² + 5.51)) for z >= 0; it
    stays finite where 1 - Phi(z) underflows, so a far tail is never a saturated score. For z < 0, the
    complement is computed from the same formula.
    """
    z = np.asarray(z, dtype=np.float64)
    a = np.abs(z)
    log_q = -0.5 * a * a * _LOG10_E - _LOG10_SQRT_2PI - np.log10(0.661 * a + 0.339 * np.sqrt(a * a + 5.51))
    return np.asarray(np.where(z >= 0, log_q, np.log10(-np.expm1(log_q / _LOG10_E))), dtype=np.float64)


class RecordTail:
    """Per series and statistic: how far a value lies beyond the highest and lowest of the recent memory.

    `block` gives each statistic its block length (points), all with `blocks` blocks. A statistic reports
    excesses once it has learnt `warmup` values. Values where `ok` is False (a statistic not yet defined) are
    neither scored nor learnt.

    The memory is the current, partial block and the `blocks - 1` blocks before it. The extremes of the
    completed blocks are kept folded (`_rest_*`) and refreshed only when a block completes, so a point costs
    the same whatever `blocks` is.
    """

    def __init__(self, block: Sequence[int], blocks: int = 8, warmup: int = 10, rel_floor: float = 1e-6) -> None:
        self.block = np.asarray(block, dtype=np.int64)
        self.blocks = blocks
        self.warmup = warmup
        self.rel_floor = rel_floor
        n_stats = self.block.shape[0]
        self._hi = np.zeros((0, n_stats, blocks), dtype=np.float64)  # completed blocks, by slot
        self._lo = np.zeros((0, n_stats, blocks), dtype=np.float64)
        self._rest_hi = np.zeros((0, n_stats), dtype=np.float64)  # over the completed blocks in memory
        self._rest_lo = np.zeros((0, n_stats), dtype=np.float64)
        self._cur_hi = np.zeros((0, n_stats), dtype=np.float64)  # over the current block
        self._cur_lo = np.zeros((0, n_stats), dtype=np.float64)
        self._seen = np.zeros((0, n_stats), dtype=np.int64)

    def ensure(self, size: int) -> None:
        for name, fill in (("_hi", -np.inf), ("_rest_hi", -np.inf), ("_cur_hi", -np.inf)):
            setattr(self, name, grow_rows(getattr(self, name), size, fill))
        for name, fill in (("_lo", np.inf), ("_rest_lo", np.inf), ("_cur_lo", np.inf)):
            setattr(self, name, grow_rows(getattr(self, name), size, fill))
        self._seen = grow_rows(self._seen, size, 0)

    def excess(self, k: IntArray, values: FloatArray, ok: BoolArray) -> tuple[FloatArray, FloatArray]:
        """Excess above the record high and below the record low, shape (points, statistics); then learn."""
        cur_hi, cur_lo, seen = self._cur_hi[k], self._cur_lo[k], self._seen[k]
        hi = np.maximum(self._rest_hi[k], cur_hi)
        lo = np.minimum(self._rest_lo[k], cur_lo)
        ok = ok & np.isfinite(values)
        ready = ok & (seen >= self.warmup)
        span = np.where(ready, hi - lo, 1.0)
        span = np.maximum(span, self.rel_floor * np.maximum(np.abs(hi), np.abs(lo)) + 1e-12)
        up = np.where(ready, np.maximum(values - hi, 0.0), 0.0) / span
        down = np.where(ready, np.maximum(lo - values, 0.0), 0.0) / span

        fresh = ok & (seen % self.block == 0)
        self._cur_hi[k] = np.where(fresh, values, np.where(ok, np.maximum(cur_hi, values), cur_hi))
        self._cur_lo[k] = np.where(fresh, values, np.where(ok, np.minimum(cur_lo, values), cur_lo))
        self._seen[k] = seen + ok
        if fresh.any():
            self._roll(k, fresh, seen, cur_hi, cur_lo)
        return np.asarray(up, dtype=np.float64), np.asarray(down, dtype=np.float64)

    def _roll(self, k: IntArray, fresh: BoolArray, seen: IntArray, cur_hi: FloatArray, cur_lo: FloatArray) -> None:
        """A block completed before these values: file it, drop the oldest, refold the completed ones."""
        i, s = np.nonzero(fresh & (seen > 0))
        if i.size == 0:
            return
        key, n_block = k[i], seen[i, s] // self.block[s]
        done, new = (n_block - 1) % self.blocks, n_block % self.blocks
        self._hi[key, s, done] = cur_hi[i, s]
        self._lo[key, s, done] = cur_lo[i, s]
        hi, lo = self._hi[key, s], self._lo[key, s]  # (m, blocks)
        dropped = np.arange(self.blocks)[None, :] == new[:, None]
        self._rest_hi[key, s] = np.where(dropped, -np.inf, hi).max(axis=1)
        self._rest_lo[key, s] = np.where(dropped, np.inf, lo).min(axis=1)
