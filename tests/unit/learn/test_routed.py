"""PerAssetType: keys reach their asset type's learner, batch equals point by point, it pickles."""

from __future__ import annotations

import pickle

import numpy as np

from edgeloop.learn import RangeNovelty, RobustEWMA
from edgeloop.learn.routed import PerAssetType


def stream(n: int = 400) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(3)
    keys = np.tile(np.array([0, 1, 2, 3], dtype=np.int64), n)
    values = rng.normal(10, 1, keys.shape[0])
    values[min(1001, values.shape[0] - 3)] += 30
    ts = np.repeat(np.arange(n) * 15.0, 4)
    return keys, values, ts


def composite() -> PerAssetType:
    learner = PerAssetType({"pump": RobustEWMA(), "motor": RangeNovelty()}, default=RobustEWMA(half_life_s=60.0))
    learner.route([0, 2], "pump")
    learner.route([1], "motor")
    return learner  # key 3: no route, the default learner


def test_each_key_is_scored_by_its_asset_types_learner() -> None:
    keys, values, ts = stream()
    scores = composite().score_learn(keys, values, ts)
    for key, alone in ((0, RobustEWMA()), (2, RobustEWMA()), (1, RangeNovelty()), (3, RobustEWMA(half_life_s=60.0))):
        mine = keys == key
        np.testing.assert_array_equal(scores[mine], alone.score_learn(keys[mine], values[mine], ts[mine]))


def test_the_batch_path_equals_point_by_point() -> None:
    keys, values, ts = stream(120)
    batch = composite().score_learn(keys, values, ts)
    learner = composite()
    one = []
    for k, x, t in zip(keys.tolist(), values.tolist(), ts.tolist(), strict=True):
        one.append(learner.score_one(k, x, t))
        learner.learn_one(k, x, t)
    np.testing.assert_allclose(np.array(one), batch, rtol=0, atol=1e-12)


def test_a_pickled_composite_carries_on_where_it_stopped() -> None:
    keys, values, ts = stream()
    whole = composite().score_learn(keys, values, ts)
    learner = composite()
    learner.score_learn(keys[:800], values[:800], ts[:800])
    restored = pickle.loads(learner.dumps())
    np.testing.assert_array_equal(restored.score_learn(keys[800:], values[800:], ts[800:]), whole[800:])


def test_replace_hands_an_asset_types_keys_to_another_learner() -> None:
    keys, values, ts = stream()
    learner = composite()
    challenger = RangeNovelty()
    old = learner.replace("pump", challenger)
    assert isinstance(old, RobustEWMA)
    scores = learner.score_learn(keys, values, ts)
    mine = keys == 0
    expected = RangeNovelty().score_learn(keys[mine], values[mine], ts[mine])
    np.testing.assert_array_equal(scores[mine], expected)
    assert learner.asset_type_of(np.array([0, 1, 3])) == ["pump", "motor", None]


def test_clone_is_fresh_with_the_same_routes() -> None:
    keys, values, ts = stream()
    trained = composite()
    trained.score_learn(keys, values, ts)
    clone = trained.clone()
    assert clone.n_series == 0
    np.testing.assert_array_equal(clone.score_learn(keys, values, ts), composite().score_learn(keys, values, ts))
