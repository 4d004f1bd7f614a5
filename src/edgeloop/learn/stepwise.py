"""The batch loop shared by the learners that keep state in per-key arrays: one vectorized step per rank.

A batch is cut into ranks (the i-th point of each series, `occurrence_rank`); points of one rank belong to
distinct series and are scored then learnt together, ranks in order. That is exactly what feeding the points
one by one gives, and the common case, one point per series, is a single step. A learner whose series share
state (the metrics of one device) ranks on the shared unit instead of the key, through `_rank_on`.

>>> class Count(StepwiseLearner):
...     def __init__(self) -> None:
...         self._n = np.zeros(0)
...     @property
...     def n_series(self) -> int:
...         return int(np.count_nonzero(self._n))
...     def _ensure(self, size: int) -> None:
...         self._n = grow(self._n, size, 0.0)
...     def _step(self, k: IntArray, x: FloatArray, t: FloatArray) -> FloatArray:
...         self._n[k] += 1
...         return self._n[k] / 10
>>> Count().score_learn(np.array([0, 1, 0]), np.zeros(3), np.zeros(3)).tolist()
[0.1, 0.1, 0.2]
"""

from __future__ import annotations

from abc import abstractmethod
from typing import Any

import numpy as np
from numpy.typing import NDArray

from edgeloop.learn.base import FloatArray, IntArray, Learner, grow, occurrence_rank

__all__ = ["StepwiseLearner", "grow", "grow_rows"]


def grow_rows(array: NDArray[Any], size: int, fill: float) -> NDArray[Any]:
    """Like `grow`, for an array of any rank: extend the first axis to at least `size` rows of `fill`."""
    if array.shape[0] >= size:
        return array
    new = np.full((max(size, 2 * array.shape[0], 64), *array.shape[1:]), fill, dtype=array.dtype)
    new[: array.shape[0]] = array
    return new


class StepwiseLearner(Learner):
    """A learner defined by one vectorized step over points of distinct series (or distinct `_rank_on` units)."""

    @abstractmethod
    def _ensure(self, size: int) -> None:
        """Make room for keys `0 .. size - 1`."""

    @abstractmethod
    def _step(self, k: IntArray, x: FloatArray, t: FloatArray) -> FloatArray:
        """Score then learn one point for each key of `k`; no two points share a `_rank_on` unit."""

    def _rank_on(self, keys: IntArray) -> IntArray:
        """The unit whose points must be taken in order: the key itself, unless series share state."""
        return keys

    def score_learn(self, keys: IntArray, values: FloatArray, ts: FloatArray) -> FloatArray:
        n = keys.shape[0]
        if n == 0:
            return np.zeros(0, dtype=np.float64)
        keys = np.asarray(keys, dtype=np.int64)
        values = np.asarray(values, dtype=np.float64)
        ts = np.asarray(ts, dtype=np.float64)
        size = int(keys.max()) + 1
        if size > self.__dict__.get("_capacity", 0):
            self._ensure(size)
            self._capacity = size
        if n == 1:
            return self._step(keys, values, ts)
        units = np.sort(self._rank_on(keys))
        if not np.any(units[1:] == units[:-1]):  # one point per unit: a single step
            return self._step(keys, values, ts)
        rank = occurrence_rank(self._rank_on(keys))
        top = int(rank.max())
        scores = np.empty(n, dtype=np.float64)
        order = np.argsort(rank, kind="stable")
        bounds = np.searchsorted(rank[order], np.arange(top + 2)).tolist()
        for r in range(top + 1):
            idx = order[bounds[r] : bounds[r + 1]]
            scores[idx] = self._step(keys[idx], values[idx], ts[idx])
        return scores
