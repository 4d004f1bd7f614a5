"""One set of checks, run on every learner the catalog names (River's habit: one conformance test)."""

from __future__ import annotations

import pickle
from collections.abc import Callable

import numpy as np
import pytest

from edgeloop.learn import Learner
from edgeloop.learn.catalog import CATALOG, LEARNERS, default_learner

Stream = tuple[np.ndarray, np.ndarray, np.ndarray]
KEYS = (4, 0, 9)
N = 700
START = 1_420_070_400.0  # 2015-01-01 00:00 UTC, a Thursday


def series(rng: np.random.Generator, n: int) -> np.ndarray:
    """A daily cycle with noise, two spikes, a level shift and a flat stretch: every path of a learner runs."""
    t = np.arange(n)
    x = 10 + 3 * np.sin(2 * np.pi * t / 288) + rng.normal(0, 0.5, n)
    x[n // 3] += 15
    x[n // 2 :] += 6
    x[2 * n // 3 : 2 * n // 3 + 60] = 12.0
    x[-20] -= 25
    return x


def interleaved(seed: int = 0) -> Stream:
    """Three series with keys that are not 0..2, merged in a random order that keeps each one in time order."""
    rng = np.random.default_rng(seed)
    owner = rng.permutation(np.repeat(np.arange(len(KEYS)), N))
    keys = np.array(KEYS, dtype=np.int64)[owner]
    values = np.empty(owner.shape[0])
    ts = np.empty(owner.shape[0])
    for s in range(len(KEYS)):
        mine = owner == s
        values[mine] = series(rng, N)
        ts[mine] = START + 300.0 * np.arange(N) + 7.0 * s
    return keys, values, ts


def only(stream: Stream, key: int) -> Stream:
    keys, values, ts = stream
    mine = keys == key
    return keys[mine], values[mine], ts[mine]


def one_by_one(learner: Learner, stream: Stream) -> np.ndarray:
    out = []
    for k, x, t in zip(*stream, strict=True):
        out.append(learner.score_one(int(k), float(x), float(t)))
        learner.learn_one(int(k), float(x), float(t))
    return np.array(out)


def in_batches(learner: Learner, stream: Stream, size: int) -> np.ndarray:
    keys, values, ts = stream
    parts = [learner.score_learn(keys[i : i + size], values[i : i + size], ts[i : i + size])
             for i in range(0, keys.shape[0], size)]  # fmt: skip
    return np.concatenate(parts)


@pytest.fixture(params=sorted(CATALOG))
def make(request: pytest.FixtureRequest) -> Callable[[], Learner]:
    return CATALOG[request.param]


@pytest.fixture(scope="module")
def stream() -> Stream:
    return interleaved()


def test_scores_are_likelihoods_in_the_unit_interval(make: Callable[[], Learner], stream: Stream) -> None:
    scores = make().score_learn(*stream)
    assert scores.shape == stream[0].shape
    assert np.all(np.isfinite(scores))
    assert scores.min() >= 0.0
    assert scores.max() <= 1.0


def test_the_batch_path_equals_scoring_then_learning_point_by_point(
    make: Callable[[], Learner], stream: Stream
) -> None:
    batch = make().score_learn(*stream)
    np.testing.assert_allclose(one_by_one(make(), stream), batch, rtol=0, atol=1e-12)


def test_the_batch_size_does_not_change_the_scores(make: Callable[[], Learner], stream: Stream) -> None:
    whole = make().score_learn(*stream)
    np.testing.assert_allclose(in_batches(make(), stream, 97), whole, rtol=0, atol=1e-12)


def test_score_one_does_not_learn(make: Callable[[], Learner], stream: Stream) -> None:
    learner = make()
    learner.score_learn(*(a[:500] for a in stream))
    before = learner.dumps()
    learner.score_one(KEYS[0], 1e6, START + 1e6)
    assert learner.dumps() == before


def test_scores_are_causal(make: Callable[[], Learner], stream: Stream) -> None:
    whole = make().score_learn(*stream)
    cut = 1000
    prefix = make().score_learn(*(a[:cut] for a in stream))
    np.testing.assert_array_equal(prefix, whole[:cut])


def test_interleaved_series_are_independent(make: Callable[[], Learner], stream: Stream) -> None:
    together = make().score_learn(*stream)
    for key in KEYS:
        alone = make().score_learn(*only(stream, key))
        np.testing.assert_allclose(alone, together[stream[0] == key], rtol=0, atol=1e-12)


def test_two_learners_built_alike_score_alike(make: Callable[[], Learner], stream: Stream) -> None:
    first, second = make(), make()
    if "seed" in first.params():
        first, second = type(first)(**{**first.params(), "seed": 7}), type(first)(**{**first.params(), "seed": 7})
    np.testing.assert_array_equal(first.score_learn(*stream), second.score_learn(*stream))


def test_clone_is_a_fresh_learner_with_the_same_parameters(make: Callable[[], Learner], stream: Stream) -> None:
    trained = make()
    trained.score_learn(*stream)
    clone = trained.clone()
    assert type(clone) is type(trained)
    assert clone.params() == trained.params()
    assert clone.n_series == 0
    np.testing.assert_array_equal(clone.score_learn(*stream), make().score_learn(*stream))


def test_a_pickled_learner_carries_on_where_it_stopped(make: Callable[[], Learner], stream: Stream) -> None:
    cut = 900
    original = make()
    original.score_learn(*(a[:cut] for a in stream))
    restored = pickle.loads(original.dumps())
    rest = tuple(a[cut:] for a in stream)
    np.testing.assert_array_equal(restored.score_learn(*rest), original.score_learn(*rest))
    assert restored.n_series == len(KEYS)


def test_an_empty_batch_gives_no_scores(make: Callable[[], Learner]) -> None:
    empty = make().score_learn(np.zeros(0, dtype=np.int64), np.zeros(0), np.zeros(0))
    assert empty.shape == (0,)


def test_the_default_learner_is_in_the_catalog() -> None:
    assert type(default_learner()) in {type(make()) for make in LEARNERS.values()}
