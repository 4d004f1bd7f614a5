"""Device Mahalanobis: the metrics of one device judged together, with forgetting.

Which keys belong to one device is told with `groups` (constructor) or `set_groups(key_to_group)`: entry k is
the device (group id, >= 0) of series key k; keys past the end of the array or marked -1 are devices of their
own. Within a device, metrics take slots in the order of their keys.

Per series, an exponentially weighted mean m and variance (rate `forget`). Per device, the latest deviation
d = x - m of every metric (m before it learns x) forms a vector, and an exponentially weighted covariance C of
those vectors, learnt with the means (C <- (1 - a)(C + a·d·dᵀ): Welford's recursion in its weighted form, the
exact sample covariance while a = 1/n), learns how the metrics move together. When a point arrives, its
metric's entry is replaced. If every metric of the device then carries a value from the same moment
(timestamps within `sync_s`, as when a device reports all its metrics in one message), the device is scored
on its standardized row v (d over the square roots of C's diagonal) against the correlation matrix R of C,
and C learns the row:

    d² = vᵀ (R + ridge·I)⁻¹ v

which, for d metrics behaving as learnt, follows a chi-square law with d degrees of freedom. Otherwise (the
other metrics of that moment have not arrived yet) the point is scored on its own, d² = z² / (1 + ridge), z
its deviation over the metric's own standard deviation, with one degree of freedom, and C is left alone:
pairing a new value with an old one would teach it noise. Its tail probability (Wilson-Hilferty's normal
approximation, `calibrate.log10_normal_tail`) gives the surprise u = -log10(tail) / `level`, and the score is
`likelihood(u)`: 0.9 at a tail of 10^-level. Two metrics that always rise together and suddenly part score
high even while each stays within its own range.

Points of one device are taken in order (the batch is ranked by device, not by key); devices are independent.

>>> import numpy as np
>>> rng = np.random.default_rng(4)
>>> load = rng.normal(0, 1, 600)
>>> temp = load + rng.normal(0, 0.1, 600)
>>> temp[-1] = -load[-1]                      # within temp's range, but against the load
>>> keys = np.tile([0, 1], 600)
>>> values = np.column_stack([load, temp]).ravel()
>>> ts = np.repeat(np.arange(600.0), 2)
>>> together = DeviceMahalanobis(groups=[0, 0]).score_learn(keys, values, ts)
>>> alone = DeviceMahalanobis().score_learn(keys, values, ts)
>>> bool(together[-1] > 0.9), bool(alone[-1] < 0.9)
(True, True)
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from edgeloop.learn.base import FloatArray, IntArray
from edgeloop.learn.calibrate import likelihood, log10_normal_tail
from edgeloop.learn.stepwise import StepwiseLearner, grow, grow_rows


def wilson_hilferty(d2: FloatArray, dof: FloatArray | float) -> FloatArray:
    """A chi-square variable with `dof` degrees of freedom as a standard normal deviate: (d²/dof)^(1/3) is close
    to normal with mean 1 - 2/(9 dof) and variance 2/(9 dof)."""
    c = 2.0 / (9.0 * np.asarray(dof, dtype=np.float64))
    return np.asarray((np.cbrt(d2 / dof) - (1.0 - c)) / np.sqrt(c), dtype=np.float64)


class DeviceMahalanobis(StepwiseLearner):
    """Per-device squared Mahalanobis distance of the standardized metrics, chi-square calibrated."""

    name = "device_mahalanobis"
    #: whole rows a device learns before it holds its model (None: it never stops learning; `DevicePCA`)
    learn_rows: int | None = None
    #: score whole device rows only, the other points 0 (`DevicePCA`)
    whole_only: bool = False

    def __init__(
        self,
        forget: float = 0.01,
        warmup: int = 60,
        ridge: float = 0.05,
        z_clip: float = 10.0,
        level: float = 6.0,
        sync_s: float = 0.0,
        groups: Sequence[int] | None = None,
    ) -> None:
        self.forget = forget
        self.warmup = warmup
        self.ridge = ridge
        self.z_clip = z_clip
        self.level = level
        self.sync_s = sync_s
        self.groups = None if groups is None else [int(g) for g in groups]
        self._mean = np.zeros(0, dtype=np.float64)
        self._var = np.zeros(0, dtype=np.float64)
        self._count = np.zeros(0, dtype=np.int64)
        self._deviations = True  # C is the covariance of deviations (a checkpoint from before is converted)
        self._layout(self.groups)

    def set_groups(self, key_to_group: ArrayLike) -> None:
        """Declare which keys are metrics of one device. Device state learnt so far is dropped."""
        groups = [int(g) for g in np.asarray(key_to_group, dtype=np.int64).ravel()]
        if any(g < -1 for g in groups):
            raise ValueError("group ids are >= 0, or -1 for a key that is a device of its own")
        self.groups = groups
        self._layout(groups)
        self._ensure(self._mean.shape[0])

    def _layout(self, groups: list[int] | None) -> None:
        declared = np.asarray(groups if groups else [], dtype=np.int64)
        self._declared = declared
        self._n_declared = int(declared.max()) + 1 if declared.size and declared.max() >= 0 else 0
        sizes = np.bincount(declared[declared >= 0]) if self._n_declared else np.ones(1, dtype=np.int64)
        self._dims = max(1, int(sizes.max()))
        self._gid = np.zeros(0, dtype=np.int64)
        self._slot = np.zeros(0, dtype=np.int64)
        self._size = np.zeros(0, dtype=np.float64)  # metrics per device
        self._vec = np.zeros((0, self._dims), dtype=np.float64)
        self._vec_ts = np.zeros((0, self._dims), dtype=np.float64)
        self._cov = np.zeros((0, self._dims, self._dims), dtype=np.float64)
        self._seen = np.zeros(0, dtype=np.int64)  # points per device

    @property
    def n_series(self) -> int:
        return int(np.count_nonzero(self._count))

    def _ensure(self, size: int) -> None:
        old = self._gid.shape[0]
        self._mean = grow(self._mean, size, 0.0)
        self._var = grow(self._var, size, 0.0)
        self._count = grow(self._count, size, 0)
        if old < size:
            keys = np.arange(self._mean.shape[0])
            declared = np.full(keys.shape[0], -1, dtype=np.int64)
            m = min(self._declared.shape[0], keys.shape[0])
            declared[:m] = self._declared[:m]
            own = declared < 0
            gid = np.where(own, self._n_declared + keys, declared)
            slot = np.zeros(keys.shape[0], dtype=np.int64)
            for g in np.unique(gid[~own]):
                slot[gid == g] = np.arange(int(np.count_nonzero(gid == g)))
            self._gid, self._slot = gid, slot
            n_groups = int(gid.max()) + 1
            self._size = np.maximum(np.bincount(gid, minlength=n_groups).astype(np.float64), 1.0)
            self._vec = grow_rows(self._vec, n_groups, 0.0)
            self._vec_ts = grow_rows(self._vec_ts, n_groups, np.nan)
            self._cov = grow_rows(self._cov, n_groups, 0.0)
            self._seen = grow(self._seen, n_groups, 0)

    def _rank_on(self, keys: IntArray) -> IntArray:
        self._ensure(int(keys.max()) + 1)
        return np.asarray(self._gid[keys], dtype=np.int64)

    def _step(self, k: IntArray, x: FloatArray, t: FloatArray) -> FloatArray:
        deviate, ready = self.deviate(k, x, t)
        return np.where(ready, likelihood(-log10_normal_tail(deviate) / self.level), 0.0)

    def _device_deviate(self, vec: FloatArray, cov: FloatArray, size: FloatArray) -> FloatArray:
        """The whole device's distance as a normal deviate: Mahalanobis, chi-square with `size` dof."""
        reg = cov + self.ridge * np.eye(self._dims)
        d2 = np.einsum("ni,ni->n", vec, np.linalg.solve(reg, vec[:, :, None])[:, :, 0])
        return wilson_hilferty(d2, size)

    def __setstate__(self, state: dict[str, Any]) -> None:
        """A checkpoint pickled before 2026-12-07 kept the covariance of z-scores and z-scores as each device's
        latest row: both are put in deviations (times each metric's standard deviation), as this code keeps them."""
        if "_deviations" not in state:
            state["_deviations"] = True
            gid, slot, var = state["_gid"], state["_slot"], state["_var"]
            n = min(gid.shape[0], var.shape[0])
            sd = np.ones(state["_cov"].shape[:2], dtype=np.float64)
            if n and sd.size:
                sd[gid[:n], slot[:n]] = np.sqrt(np.maximum(var[:n], 0.0))
            state["_cov"] = state["_cov"] * sd[:, :, None] * sd[:, None, :]
            state["_vec"] = state["_vec"] * sd
        self.__dict__.update(state)

    def restart(self, keys: IntArray) -> None:
        """The devices of these keys learn afresh from their next points (a new regime)."""
        self._ensure(int(np.max(keys, initial=-1)) + 1)
        g, mine = self._devices_of(keys)
        self._count[mine], self._mean[mine], self._var[mine] = 0, 0.0, 0.0
        self._cov[g], self._seen[g] = 0.0, 0

    def frozen_rows(self, keys: IntArray) -> list[tuple[object, str, IntArray]]:
        """The normal model of the whole devices of these keys: a device that alarms stops learning all of its
        metrics, not only the one that alarmed (a fault's metric would otherwise be learnt by its own mean)."""
        g, mine = self._devices_of(keys)
        return [*((self, name, mine) for name in ("_mean", "_var", "_count")), (self, "_cov", g), (self, "_seen", g)]

    def _devices_of(self, keys: IntArray) -> tuple[IntArray, IntArray]:
        """The devices of these keys, and every key of those devices."""
        g = np.unique(self._gid[keys])
        return g, np.flatnonzero(np.isin(self._gid[: self._count.shape[0]], g))

    def deviate(self, k: IntArray, x: FloatArray, t: FloatArray) -> tuple[FloatArray, np.ndarray]:
        """The device's deviate for points that complete a row (`_device_deviate` of the standardized row and the
        correlation matrix), the metric's own otherwise (not ready with `whole_only`); then learn the points,
        unless their device's commissioning is over (`learn_rows`)."""
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

    def _deviate_alone(self, k: IntArray, x: FloatArray, t: FloatArray) -> tuple[FloatArray, np.ndarray]:
        """`deviate` when every key is a device of its own (no groups declared): the same arithmetic on
        scalars per key, without the vector gathers."""
        count, mean, var = self._count[k], self._mean[k], self._var[k]
        sd = np.sqrt(var) + 1e-9 * (1.0 + np.abs(mean))
        z = np.where(count >= 2, np.clip((x - mean) / sd, -self.z_clip, self.z_clip), 0.0)
        cov = self._cov[k, 0, 0]
        d2 = z**2 / (cov + self.ridge)
        c = 2.0 / 9.0
        deviate = (np.cbrt(d2) - (1.0 - c)) / np.sqrt(c)
        seen = self._seen[k]
        ready = (seen >= self.warmup) & (count >= 2)
        a = np.maximum(self.forget, 1.0 / (seen + 1.0))
        self._cov[k, 0, 0] = (1.0 - a) * cov + a * (z * z)
        self._vec[k, 0], self._vec_ts[k, 0] = z, t
        self._seen[k] = seen + 1
        ak = np.maximum(self.forget, 1.0 / (count + 1.0))
        err = x - mean
        self._mean[k] = mean + ak * err
        self._var[k] = np.where(count >= 1, (1.0 - ak) * (var + ak * err * err), 0.0)
        self._count[k] = count + 1
        return np.asarray(deviate, dtype=np.float64), ready
