"""The headline of a site's ROI: one definition of every figure a manager is shown, from one report.

`edgeloop roi report`, its HTML page, the API (`GET /roi`, field `headline`), the dashboard and the demo all
show these figures and these labels, formatted here, so the same ledger reads the same everywhere. The headline
figure is the *measured* one: the treated devices against the randomized holdout, with its 95% interval.
What the agent *claims* (failures its maintenance found and so, it says, avoided) is shown apart, labelled as
a claim: it is not measured against anything. `GLOSSARY` says what each term means, in a manager's words
(also in docs/ledger.md and in the dashboard's tooltips).

>>> from edgeloop.ledger.economics import load_economics
>>> from edgeloop.ledger.report import build_report
>>> h = headline(build_report([], [], load_economics()))
>>> h.conclusive, h.value_per_device_day is None
(False, True)
>>> h.verdict
'No measured result yet: the ledger has no device-days with both treated and holdout devices.'
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, replace
from typing import Any

from edgeloop.ledger.holdout import Arm
from edgeloop.ledger.report import RoiReport
from edgeloop.ledger.uplift import Uplift

#: what each headline term means, for someone who runs a plant, not a statistician
GLOSSARY: dict[str, str] = {
    "measured value": "What the agent earned, measured: the money per device per day on the devices it looked "
    "after (treated) minus the same on devices chosen at random that it watched but left alone (holdout). "
    "Failures, downtime, repairs, maintenance, false alarms, energy and lost output all count.",
    "95% interval": "The range the measured value lies in with 95% confidence. When the whole range is above "
    "zero the agent has shown it earns money; when it includes zero, not yet (too few devices or days).",
    "value to date": "The measured value per device-day times the treated device-days so far.",
    "downtime cut": "How much less unplanned downtime (hours the devices were broken) the treated devices had "
    "per day than the holdout devices.",
    "device-day": "One device for one day: the unit the ledger counts in.",
    "treated": "Devices the agent may act on (send maintenance, slow down).",
    "holdout": "Devices chosen at random where the agent decides but does not act: the baseline that makes the "
    "measured value a measurement and not a claim.",
    "return on running cost": "Measured value to date, less what running the agent cost (hardware, power, "
    "looking after it), divided by that cost: 2x means it earned three times what it cost.",
    "booked money (realized)": "Every cost and saving the ledger booked on all devices, both arms: repairs, "
    "downtime, maintenance, energy. On its own it says nothing about the agent, since broken devices cost "
    "money with or without it.",
    "claimed (not measured)": "Failures the agent says it avoided because maintenance found a developing fault, "
    "valued at a typical failure's cost. A claim, not a measurement: it is shown apart and left out of the "
    "measured value.",
}


@dataclass(frozen=True, slots=True)
class Headline:
    currency: str
    value_per_device_day: float | None  # measured: treated minus holdout net value per device-day
    value_ci_low: float | None
    value_ci_high: float | None
    value_to_date: float | None  # the per-device-day value times the treated device-days
    value_to_date_low: float | None
    value_to_date_high: float | None
    conclusive: bool  # the interval excludes zero, with enough device-days
    downtime_reduction: float | None  # 1 - treated/holdout unplanned downtime per device-day
    downtime_reduction_low: float | None
    downtime_reduction_high: float | None
    treated_devices: int
    holdout_devices: int
    treated_days: int  # device-days
    holdout_days: int
    running_cost: float
    return_on_cost: float | None
    return_on_cost_low: float | None
    return_on_cost_high: float | None
    realized_net_value: float  # booked on all devices, both arms
    claimed_avoided: float  # the agent's claim, not measured
    verdict: str

    def to_json(self) -> dict[str, Any]:
        shown = rows(self)
        return {
            **asdict(self),
            "rows": [list(r) for r in shown],
            "glossary": {label: GLOSSARY[label] for label, _ in shown if label in GLOSSARY},
        }


def headline(report: RoiReport) -> Headline:
    value, downtime = report.uplift["net_value"], report.uplift["downtime_h"]
    measured = bool(value.asset_types) and not math.isnan(value.per_device_day)
    cut, cut_low, cut_high = _reduction(downtime)
    treated, held = report.arms[Arm.TREATED], report.arms[Arm.HOLDOUT]
    h = Headline(
        currency=report.currency,
        value_per_device_day=_num(value.per_device_day) if measured else None,
        value_ci_low=_num(value.ci_low) if measured else None,
        value_ci_high=_num(value.ci_high) if measured else None,
        value_to_date=_num(value.fleet_total) if measured else None,
        value_to_date_low=_num(value.fleet_ci_low) if measured else None,
        value_to_date_high=_num(value.fleet_ci_high) if measured else None,
        conclusive=value.conclusive,
        downtime_reduction=cut,
        downtime_reduction_low=cut_low,
        downtime_reduction_high=cut_high,
        treated_devices=treated.devices,
        holdout_devices=held.devices,
        treated_days=treated.device_days,
        holdout_days=held.device_days,
        running_cost=float(report.running_cost),
        return_on_cost=report.roi,
        return_on_cost_low=report.roi_low,
        return_on_cost_high=report.roi_high,
        realized_net_value=float(report.realized_net_value),
        claimed_avoided=float(report.claimed_avoided),
        verdict="",
    )
    return replace(h, verdict=verdict(h))


def _num(x: float) -> float | None:
    return None if math.isnan(x) else x


def _reduction(downtime: Uplift) -> tuple[float | None, float | None, float | None]:
    """The downtime cut and its interval, as fractions of the holdout's downtime rate."""
    base = downtime.holdout_rate
    if not downtime.asset_types or math.isnan(base) or base <= 0:
        return None, None, None
    return -downtime.per_device_day / base, -downtime.ci_high / base, -downtime.ci_low / base


def verdict(h: Headline) -> str:
    """One plain sentence a manager can repeat."""
    if h.value_per_device_day is None or h.value_ci_low is None or h.value_ci_high is None:
        return "No measured result yet: the ledger has no device-days with both treated and holdout devices."
    cur = h.currency
    cut = "" if h.downtime_reduction is None else f"cut unplanned downtime by {h.downtime_reduction:.0%} and "
    measured = (
        f"{cut}changed net value by {h.value_per_device_day:+,.0f} {cur} per device-day (95% interval "
        f"{h.value_ci_low:+,.0f} to {h.value_ci_high:+,.0f}), measured on {h.treated_devices} treated against "
        f"{h.holdout_devices} holdout devices over {h.treated_days + h.holdout_days:,} device-days"
    )
    if h.conclusive and h.value_ci_low > 0:
        return f"The agent {measured}: it pays."
    if h.conclusive:
        return f"The agent {measured}: it costs more than it saves here."
    return f"Not proven yet: the agent {measured}; the interval includes zero or the data are too few."


def _times(ratio: float | None) -> str:
    """A ratio with no more digits than it has meaning: `2.4x`, `19,248x`.

    >>> _times(2.44), _times(19_247.7), _times(-0.5), _times(None)
    ('2.4x', '19,248x', '-0.5x', 'n/a')
    """
    if ratio is None:
        return "n/a"
    return f"{ratio:,.0f}x" if abs(ratio) >= 100 else f"{ratio:,.1f}x"


def rows(h: Headline) -> list[tuple[str, str]]:
    """The headline as (label, text) rows, the same in every place that shows it."""
    cur = h.currency
    out: list[tuple[str, str]] = []
    if h.value_per_device_day is not None:
        out.append(("measured value", f"{h.value_per_device_day:+,.0f} {cur} per device-day"))
        out.append(("95% interval", f"{h.value_ci_low:+,.0f} to {h.value_ci_high:+,.0f} {cur}"))
        out.append(("value to date", f"{h.value_to_date:+,.0f} {cur} ({h.value_to_date_low:+,.0f} to "
                                      f"{h.value_to_date_high:+,.0f})"))  # fmt: skip
    else:
        out.append(("measured value", "not measured yet"))
    if h.downtime_reduction is not None:
        out.append(("downtime cut", f"{h.downtime_reduction:.0%} ({h.downtime_reduction_low:.0%} to "
                                     f"{h.downtime_reduction_high:.0%})"))  # fmt: skip
    out.append(("treated", f"{h.treated_devices} devices, {h.treated_days:,} device-days"))
    out.append(("holdout", f"{h.holdout_devices} devices, {h.holdout_days:,} device-days"))
    if h.return_on_cost is not None:
        ratio = f"{_times(h.return_on_cost)} ({_times(h.return_on_cost_low)} to {_times(h.return_on_cost_high)})"
        out.append(("return on running cost", f"{ratio} on {h.running_cost:,.0f} {cur}"))
    out.append(("booked money (realized)", f"{h.realized_net_value:+,.0f} {cur}"))
    out.append(("claimed (not measured)", f"{h.claimed_avoided:+,.0f} {cur}"))
    return out
