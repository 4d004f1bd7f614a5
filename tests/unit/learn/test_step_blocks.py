"""A learner that steps a large batch in blocks (`edgeloop.learn.stepwise.in_blocks`) scores and learns exactly what
it does fed the same points in calls smaller than a block: the blocks only keep the step's arrays in cache."""

from __future__ import annotations

import numpy as np
import pytest

from edgeloop.learn.catalog import agent_learner
from edgeloop.learn.stepwise import STEP_BLOCK

PIECE = 1_000  # points per call of the reference: well under a block


@pytest.mark.parametrize("name", ["ewma_noise", "robust_ewma"])
def test_a_batch_larger_than_a_block_scores_as_small_calls_do(name: str) -> None:
    rng = np.random.default_rng(3)
    n_series, rounds = STEP_BLOCK + 1_500, 3
    keys = np.tile(np.arange(n_series), rounds)  # every series in every round: each rank is larger than a block
    values = rng.normal(50, 5, rounds * n_series)
    values[-3:] += 400  # a fault at the end of a few series
    ts = np.repeat(1.7e9 + 60.0 * np.arange(rounds), n_series)
    warm = [(rng.normal(50, 5, n_series), np.full(n_series, 1.6e9 + 15.0 * r)) for r in range(130)]
    blocked, small = agent_learner(name), agent_learner(name)
    for x, t in warm:  # past the warm-up, so scores are not all 0
        blocked.score_learn(np.arange(n_series), x, t)
        for i in range(0, n_series, PIECE):
            small.score_learn(np.arange(i, min(i + PIECE, n_series)), x[i : i + PIECE], t[i : i + PIECE])

    in_one = blocked.score_learn(keys, values, ts)
    cuts = [
        (i, min(i + PIECE, (r + 1) * n_series))
        for r in range(rounds)
        for i in range(r * n_series, (r + 1) * n_series, PIECE)
    ]
    in_pieces = [small.score_learn(keys[i:j], values[i:j], ts[i:j]) for i, j in cuts]

    assert np.array_equal(in_one, np.concatenate(in_pieces))
    assert (in_one[-3:] > 0.9).all()
