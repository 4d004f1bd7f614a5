"""Several learners on the same points; a point's score is the highest of theirs.

Each learner sees every point and keeps its own state; since all scores are calibrated likelihoods (0.9 at
each one's detection level), the maximum alarms when any of them does. This is how a level detector and a noise
detector watch the same series without either one's blind spot.

>>> import numpy as np
>>> from edgeloop.learn.ewma import RobustEWMA
>>> from edgeloop.learn.noise import NoiseRatio
>>> both = MaxOf([RobustEWMA(), NoiseRatio()])
>>> keys, x, ts = np.zeros(300, dtype=np.int64), np.random.default_rng(0).normal(0, 1, 300), np.arange(300.0)
>>> scores = both.score_learn(keys, x, ts)
>>> bool(np.all(scores == np.maximum(RobustEWMA().score_learn(keys, x, ts), NoiseRatio().score_learn(keys, x, ts))))
True
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Self

import numpy as np

from edgeloop.learn.base import FloatArray, IntArray, Learner
from edgeloop.learn.prior import PriorLearner, SeriesPrior, SeriesStats


class MaxOf(Learner):
    """The pointwise maximum of the scores of several learners, each learning every point."""

    name = "max_of"

    def __init__(self, learners: Sequence[Learner]) -> None:
        if not learners:
            raise ValueError("MaxOf needs at least one learner")
        self.learners = list(learners)
        self.name = "+".join(learner.name for learner in self.learners)

    @property
    def n_series(self) -> int:
        return max(learner.n_series for learner in self.learners)

    def params(self) -> dict[str, Any]:
        """Each learner's class and parameters (`clone` rebuilds the learners themselves)."""
        return {"learners": [{"class": type(learner).__name__, **learner.params()} for learner in self.learners]}

    def clone(self) -> Self:
        return type(self)([learner.clone() for learner in self.learners])

    def summarize(self, keys: IntArray) -> SeriesStats:
        """What the first learner that keeps a level and noise scale learnt (the prior protocol, `prior.py`)."""
        for learner in self.learners:
            if isinstance(learner, PriorLearner):
                return learner.summarize(keys)
        raise TypeError(f"none of {self.name} can summarize what it learnt")

    def seed(self, keys: IntArray, priors: Sequence[SeriesPrior]) -> None:
        """Seed every learner that takes a prior; the others start from nothing, as usual."""
        for learner in self.learners:
            if isinstance(learner, PriorLearner):
                learner.seed(keys, priors)

    def frozen_rows(self, keys: IntArray) -> list[tuple[object, str, IntArray]] | None:
        """Every learner's normal model; None if one of them does not say where its is."""
        parts = [learner.frozen_rows(keys) for learner in self.learners]
        return None if any(p is None for p in parts) else [row for p in parts if p is not None for row in p]

    def score_learn(self, keys: IntArray, values: FloatArray, ts: FloatArray) -> FloatArray:
        scores = [learner.score_learn(keys, values, ts) for learner in self.learners]
        return np.asarray(np.maximum.reduce(scores), dtype=np.float64)
