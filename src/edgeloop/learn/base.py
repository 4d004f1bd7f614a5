"""The learner protocol: online, causal anomaly scorers that keep state per series.

A learner keeps its state in arrays indexed by a dense integer series key, so one learner object serves every
series of a site. Each point is first scored against the state built from the points before it, then learnt.
`score_learn` does that for a whole micro-batch at once and must give exactly what calling `score_one` then
`learn_one` on each point in order gives; it is the fast path the agent uses.

Scores are anomaly likelihoods in [0, 1]: one threshold means the same on every series.
"""

from __future__ import annotations

import copy
import pickle
from abc import ABC, abstractmethod
from collections.abc import Iterator
from typing import Any, Self

import numpy as np
from numpy.typing import NDArray

from edgeloop.model.arrays import grow

__all__ = ["FloatArray", "IntArray", "Learner", "grow", "occurrence_rank"]

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]


def occurrence_rank(keys: IntArray) -> IntArray:
    """For each point, how many earlier points of the batch have the same key.

    Points of equal rank belong to distinct series, so a batch can be processed rank by rank with
    vectorized updates and still respect the order within each series.

    >>> occurrence_rank(np.array([3, 1, 3, 3, 1])).tolist()
    [0, 0, 1, 2, 1]
    """
    n = keys.shape[0]
    if n == 0:
        return np.zeros(0, dtype=np.int64)
    order = np.argsort(keys, kind="stable")
    sorted_keys = keys[order]
    starts = np.ones(n, dtype=bool)
    starts[1:] = sorted_keys[1:] != sorted_keys[:-1]
    group_start = np.maximum.accumulate(np.where(starts, np.arange(n), 0))
    rank = np.empty(n, dtype=np.int64)
    rank[order] = np.arange(n) - group_start
    return rank


class Learner(ABC):
    """Base of all learners. Constructor arguments are public attributes; working state is private."""

    #: short name used in decisions, benchmark tables and selection files
    name: str = "learner"
    #: names of the per-key state arrays (key on the first axis) that hold the series' normal model; those a
    #: gate may freeze while the rest of the state follows the data (`calibrated.py`). Empty: not declared
    normal_state: tuple[str, ...] = ()
    #: how the score squeezes a surprise into [0, 1): "likelihood" (`calibrate.likelihood`, 9u / (9u + 1)) or
    #: "gaussian" (1 - exp(-z² / 18)); the calibration undoes it (`spot.py`)
    score_form: str = "likelihood"

    @abstractmethod
    def score_learn(self, keys: IntArray, values: FloatArray, ts: FloatArray) -> FloatArray:
        """Score each point against what was learnt before it, then learn it. Points are in time order."""

    def score_one(self, key: int, value: float, ts: float) -> float:
        """Score one point without learning it."""
        probe = self.clone_state()
        return float(probe.score_learn(*_one(key, value, ts))[0])

    def learn_one(self, key: int, value: float, ts: float) -> None:
        """Learn one point."""
        self.score_learn(*_one(key, value, ts))

    def take_rows(self, earlier: Learner, keys: IntArray) -> bool:
        """Set these series' state back to what `earlier`, a copy of this learner taken before, held for them: a
        late reading is put in its place by going back to before it and learning again (`agent/rewind.py`).
        Whether it could: only a learner whose state is all per series (`PER_SERIES_ROWS`) can.

        >>> from edgeloop.learn.ewma import RobustEWMA
        >>> learner, keys = RobustEWMA(warmup=2), np.array([0, 1])
        >>> learner.score_learn(keys, np.array([1.0, 5.0]), np.array([0.0, 0.0])).shape
        (2,)
        >>> earlier = learner.clone_state()
        >>> _ = learner.score_learn(keys, np.array([2.0, 6.0]), np.array([1.0, 1.0]))
        >>> learner.take_rows(earlier, np.array([1])), learner._last.tolist()[:2]
        (True, [2.0, 5.0])
        """
        return take_rows(self, earlier, keys)

    def frozen_rows(self, keys: IntArray) -> list[tuple[object, str, IntArray]] | None:
        """Where the normal model of these keys lives, as (object, array attribute, rows): what a gate freezes
        (`calibrated.py`). None: the learner does not say (by default, unless it declares `normal_state`)."""
        if not self.normal_state:
            return None
        return [(self, name, keys) for name in self.normal_state]

    @property
    @abstractmethod
    def n_series(self) -> int:
        """How many series keys have state."""

    def params(self) -> dict[str, Any]:
        """Constructor arguments, read back from the public attributes of the same names."""
        return {k: v for k, v in vars(self).items() if not k.startswith("_")}

    def clone(self) -> Self:
        """A fresh, untrained learner with the same parameters."""
        return type(self)(**self.params())

    def clone_state(self) -> Self:
        """A deep copy, state included."""
        return copy.deepcopy(self)

    def dumps(self) -> bytes:
        """The learner with its state, for a checkpoint."""
        return pickle.dumps(self, protocol=pickle.HIGHEST_PROTOCOL)

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.params().items())
        return f"{type(self).__name__}({args})"


#: classes whose state is all arrays indexed by series key on their first axis, or parts that are: a series' rows
#: can then be taken from an earlier copy (`Learner.take_rows`). Each is listed by hand, once read: a learner that
#: keeps anything else per series (a dict, state per device) must not be here
PER_SERIES_ROWS: set[str] = {"RobustEWMA", "NoiseRatio", "MaxOf", "Calibrated", "SpotTail"}


def take_rows(into: object, earlier: object, keys: IntArray) -> bool:
    """Copy the rows `keys` of every state array of `earlier` into `into` (same class, `PER_SERIES_ROWS`), parts
    included; False, with nothing copied, when a part is not per series or `earlier` did not know a key."""
    pairs = []
    for dst, src in _row_arrays(into, earlier):
        if dst is None or src is None:
            return False
        pairs.append((dst, src))
    top = int(keys.max()) if keys.shape[0] else -1
    if any(src.shape[0] <= top or dst.shape[0] <= top for dst, src in pairs):
        return False
    for dst, src in pairs:
        dst[keys] = src[keys]
    return True


def make_room(learner: object, size: int) -> None:
    """Make room for keys `0 .. size - 1` in a learner and in its parts (`StepwiseLearner._ensure`)."""
    ensure = getattr(learner, "_ensure", None)
    if ensure is not None:
        ensure(size)
    for part in getattr(learner, "learners", []):
        make_room(part, size)


def _row_arrays(into: object, earlier: object) -> Iterator[tuple[NDArray[Any] | None, NDArray[Any] | None]]:
    """The (into, earlier) pairs of state arrays of two objects of one `PER_SERIES_ROWS` class, parts included;
    (None, None) for a part that is not per series."""
    if type(into) is not type(earlier) or type(into).__name__ not in PER_SERIES_ROWS:
        yield None, None
        return
    theirs = vars(earlier)
    for name, mine in vars(into).items():
        other = theirs.get(name)
        if isinstance(mine, np.ndarray) and name.startswith("_"):
            yield (mine, other) if isinstance(other, np.ndarray) else (None, None)
        elif isinstance(mine, list) and mine and all(isinstance(x, Learner) for x in mine):
            if not isinstance(other, list) or len(other) != len(mine):
                yield None, None
                continue
            for a, b in zip(mine, other, strict=True):
                yield from _row_arrays(a, b)
        elif isinstance(mine, Learner) or type(mine).__name__ in PER_SERIES_ROWS:
            yield from _row_arrays(mine, other)


def _one(key: int, value: float, ts: float) -> tuple[IntArray, FloatArray, FloatArray]:
    return (
        np.array([key], dtype=np.int64),
        np.array([value], dtype=np.float64),
        np.array([ts], dtype=np.float64),
    )
