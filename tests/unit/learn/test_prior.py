"""A series seeded from the fleet's prior scores like a warm one from its first points."""

from __future__ import annotations

import numpy as np
import pytest

from edgeloop.learn.ewma import RobustEWMA
from edgeloop.learn.prior import SeriesPrior, prior_part

SIGMA = 0.3
PRIOR = SeriesPrior(level=40.0, scale=SIGMA, rel_scale=SIGMA / 40.0, relative=False, devices=30)


def stream(seed: int, n: int, level: float = 55.0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    return np.zeros(n, dtype=np.int64), level + rng.normal(0, SIGMA, n), 15.0 * np.arange(n)


def test_a_seeded_series_scores_a_spike_at_its_third_point_an_unseeded_one_does_not() -> None:
    keys, x, ts = stream(0, 3)
    x[2] += 10 * SIGMA
    seeded, fresh = RobustEWMA(warmup=60), RobustEWMA(warmup=60)
    seeded.seed(np.array([0]), [PRIOR])

    with_prior, without = seeded.score_learn(keys, x, ts), fresh.score_learn(keys, x, ts)

    assert with_prior[2] > 0.9
    assert without.max() == 0.0


def test_a_seeded_series_scores_like_one_warmed_on_the_same_noise() -> None:
    """Scores of the seeded series from its second point track those of a series that has seen 500 points."""
    keys, x, ts = stream(1, 700)
    warm = RobustEWMA(warmup=60)
    warm.score_learn(keys[:500], x[:500], ts[:500])
    seeded = RobustEWMA(warmup=60)
    seeded.seed(np.array([0]), [PRIOR])
    seeded.score_learn(keys[:1], x[499:500], ts[499:500])  # the seeded series' first point is the warm one's last

    a, b = warm.score_learn(keys[500:], x[500:], ts[500:]), seeded.score_learn(keys[500:], x[500:], ts[500:])

    assert np.abs(a - b).max() < 0.1
    assert seeded.summarize(np.array([0])).scale[0] == pytest.approx(SIGMA, rel=0.3)


def test_a_relative_prior_scales_the_noise_with_the_first_value() -> None:
    learner = RobustEWMA()
    learner.seed(np.array([0, 1]), [SeriesPrior(10.0, 5.0, 0.01, True, 3)] * 2)

    learner.score_learn(np.array([0, 1]), np.array([100.0, 300.0]), np.zeros(2))

    assert learner.summarize(np.array([0, 1])).scale.tolist() == pytest.approx([1.0, 3.0])


def test_seeding_leaves_a_series_that_has_learnt_alone() -> None:
    keys, x, ts = stream(2, 100)
    learner = RobustEWMA()
    learner.score_learn(keys, x, ts)
    before = learner.summarize(np.array([0]))

    learner.seed(np.array([0]), [SeriesPrior(1.0, 99.0, 0.5, False, 3)])
    learner.score_learn(keys[:1], x[:1], ts[-1:] + 15)

    assert learner.summarize(np.array([0])).scale[0] == pytest.approx(before.scale[0], rel=0.1)


def test_seeding_needs_one_prior_per_key() -> None:
    with pytest.raises(ValueError, match="2 keys but 1 priors"):
        RobustEWMA().seed(np.array([0, 1]), [PRIOR])


def test_a_learner_without_the_protocol_has_no_prior_part() -> None:
    from edgeloop.learn.cusum import Cusum

    assert prior_part(Cusum()) is None
    assert prior_part(RobustEWMA()) is not None
