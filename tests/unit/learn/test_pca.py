"""Device PCA: its covariance, commissioning (a model learnt and then held), whole rows only, and the device-wide
freeze a gate uses."""

from __future__ import annotations

import numpy as np

from edgeloop.learn.calibrated import GATE_AT, Calibrated
from edgeloop.learn.pca import DevicePCA


def rows_of(values: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    n, m = values.shape
    return np.tile(np.arange(m), n), values.ravel(), np.repeat(np.arange(n, dtype=np.float64), m)


def plant(n: int, seed: int = 3) -> np.ndarray:
    """Three metrics of one load (current and flow follow it) on very different scales."""
    rng = np.random.default_rng(seed)
    load = rng.normal(0, 1, n)
    return np.column_stack([1000 + 50 * load, 2 * load + rng.normal(0, 0.1, n), load + rng.normal(0, 0.1, n)])


def test_the_covariance_is_the_sample_covariance_of_the_rows_learnt() -> None:
    x = plant(300)
    learner = DevicePCA(forget=0.0, groups=[0, 0, 0])
    learner.score_learn(*rows_of(x))
    np.testing.assert_allclose(learner._cov[0], np.cov(x.T, bias=True), rtol=1e-9)


def test_a_commissioned_device_learns_its_first_rows_and_then_holds_its_model() -> None:
    x = plant(900)
    x[600:, 1] += 3.0  # from row 600 the current runs high against its load, for good
    held = DevicePCA(forget=0.005, learn_rows=500, whole_only=True, groups=[0, 0, 0])
    free = DevicePCA(forget=0.005, whole_only=True, groups=[0, 0, 0])
    s_held = held.score_learn(*rows_of(x)).reshape(-1, 3)[:, 2]
    s_free = free.score_learn(*rows_of(x)).reshape(-1, 3)[:, 2]
    assert int(held._seen[0]) == 500
    assert np.mean(s_held[800:] >= 0.9) > 0.95  # still a fault 200 rows on
    assert np.mean(s_free[800:] >= 0.9) < 0.2  # learnt as the new normal
    assert np.quantile(s_held[100:600], 0.99) < 0.9


def test_whole_only_scores_the_rows_and_nothing_else() -> None:
    scores = DevicePCA(whole_only=True, groups=[0, 0, 0]).score_learn(*rows_of(plant(200))).reshape(-1, 3)
    assert not scores[:, :2].any()
    assert scores[150:, 2].any()


def test_restart_makes_the_device_learn_afresh() -> None:
    learner = DevicePCA(forget=0.0, learn_rows=100, groups=[0, 0, 0])
    learner.score_learn(*rows_of(plant(150)))
    learner.restart(np.array([1]))
    later = plant(150, seed=9) + 5.0
    learner.score_learn(*rows_of(later))
    assert int(learner._seen[0]) == 100
    np.testing.assert_allclose(learner._mean[:3], later[:100].mean(axis=0), rtol=1e-9)


def test_a_gate_on_any_metric_freezes_the_whole_device() -> None:
    learner = DevicePCA(groups=[0, 0, 0, 1])
    learner.score_learn(*rows_of(np.column_stack([plant(100), np.zeros(100)])))
    parts = learner.frozen_rows(np.array([2]))
    assert {name: rows.tolist() for _, name, rows in parts} == {
        "_mean": [0, 1, 2], "_var": [0, 1, 2], "_count": [0, 1, 2], "_cov": [0], "_seen": [0]}  # fmt: skip


def test_a_gated_device_keeps_alarming_through_a_lasting_fault() -> None:
    x = plant(3000)
    x[2500:, 1] += 1.5
    learner = Calibrated(DevicePCA(groups=[0, 0, 0]), gate_at=GATE_AT)
    scores = learner.score_learn(*rows_of(x)).reshape(-1, 3)[:, 2]
    assert np.mean(scores[2700:] >= 0.99) > 0.9


def test_a_checkpoint_of_the_earlier_covariance_is_read_in_deviations() -> None:
    learner = DevicePCA(forget=0.0, groups=[0, 0, 0])
    learner.score_learn(*rows_of(plant(300)))
    state = dict(vars(learner))
    sd = np.sqrt(learner._var[:3])
    old = {k: v for k, v in state.items() if k not in ("learn_rows", "whole_only", "_deviations")}
    old["_cov"] = state["_cov"].copy()
    old["_cov"][0] = state["_cov"][0] / np.outer(sd, sd)  # what the earlier code kept: z-scores' covariance
    old["_vec"] = state["_vec"].copy()
    old["_vec"][0] = state["_vec"][0] / sd
    restored = DevicePCA.__new__(DevicePCA)
    restored.__setstate__(old)
    np.testing.assert_allclose(restored._cov[0], learner._cov[0], rtol=1e-12)
    np.testing.assert_allclose(restored._vec[0], learner._vec[0], rtol=1e-12)
    assert (restored.learn_rows, restored.whole_only) == (None, False)
