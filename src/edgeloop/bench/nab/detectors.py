"""Reference detectors and the harness that runs a detector over the corpus.

A detector here is a function from one file's values to one score in [0, 1] per row, run on each file
from a fresh start. `null` and `random` reproduce NAB's baselines: the constant 0.5, and NAB's random
detector, which reseeds Python's Mersenne Twister with 42 at the start of every file and draws
`uniform(0, 1)` per row, so its scores are the same stream restarted per file.

>>> random_scores(np.zeros(3)).round(4).tolist()
[0.6394, 0.025, 0.275]
>>> rolling_zscore(np.r_[np.zeros(10), 1.0, 0.0], window=5).round(3).tolist()[-3:]
[0.0, 1.0, 0.333]
"""

from __future__ import annotations

import random
from collections.abc import Callable

import numpy as np

from edgeloop.bench.nab.corpus import Corpus, FloatArray
from edgeloop.learn.base import Learner

Detector = Callable[[FloatArray], FloatArray]

#: the seed NAB's random detector sets before each file
NAB_RANDOM_SEED = 42


def run_detector(corpus: Corpus, make_scores: Detector) -> dict[str, FloatArray]:
    """Scores of `make_scores` applied to each file's values, keyed by the file's relative name."""
    out: dict[str, FloatArray] = {}
    for f in corpus.files:
        scores = np.asarray(make_scores(f.values), dtype=np.float64)
        if scores.shape != (f.n_rows,):
            raise ValueError(f"{f.name}: detector gave {scores.shape} scores for {f.n_rows} rows")
        out[f.name] = scores
    return out


def null_scores(values: FloatArray) -> FloatArray:
    """NAB's null detector: 0.5 everywhere, which after threshold optimization detects nothing."""
    return np.full(values.shape[0], 0.5)


def random_scores(values: FloatArray, seed: int = NAB_RANDOM_SEED) -> FloatArray:
    """NAB's random detector: Python's `random` seeded with `seed`, one `uniform(0, 1)` per row."""
    rng = random.Random(seed)
    return np.fromiter((rng.uniform(0.0, 1.0) for _ in range(values.shape[0])), np.float64, values.shape[0])


def random_detector(seed: int) -> Detector:
    """The random detector with another seed (NAB's README reports a spread over seeds)."""
    return lambda values: random_scores(values, seed)


def rolling_zscore(values: FloatArray, window: int = 100) -> FloatArray:
    """A plain deterministic detector: |z| of each value against the `window` values before it, as z/(1+z).

    Rows with fewer than `window` predecessors score 0.
    """
    n = values.shape[0]
    out = np.zeros(n)
    if n <= window:
        return out
    past = np.lib.stride_tricks.sliding_window_view(values[:-1], window)
    mean, std = past.mean(axis=1), past.std(axis=1)
    z = np.abs(values[window:] - mean) / np.maximum(std, 1e-9 * np.maximum(np.abs(mean), 1.0))
    out[window:] = z / (1.0 + z)
    return out


def learner_detector(make_learner: Callable[[], Learner]) -> Detector:
    """A detector from an edgeloop learner: a fresh learner per file, fed point by point in order.

    Point by point because all rows of a file are one series (a batch would be processed rank by rank).
    """

    def detect(values: FloatArray) -> FloatArray:
        learner = make_learner()
        key, ts = np.zeros(1, dtype=np.int64), np.zeros(1)
        out = np.empty(values.shape[0])
        for i in range(values.shape[0]):
            ts[0] = float(i)
            out[i] = learner.score_learn(key, values[i : i + 1], ts)[0]
        return np.clip(out, 0.0, 1.0)

    return detect
