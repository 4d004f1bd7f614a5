"""Report: every total equals the sum of the entries, and the figures come from the right entries."""

from __future__ import annotations

import json
from decimal import Decimal

import numpy as np
import pytest
from tests.unit.ledger.builders import H, decision, outcome

from edgeloop.ledger import (
    Arm,
    EntryKind,
    HoldoutDesign,
    HoldoutRecord,
    Ledger,
    RoiReport,
    SiteEconomics,
    Usage,
    attribute,
    build_report,
    device_days,
)
from edgeloop.model import DecisionStatus

DAY0 = 19_000
DAYS = range(DAY0, DAY0 + 10)


def simulated_ledger(economics: SiteEconomics, seed: int) -> tuple[Ledger, HoldoutRecord]:
    """A random fortnight of a 40-device site: decisions, maintenance, failures, inspections, energy."""
    rng = np.random.default_rng(seed)
    record = HoldoutDesign(seed=seed).assign({f"{a}-{i}": a for a in ("pump", "motor") for i in range(20)})
    decisions, outcomes, usage = [], [], []
    for a in record.assignments:
        for day in DAYS:
            t = day * 86_400.0 + float(rng.uniform(0, 12 * H))
            usage.append(Usage(a.device, day, float(rng.uniform(100, 900)), float(rng.choice([0.0, 0.0, 1.5]))))
            roll = rng.random()
            status = DecisionStatus.HELD_OUT if a.arm is Arm.HOLDOUT else DecisionStatus.SENT
            if roll < 0.3:
                decisions.append(decision(a.device, t, status))
            if roll < 0.15 and a.arm is Arm.TREATED:
                found = rng.choice(["bearing_wear", "stuck", ""])
                outcomes.append(outcome(a.device, t + H, "maintenance_started", found=str(found) or None))
            elif roll < 0.25:
                outcomes.append(outcome(a.device, t + 2 * H, "failure", downtime_s=float(rng.uniform(8, 24)) * H))
            elif roll < 0.3:
                outcomes.append(outcome(a.device, t + H, "inspection", found=None))
    ledger = Ledger()
    ledger.extend(attribute(economics, record, decisions, outcomes, usage))
    return ledger, record


def report_of(economics: SiteEconomics, seed: int) -> tuple[RoiReport, Ledger]:
    ledger, record = simulated_ledger(economics, seed)
    return build_report(ledger, device_days(ledger, record, DAYS), economics, n_boot=200), ledger


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_every_total_equals_the_sum_of_the_entries(economics: SiteEconomics, seed: int) -> None:
    report, ledger = report_of(economics, seed)
    total = sum((e.amount for e in ledger), Decimal(0))

    assert report.net_value == total == ledger.total()
    assert sum(report.by_asset_type.values()) == total
    assert sum(report.by_action.values()) == total
    assert sum(report.by_kind.values()) == total
    assert sum(a.net_value for a in report.arms.values()) == total
    assert report.realized_net_value + report.claimed_avoided == total
    assert report.reconciles()


def test_json_totals_equal_the_sum_of_the_entries(economics: SiteEconomics) -> None:
    report, ledger = report_of(economics, 3)

    data = json.loads(json.dumps(report.to_json()))

    assert Decimal(data["net_value"]) == ledger.total()
    assert sum(Decimal(v) for v in data["by_action"].values()) == ledger.total()
    assert sum(Decimal(a["net_value"]) for a in data["arms"].values()) == ledger.total()
    assert data["reconciles"] is True


def test_observations_net_value_equals_the_realized_entries(economics: SiteEconomics) -> None:
    ledger, record = simulated_ledger(economics, 4)

    observed = sum(o.net_value for o in device_days(ledger, record, DAYS))

    realized = sum(float(e.amount) for e in ledger if not e.kind.counterfactual)
    assert observed == pytest.approx(realized)


def test_false_alarm_cost_and_running_cost(economics: SiteEconomics) -> None:
    report, ledger = report_of(economics, 5)

    alarms = -sum((e.amount for e in ledger if e.kind is EntryKind.FALSE_ALARM), Decimal(0))
    assert report.false_alarm_cost == alarms > 0
    assert report.running_cost == Decimal(10) * len(DAYS)
    assert report.days == len(DAYS)


def test_arms_side_by_side_count_their_own_failures(economics: SiteEconomics) -> None:
    report, ledger = report_of(economics, 6)

    for arm, summary in report.arms.items():
        failures = [e for e in ledger if e.arm is arm and e.kind is EntryKind.FAILURE]
        assert summary.failures == len(failures)
        assert summary.downtime_h == pytest.approx(sum(e.quantity for e in failures))
    assert report.arms[Arm.TREATED].device_days == 32 * len(DAYS)


def test_roi_is_the_measured_gain_over_the_running_cost(economics: SiteEconomics) -> None:
    report, _ = report_of(economics, 7)
    value, cost = report.uplift["net_value"], float(report.running_cost)

    assert report.roi == pytest.approx((value.fleet_total - cost) / cost)
    assert report.roi_low is not None
    assert report.roi_high is not None
    assert report.roi_low <= report.roi <= report.roi_high


def test_since_day_keeps_later_entries_only(economics: SiteEconomics) -> None:
    ledger, record = simulated_ledger(economics, 8)

    report = build_report(ledger, device_days(ledger, record, DAYS), economics, since_day=DAY0 + 5, n_boot=50)

    assert report.net_value == sum((e.amount for e in ledger if e.day >= DAY0 + 5), Decimal(0))
    assert report.first_day == DAY0 + 5


def test_ledger_refuses_entries_out_of_sequence(economics: SiteEconomics) -> None:
    ledger, _ = simulated_ledger(economics, 9)
    entries = list(ledger)

    with pytest.raises(ValueError, match="seq"):
        Ledger([entries[1], entries[0]])
