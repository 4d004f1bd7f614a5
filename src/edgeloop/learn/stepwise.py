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
from collections.abc import Callable
from typing import Any

import numpy as np
from numpy.typing import NDArray

from edgeloop.learn.base import FloatArray, IntArray, Learner, grow, occurrence_rank

__all__ = ["STEP_BLOCK", "StepwiseLearner", "grow", "grow_rows", "in_blocks"]

#: points per call of a learner's vectorized step. A step makes some 40 temporary arrays; at 8,192 points (64 KiB
#: each) they stay in the core's cache, at 100,000 (a batch of 5,000 messages of 20 metrics) they went out to
#: memory, and the agent's learner took 345-370 ns a point instead of 186. The points of one step belong to
#: distinct series, so cutting a step changes no score.
STEP_BLOCK = 8192


def in_blocks(step: Callable[[IntArray, FloatArray, FloatArray], FloatArray], k: IntArray, x: FloatArray,
              t: FloatArray, block: int = STEP_BLOCK) -> FloatArray:  # fmt: skip
    """`step(k, x, t)` for points of distinct series, `block` points at a time.

    >>> in_blocks(lambda k, x, t: x * 2, np.arange(5), np.arange(5.0), np.zeros(5), block=2).tolist()
    [0.0, 2.0, 4.0, 6.0, 8.0]
    """
    n = k.shape[0]
    if n <= block:
        return step(k, x, t)
    out = np.empty(n, dtype=np.float64)
    for i in range(0, n, block):
        out[i : i + block] = step(k[i : i + block], x[i : i + block], t[i : i + block])
    return out


def grow_rows(array: NDArray[Any], size: int, fill: float) -> NDArray[Any]:
    """Like `grow`, for an array of any rank: extend the first axis to at least `size` rows of `fill`."""
    if array.shape[0] >= size:
        return array
    new = np.full((max(size, 2 * array.shape[0], 64), *array.shape[1:]), fill, dtype=array.dtype)
    new[: array.shape[0]] = array
    return new


class StepwiseLearner(Learner):
    """A learner defined by one vectorized step over points of distinct series (or distinct `_rank_on` units)."""

    #: points per call of `_step` (`in_blocks`), or 0 for a whole rank at once: a learner whose step reads only
    #: each point's own series may set `STEP_BLOCK`
    step_block: int = 0

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
        step = self._step if not self.step_block else lambda k, x, t: in_blocks(self._step, k, x, t, self.step_block)
        if n == 1:
            return self._step(keys, values, ts)
        units = np.sort(self._rank_on(keys))
        if not np.any(units[1:] == units[:-1]):  # one point per unit: a single step
            return step(keys, values, ts)
        rank = occurrence_rank(self._rank_on(keys))
        top = int(rank.max())
        scores = np.empty(n, dtype=np.float64)
        order = np.argsort(rank, kind="stable")
        bounds = np.searchsorted(rank[order], np.arange(top + 2)).tolist()
        for r in range(top + 1):
            idx = order[bounds[r] : bounds[r + 1]]
            scores[idx] = step(keys[idx], values[idx], ts[idx])
        return scores
