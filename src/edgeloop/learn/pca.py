"""Device PCA: the metrics of one device judged together by an online principal component model, with
Hotelling's T² in the principal subspace and the squared prediction error (SPE, or Q) in the residual one.

It keeps `DeviceMahalanobis`'s state (per metric an exponentially weighted mean and variance, per device an
exponentially weighted covariance of the standardized metrics, rate `forget`) and differs in how a whole
device row is judged. The covariance's eigenvectors, largest variance first, split into the components that
explain `explained` of the variance (the principal subspace, a of them) and the rest. For the standardized row
v with scores t = Pᵀv:

    T² = Σ_{i <= a} t_i² / λ_i                  (a chi-square with a degrees of freedom when normal)
    Q  = Σ_{i > a} t_i² = |v - P_a P_aᵀ v|²     (about g · chi-square(h), g = θ2 / θ1, h = θ1² / θ2, θk = Σ_{i>a} λ_i^k:
                                                 Box's approximation, which Jackson and Mudholkar's limit rests on)

Both become normal deviates (Wilson-Hilferty) and the row's deviate is the larger: T² sees a move along the
usual directions of variation that went too far, Q a move the metrics never make together, such as current
rising while flow stays flat. Unlike the full Mahalanobis distance, Q does not divide by the small residual
variances, so a broken relation is not drowned by the noise of directions with almost no variance.

Points that do not complete a device row are scored on their own metric (the per-metric view); the device's
score in the agent is the highest of its points', so the per-metric and the device views are combined by a
maximum, and `Calibrated` gives each its own tail (docs/learners.md, "Device PCA"). With `whole_only`, such
points score 0 and only whole rows are judged (the device view alone, as classical PCA monitoring does).

The covariance is that of the metrics' deviations from their means, learnt with them and standardized to a
correlation matrix when a row is judged (`DeviceMahalanobis`, whose state and row loop this class shares).

**Commissioning.** With `learn_rows` = N (or `commission(N)`), each device learns its first N whole rows (its
normal model from a commissioning period, or a plant's training run) and then holds that model fixed: the
classical protocol of PCA monitoring (Russell, Chiang and Braatz 2000), where a model that keeps learning
would learn a lasting fault as normal. `restart(keys)` makes the devices of those keys learn afresh (a new
regime: a repair, an operator's `new_normal`).

>>> import numpy as np
>>> rng = np.random.default_rng(4)
>>> load = rng.normal(0, 1, 800)
>>> current, flow = load + rng.normal(0, 0.1, 800), load + rng.normal(0, 0.1, 800)
>>> current[-1] = load[-1] + 1.0                      # current up, flow flat: within each one's range
>>> keys, ts = np.tile([0, 1, 2], 800), np.repeat(np.arange(800.0), 3)
>>> values = np.column_stack([load, current, flow]).ravel()
>>> s = DevicePCA(groups=[0, 0, 0]).score_learn(keys, values, ts)
>>> bool(s[-1] > 0.9), bool(np.quantile(s[2:-3:3], 0.99) < 0.9)
(True, True)
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from edgeloop.learn.base import FloatArray
from edgeloop.learn.mahalanobis import DeviceMahalanobis, wilson_hilferty


class DevicePCA(DeviceMahalanobis):
    """Per-device online PCA: the larger of the T² and SPE (Q) deviates of each whole device row."""

    name = "device_pca"

    def __init__(
        self,
        forget: float = 0.005,
        warmup: int = 100,
        ridge: float = 0.01,
        z_clip: float = 10.0,
        level: float = 6.0,
        sync_s: float = 0.0,
        groups: Sequence[int] | None = None,
        explained: float = 0.8,
        learn_rows: int | None = None,
        whole_only: bool = False,
    ) -> None:
        self.explained = explained
        self.learn_rows = learn_rows
        self.whole_only = whole_only
        super().__init__(forget, warmup, ridge, z_clip, level, sync_s, groups)

    def commission(self, rows: int) -> None:
        """Learn each device's first `rows` whole rows as its normal model, then hold the model fixed."""
        if rows < 2:
            raise ValueError("a commissioning period has at least 2 rows")
        self.learn_rows = rows

    def _device_deviate(self, vec: FloatArray, cov: FloatArray, size: FloatArray) -> FloatArray:
        lam, vecs = np.linalg.eigh(cov + self.ridge * np.eye(self._dims))
        lam, vecs = lam[:, ::-1], vecs[:, :, ::-1]  # largest first
        real = np.arange(self._dims)[None, :] < size[:, None]  # a device with fewer metrics has padded slots
        lam_real = np.where(real, lam, 0.0)
        before = (np.cumsum(lam_real, axis=1) - lam_real) / lam_real.sum(axis=1, keepdims=True)
        principal = real & (before < self.explained)
        residual = real & ~principal
        t2_parts = np.einsum("nij,ni->nj", vecs, vec) ** 2
        a = np.maximum(principal.sum(axis=1), 1)
        t2 = np.sum(np.where(principal, t2_parts / lam, 0.0), axis=1)
        q = np.sum(np.where(residual, t2_parts, 0.0), axis=1)
        th1 = np.sum(np.where(residual, lam, 0.0), axis=1)
        th2 = np.sum(np.where(residual, lam * lam, 0.0), axis=1)
        has_rest = th2 > 0
        g = np.where(has_rest, th2 / np.where(has_rest, th1, 1.0), 1.0)
        h = np.where(has_rest, th1 * th1 / np.where(has_rest, th2, 1.0), 1.0)
        dev_q = np.where(has_rest, wilson_hilferty(q / g, h), -np.inf)
        return np.asarray(np.maximum(wilson_hilferty(t2, a), dev_q), dtype=np.float64)
