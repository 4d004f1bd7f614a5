"""DeviceMahalanobis with devices declared: metrics judged together, devices apart, points of a device in order."""

from __future__ import annotations

import numpy as np
import pytest

from edgeloop.learn import DeviceMahalanobis, NoveltyEnsemble
from edgeloop.learn.base import Learner

N = 500


def device(seed: int, n: int = N) -> np.ndarray:
    """Two metrics that move together: (n, 2)."""
    rng = np.random.default_rng(seed)
    load = np.cumsum(rng.normal(0, 0.3, n)) + rng.normal(0, 1, n)
    return np.column_stack([load, 2 * load + rng.normal(0, 0.2, n)])


def stream(metrics: np.ndarray, keys: tuple[int, ...], t0: float = 0.0) -> tuple[np.ndarray, ...]:
    """All metrics of a row share its timestamp, as one telemetry message carries them."""
    n, m = metrics.shape
    return (np.tile(np.array(keys, dtype=np.int64), n), metrics.ravel(), np.repeat(t0 + 60.0 * np.arange(n), m))


def one_by_one(learner: Learner, keys: np.ndarray, values: np.ndarray, ts: np.ndarray) -> np.ndarray:
    out = []
    for k, x, t in zip(keys, values, ts, strict=True):
        out.append(learner.score_one(int(k), float(x), float(t)))
        learner.learn_one(int(k), float(x), float(t))
    return np.array(out)


def test_breaking_the_correlation_scores_high_only_when_the_metrics_are_grouped() -> None:
    metrics = device(0)
    # each metric well inside its own range, but the second low while the first is high
    metrics[-1] = np.quantile(metrics[:-1, 0], 0.9), np.quantile(metrics[:-1, 1], 0.1)
    keys, values, ts = stream(metrics, (0, 1))
    grouped = DeviceMahalanobis(groups=[0, 0]).score_learn(keys, values, ts)
    alone = DeviceMahalanobis().score_learn(keys, values, ts)
    assert grouped[-1] > 0.9
    assert alone[-1] < grouped[-1]


def test_set_groups_equals_groups_given_at_construction() -> None:
    keys, values, ts = stream(device(1), (0, 1))
    later = DeviceMahalanobis()
    later.set_groups(np.array([0, 0]))
    np.testing.assert_array_equal(
        later.score_learn(keys, values, ts), DeviceMahalanobis(groups=[0, 0]).score_learn(keys, values, ts)
    )
    assert later.clone().groups == [0, 0]


@pytest.mark.parametrize("make", [lambda: DeviceMahalanobis(groups=[0, 1, 0, 1]),
                                  lambda: NoveltyEnsemble(groups=[0, 1, 0, 1])])  # fmt: skip
def test_the_batch_path_takes_the_points_of_one_device_in_order(make: object) -> None:
    a, b = stream(device(2), (0, 2)), stream(device(3), (1, 3), t0=30.0)
    order = np.argsort(np.concatenate([a[2], b[2]]), kind="stable")
    keys, values, ts = (np.concatenate([x, y])[order] for x, y in zip(a, b, strict=True))
    assert callable(make)
    batch = make().score_learn(keys, values, ts)
    np.testing.assert_allclose(one_by_one(make(), keys, values, ts), batch, rtol=0, atol=1e-12)


def test_devices_do_not_see_each_other() -> None:
    a, b = stream(device(4), (0, 2)), stream(device(5), (1, 3))
    together = DeviceMahalanobis(groups=[0, 1, 0, 1]).score_learn(*(np.concatenate(p) for p in zip(a, b, strict=True)))
    alone = DeviceMahalanobis(groups=[0, 1, 0, 1]).score_learn(*a)
    np.testing.assert_array_equal(together[: a[0].shape[0]], alone)


def test_a_metric_without_its_partners_is_scored_on_its_own_and_not_learnt_together() -> None:
    learner = DeviceMahalanobis(groups=[0, 0])
    learner.score_learn(*stream(device(6), (0, 1)))
    cov = learner._cov.copy()
    learner.learn_one(0, 1.0, 1e9)  # a timestamp its partner has not reported
    np.testing.assert_array_equal(learner._cov, cov)


def test_group_ids_below_minus_one_are_refused() -> None:
    with pytest.raises(ValueError, match="group ids"):
        DeviceMahalanobis().set_groups([0, -2])


def test_the_device_covariance_is_the_sample_covariance_of_its_rows() -> None:
    metrics = device(7)
    learner = DeviceMahalanobis(forget=0.0, groups=[0, 0])
    learner.score_learn(*stream(metrics, (0, 1)))
    np.testing.assert_allclose(learner._cov[0], np.cov(metrics.T, bias=True), rtol=1e-9)
