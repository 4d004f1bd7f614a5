"""The measured uplift: treated against holdout devices per device-day, with a 95% cluster-bootstrap interval.

Estimator (the effect on the treated fleet): within each asset type s, the rate of a metric per device-day in
each arm is (sum over the arm's devices) / (their device-days); the uplift is the treated minus the holdout rate,
averaged over asset types with weights equal to their share of treated device-days. Scaled to the treated fleet
it is the sum over s of (treated device-days in s) x (rate difference in s).

Interval: device-days of one device are not independent (a device that fails often keeps failing), so the
bootstrap resamples whole devices, with replacement, within each asset type and arm (a stratified cluster
bootstrap), recomputes the estimate, and takes the 2.5th and 97.5th percentiles. It is seeded, so the same data
give the same interval. With few devices per arm percentile intervals run narrow; an asset type needs at least
two devices in each arm to be used at all. An interval that includes zero claims nothing, and says so; nor does
one from fewer than `min_device_days` device-days in either arm: a handful of days shows no rare event (a
holdout of ten devices that had no failure in its first day), so the bootstrap has nothing to resample and the
interval comes out narrow and wrong.

>>> from edgeloop.ledger.holdout import Arm
>>> days = [DeviceDay(f"d{i}", "pump", Arm.TREATED if i < 8 else Arm.HOLDOUT, day, 0.0, 0, 5.0 if i < 8 else 2.0)
...         for i in range(12) for day in range(10)]
>>> u = estimate_uplift(days, "net_value")
>>> u.per_device_day, u.ci_low, u.ci_high, u.fleet_total, u.conclusive
(3.0, 3.0, 3.0, 240.0, True)
>>> estimate_uplift([d for d in days if d.day == 0], "net_value").conclusive  # 4 holdout device-days
False
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from typing import Any, Literal

import numpy as np
from numpy.typing import NDArray

from edgeloop.ledger.holdout import Arm
from edgeloop.ledger.observations import DeviceDay

Metric = Literal["downtime_h", "failures", "net_value"]
METRICS: tuple[Metric, ...] = ("downtime_h", "failures", "net_value")
MIN_DEVICES = 2
MIN_DEVICE_DAYS = 30


@dataclass(frozen=True, slots=True)
class Uplift:
    metric: str
    treated_rate: float  # per device-day, on the treated asset-type mix
    holdout_rate: float
    per_device_day: float  # treated minus holdout
    ci_low: float
    ci_high: float
    fleet_total: float  # per_device_day scaled to the treated fleet's device-days
    fleet_ci_low: float
    fleet_ci_high: float
    relative: float | None  # per_device_day / holdout_rate (e.g. -0.6: 60% less downtime)
    conclusive: bool  # the interval excludes zero
    verdict: str
    treated_devices: int
    holdout_devices: int
    asset_types: tuple[str, ...]  # the asset types the estimate uses

    def to_json(self) -> dict[str, Any]:
        return {k: (None if isinstance(v, float) and math.isnan(v) else v) for k, v in asdict(self).items()}


@dataclass(frozen=True, slots=True)
class _Stratum:
    treated_days: float
    arms: dict[Arm, tuple[NDArray[np.float64], NDArray[np.float64]]]  # per device: (sum of metric, device-days)


def estimate_uplift(
    observations: Iterable[DeviceDay],
    metric: Metric,
    seed: int = 0,
    n_boot: int = 2000,
    level: float = 0.95,
    min_device_days: int = MIN_DEVICE_DAYS,
) -> Uplift:
    strata, left_out = _strata(observations, metric)
    counts = {arm: sum(len(s.arms[arm][0]) for s in strata.values()) for arm in Arm}
    if not strata:
        why = "no asset type has at least two devices in each arm" + (f" ({', '.join(left_out)})" if left_out else "")
        nan = math.nan
        return Uplift(metric, nan, nan, nan, nan, nan, nan, nan, nan, None, False, f"No estimate: {why}.",
                      counts[Arm.TREATED], counts[Arm.HOLDOUT], ())  # fmt: skip
    rng = np.random.default_rng(seed)
    total_days = sum(s.treated_days for s in strata.values())
    fleet = np.zeros(n_boot + 1)  # column 0: the estimate itself; 1..n_boot: bootstrap replicates
    treated_rate = holdout_rate = 0.0
    for stratum in strata.values():
        rates = {arm: _rates(*stratum.arms[arm], rng, n_boot) for arm in Arm}
        fleet += stratum.treated_days * (rates[Arm.TREATED] - rates[Arm.HOLDOUT])
        treated_rate += stratum.treated_days / total_days * float(rates[Arm.TREATED][0])
        holdout_rate += stratum.treated_days / total_days * float(rates[Arm.HOLDOUT][0])
    tail = (1 - level) / 2 * 100
    fleet_low, fleet_high = (float(q) for q in np.percentile(fleet[1:], [tail, 100 - tail]))
    estimate = float(fleet[0]) / total_days
    low, high = fleet_low / total_days, fleet_high / total_days
    arm_days = {arm: sum(float(s.arms[arm][1].sum()) for s in strata.values()) for arm in Arm}
    few = min(arm_days.values()) < min_device_days
    conclusive = (low > 0 or high < 0) and not few
    relative = estimate / holdout_rate if holdout_rate else None
    return Uplift(
        metric, treated_rate, holdout_rate, estimate, low, high, float(fleet[0]), fleet_low, fleet_high, relative,
        conclusive, _verdict(metric, estimate, low, high, level, conclusive, left_out, arm_days, min_device_days),
        counts[Arm.TREATED], counts[Arm.HOLDOUT], tuple(sorted(strata)),
    )  # fmt: skip


def _rates(
    sums: NDArray[np.float64], days: NDArray[np.float64], rng: np.random.Generator, n_boot: int
) -> NDArray[np.float64]:
    """The arm's rate per device-day, then `n_boot` rates over devices resampled with replacement."""
    picks = rng.integers(0, len(sums), size=(n_boot, len(sums)))
    boot = sums[picks].sum(axis=1) / days[picks].sum(axis=1)
    return np.concatenate([[sums.sum() / days.sum()], boot])


def _strata(observations: Iterable[DeviceDay], metric: Metric) -> tuple[dict[str, _Stratum], list[str]]:
    per_device: dict[tuple[str, Arm, str], list[float]] = {}
    for o in observations:
        t = per_device.setdefault((o.asset_type, o.arm, o.device), [0.0, 0.0])
        t[0] += float(getattr(o, metric))
        t[1] += 1
    strata: dict[str, _Stratum] = {}
    left_out: list[str] = []
    for asset in sorted({k[0] for k in per_device}):
        arms = {}
        for arm in Arm:
            rows = [v for (a, r, _), v in sorted(per_device.items()) if a == asset and r is arm]
            arms[arm] = (np.array([r[0] for r in rows]), np.array([r[1] for r in rows]))
        if min(len(arms[arm][0]) for arm in Arm) < MIN_DEVICES:
            left_out.append(asset)
            continue
        strata[asset] = _Stratum(float(arms[Arm.TREATED][1].sum()), arms)
    return strata, left_out


def _verdict(
    metric: str,
    estimate: float,
    low: float,
    high: float,
    level: float,
    conclusive: bool,
    left_out: list[str],
    arm_days: dict[Arm, float],
    min_device_days: int,
) -> str:
    pct = f"{level:.0%}"
    text = f"Treated minus holdout {metric} per device-day: {estimate:+.4g} ({pct} interval {low:+.4g} to {high:+.4g})"
    fewest = min(arm_days.values())
    if fewest < min_device_days:
        text += (
            f"; too little data to claim anything yet ({fewest:.0f} device-days in an arm, {min_device_days} needed)."
        )
    elif conclusive:
        text += "; the interval excludes zero."
    else:
        text += "; the interval includes zero: too wide to claim an effect yet."
    if left_out:
        text += f" Left out for lack of devices in an arm: {', '.join(left_out)}."
    return text
