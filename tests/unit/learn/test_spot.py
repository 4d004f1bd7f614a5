"""The streaming tail (`spot.SpotTail`): its body below the tail's threshold, and checkpoints made before it."""

from __future__ import annotations

import pickle

import numpy as np

from edgeloop.learn.spot import SpotTail


def run(tail: SpotTail, u: np.ndarray) -> np.ndarray:
    """Tail probabilities of the raw scores `u` of one series, each learnt after it is scored."""
    tail.ensure(1)
    k = np.zeros(1, dtype=np.int64)
    learn = np.ones(1, dtype=bool)
    return np.array([tail.tail(k, u[i : i + 1], learn)[0] for i in range(u.shape[0])])


def heavy(n: int, seed: int = 5) -> np.ndarray:
    """Raw scores whose surprise has a heavy tail (Student's t with 3 degrees of freedom), squashed into [0, 1)."""
    s = np.abs(np.random.default_rng(seed).standard_t(3, n))
    return 1.0 - np.exp(-s)


def test_over_the_98_percent_quantile_the_body_is_anchored_at_the_90_percent() -> None:
    raw = heavy(40_000)
    anchored = run(SpotTail(q=0.98, warmup=500), raw)[5_000:]
    scale_only = run(SpotTail(q=0.98, warmup=500, q_body=0.98), raw)[5_000:]  # the body on the excesses' scale
    assert 0.8 <= float(np.mean(anchored < 0.1)) / 0.1 <= 1.25
    assert float(np.mean(scale_only < 0.1)) / 0.1 > 1.5  # what the anchor is for: a heavy tail's scale is wide


def test_a_tail_pickled_before_the_body_anchor_loads_and_scores_as_it_did() -> None:
    raw = heavy(3_000)
    tail = SpotTail(q=0.9, warmup=200)  # q as it was: no body below it to anchor
    run(tail, raw[:2_000])
    old = tail.__dict__.copy()
    del old["_t0"], old["q_body"]  # what an older checkpoint holds
    older = SpotTail.__new__(SpotTail)
    older.__setstate__(old)
    restored = pickle.loads(pickle.dumps(older))
    np.testing.assert_allclose(run(restored, raw[2_000:]), run(SpotTail(q=0.9, warmup=200), raw)[2_000:])
