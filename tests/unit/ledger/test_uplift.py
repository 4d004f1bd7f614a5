"""Uplift: exact answers on constructed data, stratum weights, the verdict, and coverage on simulated fleets."""

from __future__ import annotations

import numpy as np
import pytest

from edgeloop.ledger import Arm, DeviceDay, estimate_uplift


def arm_days(asset: str, arm: Arm, values: list[list[float]], prefix: str = "") -> list[DeviceDay]:
    """One device per row of `values`, one device-day per value (as net value)."""
    return [
        DeviceDay(f"{prefix}{asset}-{arm}-{i}", asset, arm, day, 0.0, 0, v)
        for i, row in enumerate(values)
        for day, v in enumerate(row)
    ]


def test_difference_of_rates_and_fleet_scaling_are_exact() -> None:
    treated = arm_days("pump", Arm.TREATED, [[1, 3], [2, 2], [6, 0, 3]])  # 17 over 7 device-days
    holdout = arm_days("pump", Arm.HOLDOUT, [[1, 1], [0, 2]])  # 4 over 4

    u = estimate_uplift(treated + holdout, "net_value")

    assert u.per_device_day == pytest.approx(17 / 7 - 1)
    assert u.fleet_total == pytest.approx(7 * (17 / 7 - 1))
    assert u.relative == pytest.approx(17 / 7 - 1)
    assert u.ci_low <= u.per_device_day <= u.ci_high


def test_asset_types_are_weighted_by_treated_device_days() -> None:
    pumps = arm_days("pump", Arm.TREATED, [[5.0] * 3] * 3) + arm_days("pump", Arm.HOLDOUT, [[1.0] * 3] * 2)
    motors = arm_days("motor", Arm.TREATED, [[2.0] * 3]) + arm_days("motor", Arm.TREATED, [[2.0] * 3], "b")
    motors += arm_days("motor", Arm.HOLDOUT, [[2.0] * 3] * 2)

    u = estimate_uplift(pumps + motors, "net_value")

    assert u.per_device_day == pytest.approx((9 * 4 + 6 * 0) / 15)  # pumps gain 4 on 9 of 15 treated days
    assert u.fleet_total == pytest.approx(36)
    assert u.asset_types == ("motor", "pump")


def test_identical_devices_give_a_zero_width_interval() -> None:
    days = arm_days("pump", Arm.TREATED, [[4.0] * 10] * 4) + arm_days("pump", Arm.HOLDOUT, [[1.0] * 10] * 3)

    u = estimate_uplift(days, "net_value")

    assert (u.ci_low, u.per_device_day, u.ci_high) == (3.0, 3.0, 3.0)
    assert u.conclusive


def test_a_clear_difference_on_too_few_device_days_claims_nothing_yet() -> None:
    days = arm_days("pump", Arm.TREATED, [[4.0]] * 8) + arm_days("pump", Arm.HOLDOUT, [[1.0]] * 3)

    u = estimate_uplift(days, "net_value")

    assert u.ci_low > 0
    assert not u.conclusive
    assert "too little data" in u.verdict


def test_no_effect_is_declared_too_wide_to_claim() -> None:
    rng = np.random.default_rng(1)
    days = arm_days("pump", Arm.TREATED, rng.normal(0, 1, (20, 10)).tolist())
    days += arm_days("pump", Arm.HOLDOUT, rng.normal(0, 1, (20, 10)).tolist())

    u = estimate_uplift(days, "net_value")

    assert u.ci_low < 0 < u.ci_high
    assert not u.conclusive
    assert "too wide to claim" in u.verdict


def test_same_seed_same_interval_other_seed_other_interval() -> None:
    rng = np.random.default_rng(2)
    days = arm_days("pump", Arm.TREATED, rng.normal(1, 1, (10, 5)).tolist())
    days += arm_days("pump", Arm.HOLDOUT, rng.normal(0, 1, (10, 5)).tolist())

    first, again, other = (estimate_uplift(days, "net_value", seed=s) for s in (0, 0, 1))

    assert (first.ci_low, first.ci_high) == (again.ci_low, again.ci_high)
    assert (first.ci_low, first.ci_high) != (other.ci_low, other.ci_high)


def test_asset_type_without_two_holdout_devices_is_left_out() -> None:
    days = arm_days("pump", Arm.TREATED, [[1.0]] * 3) + arm_days("pump", Arm.HOLDOUT, [[0.0]])

    u = estimate_uplift(days, "net_value")

    assert u.asset_types == ()
    assert not u.conclusive
    assert "No estimate" in u.verdict


def test_interval_covers_the_true_effect_about_95_percent_of_the_time() -> None:
    """Devices differ (a random level each) and days are noisy: the cluster bootstrap must still cover."""
    rng = np.random.default_rng(42)
    effect, runs, covered = 0.5, 200, 0
    for run in range(runs):
        days = []
        for arm, shift in ((Arm.TREATED, effect), (Arm.HOLDOUT, 0.0)):
            levels = rng.normal(shift, 1.0, size=40)
            values = levels[:, None] + rng.normal(0, 2.0, size=(40, 15))
            days += arm_days("pump", arm, values.tolist())
        u = estimate_uplift(days, "net_value", seed=run, n_boot=400)
        covered += u.ci_low <= effect <= u.ci_high

    assert 0.88 <= covered / runs <= 0.99


def test_downtime_and_failures_are_measured_from_their_fields() -> None:
    days = [DeviceDay(f"t{i}", "pump", Arm.TREATED, 0, downtime_h=1.0, failures=0, net_value=0.0) for i in range(4)] + [
        DeviceDay(f"h{i}", "pump", Arm.HOLDOUT, 0, downtime_h=4.0, failures=1, net_value=0.0) for i in range(2)
    ]

    downtime, failures = estimate_uplift(days, "downtime_h"), estimate_uplift(days, "failures")

    assert (downtime.per_device_day, downtime.relative) == (-3.0, -0.75)
    assert failures.per_device_day == -1.0
