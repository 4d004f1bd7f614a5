"""Calibrated scores (SPOT tails) and gated learning."""

from __future__ import annotations

import numpy as np
import pytest

from edgeloop.learn.calibrated import GATE_AT, Calibrated
from edgeloop.learn.catalog import LEARNERS
from edgeloop.learn.combine import MaxOf
from edgeloop.learn.ewma import RobustEWMA
from edgeloop.learn.noise import NoiseRatio
from edgeloop.learn.prior import SeriesPrior, TailPrior

SERIES = 40
POINTS = 3000
WARMUP = 1000  # rows left out: the learners' and the calibration's warm-ups


def fault_free(seed: int = 3) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """40 series of AR(1) noise on a daily cycle, one point a minute, interleaved as the agent batches them."""
    rng = np.random.default_rng(seed)
    z = np.zeros((POINTS, SERIES))
    e = rng.normal(0, 0.6, (POINTS, SERIES))
    for i in range(1, POINTS):
        z[i] = 0.8 * z[i - 1] + e[i]
    t = 60.0 * np.arange(POINTS)
    x = 10 + 2 * np.sin(2 * np.pi * t / 86400)[:, None] + z
    return np.tile(np.arange(SERIES), POINTS), x.ravel(), np.repeat(t, SERIES)


@pytest.mark.parametrize("name", ["robust_ewma", "ewma_noise", "device_mahalanobis", "noise_ratio"])
@pytest.mark.parametrize("gate", [None, GATE_AT])
def test_exceedance_at_tau_is_about_one_minus_tau_on_fault_free_data(name: str, gate: float | None) -> None:
    scores = Calibrated(LEARNERS[name](), gate_at=gate).score_learn(*fault_free())
    after = scores.reshape(POINTS, SERIES)[WARMUP:]
    for tau in (0.9, 0.99, 0.999):
        ratio = float(np.mean(after >= tau)) / (1 - tau)
        # the noise ratio's tail is lighter than its fit at 0.999 here (0.4-0.6x: fewer false alarms, not more)
        low = 0.3 if name == "noise_ratio" and tau == 0.999 else 0.5
        assert low <= ratio <= 2.0, (tau, ratio)


def lasting_fault(seed: int = 2) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = np.r_[rng.normal(0, 1, 3000), rng.normal(8, 1, 3000)]
    return np.zeros(6000, dtype=np.int64), x, np.arange(6000.0)


def test_a_lasting_fault_keeps_scoring_high_while_gated() -> None:
    scores = Calibrated(RobustEWMA(), gate_at=GATE_AT).score_learn(*lasting_fault())
    assert float(np.mean(scores[3000:] >= 0.99)) > 0.99


def test_without_the_gate_a_lasting_fault_becomes_normal() -> None:
    scores = Calibrated(RobustEWMA()).score_learn(*lasting_fault())
    assert float(np.mean(scores[5000:] >= 0.99)) < 0.05


def test_a_series_back_to_normal_leaves_its_hold() -> None:
    keys, x, ts = lasting_fault()
    x[3100:] -= 8.0  # the fault lasted 100 points
    learner = Calibrated(RobustEWMA(), gate_at=GATE_AT)
    scores = learner.score_learn(keys, x, ts)
    assert scores[3000:3100].min() >= 0.99
    assert not learner.held(np.array([0]))[0]


def test_a_rebase_lifts_the_hold_is_recorded_and_the_new_regime_is_learnt() -> None:
    keys, x, ts = lasting_fault()
    learner = Calibrated(RobustEWMA(), gate_at=GATE_AT, grace_s=1500.0)
    learner.score_learn(keys[:3500], x[:3500], ts[:3500])
    assert learner.held(np.array([0]))[0]
    done = learner.rebase(np.array([0]), 3500.0, "new_normal")
    after = learner.score_learn(keys[3500:], x[3500:], ts[3500:])
    assert [(r.key, r.ts, r.reason) for r in done] == [(0, 3500.0, "new_normal")]
    assert [r.reason for r in learner.take_rebases()] == ["new_normal"]
    assert float(np.mean(after[-1000:] >= 0.99)) < 0.05


def test_a_hold_past_the_timeout_is_rebased_and_recorded() -> None:
    learner = Calibrated(RobustEWMA(), gate_at=GATE_AT, rebase_after_s=600.0)
    learner.score_learn(*lasting_fault())
    rebases = learner.take_rebases()
    assert rebases
    assert rebases[0].reason == "timeout"
    assert 3600.0 <= rebases[0].ts <= 3700.0


def test_an_unknown_rebase_reason_is_refused() -> None:
    with pytest.raises(ValueError, match="re-base"):
        Calibrated(RobustEWMA()).rebase(np.array([0]), 0.0, "because")


def test_a_rebase_takes_effect_at_its_data_time_whether_told_before_or_after_the_points_up_to_it() -> None:
    """An event and telemetry come on topics of their own, and after a restart the agent holds telemetry back: the
    re-base must not depend on which the learner meets first."""
    keys, x, ts = lasting_fault()
    told_after = Calibrated(RobustEWMA(), gate_at=GATE_AT, grace_s=1500.0)
    first = told_after.score_learn(keys[:3600], x[:3600], ts[:3600])
    told_after.rebase(np.array([0]), float(ts[3599]), "repaired")
    after = told_after.score_learn(keys[3600:], x[3600:], ts[3600:])

    told_before = Calibrated(RobustEWMA(), gate_at=GATE_AT, grace_s=1500.0)
    told_before.score_learn(keys[:3500], x[:3500], ts[:3500])
    told_before.rebase(np.array([0]), float(ts[3599]), "repaired")  # 100 points before its time
    assert told_before.held(np.array([0]))[0]  # not yet: the points up to it are still scored on hold
    rest = told_before.score_learn(keys[3500:], x[3500:], ts[3500:])

    np.testing.assert_array_equal(np.r_[first[3500:], after], rest)
    assert float(np.mean(after[-1000:] >= 0.99)) < 0.05


def test_a_series_seeded_with_the_fleets_calibration_scores_calibrated_from_its_first_points() -> None:
    keys, x, t = fault_free()
    fleet_part, new_part = keys < SERIES // 2, keys >= SERIES // 2
    fleet = Calibrated(RobustEWMA())
    fleet.score_learn(keys[fleet_part], x[fleet_part], t[fleet_part])
    stats = fleet.summarize(np.arange(SERIES // 2))
    assert stats.tail is not None
    assert np.isfinite(stats.tail).all()
    tail = TailPrior(*np.median(stats.tail, axis=0).tolist())
    prior = SeriesPrior(float(np.median(stats.level)), float(np.median(stats.scale)), 0.1, False, 20, tail, fleet.name)
    first = 300  # five hours at a point a minute: the cold calibration's warm-up and then some
    seeded, cold = Calibrated(RobustEWMA()), Calibrated(RobustEWMA())
    seeded.seed(np.arange(SERIES // 2, SERIES), [prior] * (SERIES // 2))
    k, v, when = keys[new_part][: first * 20], x[new_part][: first * 20], t[new_part][: first * 20]
    with_prior = seeded.score_learn(k, v, when).reshape(first, 20)
    without = cold.score_learn(k, v, when).reshape(first, 20)
    assert not without[:200].any()  # the cold calibration scores nothing for its warm-up
    for tau in (0.9, 0.99):
        ratio = float(np.mean(with_prior[2:] >= tau)) / (1 - tau)
        assert 0.5 <= ratio <= 2.0, (tau, ratio)


def test_a_calibration_of_another_learners_scores_is_not_taken() -> None:
    tail = TailPrior(0.06, 0.03, 0.03, 0.06, 0.008)
    learner = Calibrated(RobustEWMA())
    learner.seed(np.array([0]), [SeriesPrior(10.0, 1.0, 0.1, False, 5, tail, "noise_ratio@spot")])
    scores = learner.score_learn(np.zeros(50, dtype=np.int64), np.full(50, 10.0), np.arange(50.0))
    assert not scores.any()  # not calibrated: it scores nothing until its own warm-up is over


def test_a_timeout_starts_over_a_pump_that_was_idle_through_the_warm_up() -> None:
    rng = np.random.default_rng(3)
    running = np.where(rng.random(5000) < 0.5, 0.0, 30 + rng.normal(0, 1, 5000))  # on and off, hourly
    x = np.r_[np.zeros(1000), running]
    keys, ts = np.zeros(6000, dtype=np.int64), 3600.0 * np.arange(6000)
    kept = Calibrated(MaxOf([RobustEWMA(), NoiseRatio()]), gate_at=GATE_AT).score_learn(keys, x, ts)
    timed = Calibrated(MaxOf([RobustEWMA(), NoiseRatio()]), gate_at=GATE_AT, rebase_after_s=86_400.0)
    over = timed.score_learn(keys, x, ts)
    assert np.mean(kept[2000:] >= 0.999) > 0.9  # a constant's model has no spread: every run is at the top
    assert np.mean(over[2000:] >= 0.999) < 0.01
    assert [r.reason for r in timed.take_rebases()] == ["timeout"]


@pytest.mark.parametrize(("reason", "starts_over"), [("repaired", False), ("maintenance", False),
                                                    ("new_normal", True)])  # fmt: skip
def test_a_repair_keeps_the_model_and_a_new_normal_starts_the_series_over(reason: str, starts_over: bool) -> None:
    learner = Calibrated(RobustEWMA(), gate_at=GATE_AT)
    keys = np.zeros(400, dtype=np.int64)
    learner.score_learn(keys, np.random.default_rng(0).normal(5, 1, 400), np.arange(400.0))
    before = learner.inner.clone_state()
    learner.rebase(np.array([0]), 399.0, reason)
    assert (int(learner._tail.seen(np.array([0]))[0]) == 0) is starts_over
    assert np.array_equal(learner.inner._last[:1], before._last[:1]) is not starts_over  # type: ignore[attr-defined]
