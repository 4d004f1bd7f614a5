"""The classical reference on Tennessee Eastman: static PCA with Hotelling's T² and the SPE (Q) statistic.

The protocol of Russell, Chiang and Braatz (Chemometrics and Intelligent Laboratory Systems 51:81-93, 2000;
and their book "Data-driven Techniques for Fault Detection and Diagnosis in Chemical Processes", 2000): fit on
the normal training run d00.dat, standardized; keep `kept` components (9: with it, the T² and Q rates per fault
come out close to the published ones, e.g. fault 4 flagged by Q and hardly by T², faults 3, 9, 15 by neither);
on each test row, T² = Σ t_i² / λ_i over the kept scores and Q = |residual|². A row is flagged when either
exceeds its limit. The limits are the papers' kind at `level`: for T², the chi-square law with as many degrees
of freedom as kept components (the F law of the papers tends to it for 500 training rows), its quantile by
Wilson-Hilferty; for Q, Jackson and Mudholkar's approximation. So this is a re-implementation of the method,
not a copy of the published figures; its false-alarm rate on the normal test run is printed with it.

>>> rng = np.random.default_rng(0)
>>> base = rng.normal(size=(500, 3))
>>> train = np.column_stack([base, base @ rng.normal(size=(3, 3)) + 0.1 * rng.normal(size=(500, 3))])
>>> ref = PcaReference.fit(train, kept=3)
>>> broken = train[:50].copy(); broken[:, 5] += 3.0          # one relation broken
>>> bool(ref.flags(broken).mean() > 0.9), bool(ref.flags(train).mean() < 0.05)
(True, True)
"""

from __future__ import annotations

from dataclasses import dataclass
from statistics import NormalDist

import numpy as np
from numpy.typing import NDArray

FloatArray = NDArray[np.float64]


@dataclass(frozen=True, slots=True)
class PcaReference:
    mean: FloatArray
    sd: FloatArray
    loadings: FloatArray  # (metrics, kept)
    eig: FloatArray  # variances of the kept scores
    t2_limit: float
    q_limit: float

    @classmethod
    def fit(cls, train: FloatArray, kept: int = 9, level: float = 0.99) -> PcaReference:
        mean, sd = train.mean(axis=0), train.std(axis=0, ddof=1)
        sd = np.where(sd > 0, sd, 1.0)
        z = (train - mean) / sd
        _, s, vt = np.linalg.svd(z, full_matrices=False)
        var = s**2 / (z.shape[0] - 1)
        kept = min(kept, train.shape[1] - 1)
        p = vt[:kept].T
        c = NormalDist().inv_cdf(level)
        h = 2.0 / (9.0 * kept)
        t2_limit = kept * (1.0 - h + c * np.sqrt(h)) ** 3
        rest = var[kept:]
        th1, th2, th3 = (float(np.sum(rest**i)) for i in (1, 2, 3))
        h0 = 1.0 - 2.0 * th1 * th3 / (3.0 * th2**2)
        q_limit = th1 * (c * np.sqrt(2.0 * th2 * h0**2) / th1 + 1.0 + th2 * h0 * (h0 - 1.0) / th1**2) ** (1.0 / h0)
        return cls(mean, sd, p, var[:kept], float(t2_limit), float(q_limit))

    def statistics(self, rows: FloatArray) -> tuple[FloatArray, FloatArray]:
        z = (rows - self.mean) / self.sd
        t = z @ self.loadings
        t2 = np.sum(t * t / self.eig, axis=1)
        resid = z - t @ self.loadings.T
        return np.asarray(t2, dtype=np.float64), np.asarray(np.sum(resid * resid, axis=1), dtype=np.float64)

    def flags(self, rows: FloatArray) -> NDArray[np.bool_]:
        """Rows where T² or Q exceeds its limit."""
        t2, q = self.statistics(rows)
        return np.asarray((t2 > self.t2_limit) | (q > self.q_limit))
