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

The covariance is that of the metrics' deviations from their means, x - m, learnt with the means (the
exponentially weighted form of Welford's recursion, C <- (1 - a)(C + a·d·dᵀ), which with a = 1/n is the exact
sample covariance), and standardized to a correlation matrix when a row is judged. (`DeviceMahalanobis`
learns the covariance of z-scores taken with each moment's means and variances, which overweights the first
rows, when the means and variances are not learnt yet: measured on Tennessee Eastman's training run, a
metric's variance in that matrix came out 2.4 times its true one.)

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
from typing import Any

import numpy as np

from edgeloop.learn.base import FloatArray, IntArray
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

    def __setstate__(self, state: dict[str, Any]) -> None:
        """A checkpoint pickled before 2026-12-07 kept the covariance of z-scores and z-scores as each device's
        latest row: both are put in deviations (times each metric's standard deviation), as this code keeps them."""
        if "learn_rows" not in state:
            state.update(learn_rows=None, whole_only=False)
            gid, slot, var = state["_gid"], state["_slot"], state["_var"]
            n = min(gid.shape[0], var.shape[0])
            sd = np.ones(state["_cov"].shape[:2], dtype=np.float64)
            if n and sd.size:
                sd[gid[:n], slot[:n]] = np.sqrt(np.maximum(var[:n], 0.0))
            state["_cov"] = state["_cov"] * sd[:, :, None] * sd[:, None, :]
            state["_vec"] = state["_vec"] * sd
        self.__dict__.update(state)

    def commission(self, rows: int) -> None:
        """Learn each device's first `rows` whole rows as its normal model, then hold the model fixed."""
        if rows < 2:
            raise ValueError("a commissioning period has at least 2 rows")
        self.learn_rows = rows

    def restart(self, keys: IntArray) -> None:
        """The devices of these keys learn afresh from their next points (a new regime)."""
        self._ensure(int(np.max(keys, initial=-1)) + 1)
        g = np.unique(self._gid[keys])
        mine = np.isin(self._gid[: self._count.shape[0]], g)
        self._count[mine], self._mean[mine], self._var[mine] = 0, 0.0, 0.0
        self._cov[g], self._seen[g] = 0.0, 0

    def frozen_rows(self, keys: IntArray) -> list[tuple[object, str, IntArray]]:
        """The normal model of the whole devices of these keys: a device that alarms stops learning all of its
        metrics, not only the one that alarmed (a fault's metric would otherwise be learnt by its own mean)."""
        g = np.unique(self._gid[keys])
        mine = np.flatnonzero(np.isin(self._gid[: self._count.shape[0]], g))
        return [*((self, name, mine) for name in ("_mean", "_var", "_count")), (self, "_cov", g), (self, "_seen", g)]

    def deviate(self, k: IntArray, x: FloatArray, t: FloatArray) -> tuple[FloatArray, np.ndarray]:
        """The device's T²/Q deviate for points that complete a row, the metric's own otherwise (0 and not ready
        with `whole_only`); then learn the points, unless their device's commissioning is over."""
        if self._n_declared == 0:
            return self._deviate_alone(k, x, t)
        g, slot, count = self._gid[k], self._slot[k], self._count[k]
        mean, var, cov, seen, size = self._mean[k], self._var[k], self._cov[g], self._seen[g], self._size[g]
        err = x - mean
        dev = np.where(count >= 1, err, 0.0)
        rows = np.arange(k.shape[0])
        vec, vec_ts = self._vec[g].copy(), self._vec_ts[g].copy()
        vec[rows, slot], vec_ts[rows, slot] = dev, t
        padded = np.arange(self._dims)[None, :] >= size[:, None]
        whole = np.all(padded | (np.abs(vec_ts - t[:, None]) <= self.sync_s), axis=1)
        sd1 = np.sqrt(var) + 1e-9 * (1.0 + np.abs(mean))
        z1 = np.where(count >= 2, np.clip(dev / sd1, -self.z_clip, self.z_clip), 0.0)
        deviate = wilson_hilferty(z1**2 / (1.0 + self.ridge), 1.0)
        if whole.any():
            c = cov[whole]
            sd = np.sqrt(np.einsum("nii->ni", c))
            live = sd > 0
            sd = np.where(live, sd, 1.0)
            z = np.where(live, np.clip(vec[whole] / sd, -self.z_clip, self.z_clip), 0.0)
            corr = np.where(live[:, :, None] & live[:, None, :], c / (sd[:, :, None] * sd[:, None, :]), 0.0)
            deviate[whole] = self._device_deviate(z, corr, size[whole])
        ready = (seen >= self.warmup) & (count >= 2) & (whole | (not self.whole_only))
        self._vec[g], self._vec_ts[g] = vec, vec_ts
        learn = seen < self.learn_rows if self.learn_rows is not None else np.ones(k.shape[0], dtype=bool)
        a = np.where(whole & learn, np.maximum(self.forget, 1.0 / (seen + 1.0)), 0.0)[:, None, None]
        self._cov[g] = (1.0 - a) * (cov + a * (vec[:, :, None] * vec[:, None, :]))
        self._seen[g] = seen + (whole & learn)
        ak = np.where(learn, np.maximum(self.forget, 1.0 / (count + 1.0)), 0.0)
        self._mean[k] = mean + ak * err
        self._var[k] = np.where(count >= 1, (1.0 - ak) * (var + ak * dev * dev), 0.0)
        self._count[k] = count + learn
        return np.asarray(deviate, dtype=np.float64), ready

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
