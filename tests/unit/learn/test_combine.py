"""MaxOf: the highest score of its learners, and the prior protocol passed to those that take it."""

import numpy as np
import pytest

from edgeloop.learn.combine import MaxOf
from edgeloop.learn.ewma import RobustEWMA
from edgeloop.learn.noise import NoiseRatio
from edgeloop.learn.prior import PriorLearner, SeriesPrior


def test_a_prior_reaches_the_learner_that_takes_one() -> None:
    prior, points = [SeriesPrior(10.0, 1.0, 0.1, False, 5)], (np.zeros(3, dtype=np.int64), np.array([10.0, 10.5, 30.0]))
    both, alone = MaxOf([NoiseRatio(), RobustEWMA(warmup=60)]), RobustEWMA(warmup=60)
    both.seed(np.array([0]), prior)
    alone.seed(np.array([0]), prior)

    scores = both.score_learn(*points, np.arange(3.0))
    alone.score_learn(*points, np.arange(3.0))

    assert scores[2] > 0.9  # seeded: the jump scores on the third point, long before the warm-up ends
    assert both.summarize(np.array([0])) == alone.summarize(np.array([0]))


def test_summarize_without_a_learner_that_keeps_a_scale_is_refused() -> None:
    only_noise = MaxOf([NoiseRatio()])

    assert isinstance(only_noise, PriorLearner)
    with pytest.raises(TypeError, match="none of noise_ratio"):
        only_noise.summarize(np.array([0]))


def test_a_noise_rise_scores_while_the_level_stays() -> None:
    rng = np.random.default_rng(1)
    x = 50 + rng.normal(0, 0.2, 900)
    x[700:] += np.abs(rng.normal(0, 1.5, 200))  # cavitation-like: broadband, one-sided, no step in the level

    scores = NoiseRatio().score_learn(np.zeros(900, dtype=np.int64), x, np.arange(900.0))

    assert scores[:700].max() < 0.9
    assert np.count_nonzero(scores[700:] > 0.9) > 20
