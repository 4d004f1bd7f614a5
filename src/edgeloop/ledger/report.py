"""The ROI report's data: built from ledger entries and device-day observations by one pure function.

Every money total in the report is a sum of entries: by asset type, by action and by kind each add up to the
net value, and so do the two arms (`reconciles` checks it). Measured figures (the uplift) come from the
observations; the return on the agent's running cost is the measured net-value uplift of the treated fleet,
less the running cost, over the running cost.

>>> from edgeloop.ledger.economics import load_economics
>>> report = build_report([], [], load_economics())
>>> report.net_value, report.reconciles()
(Decimal('0.00'), True)
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from edgeloop.ledger.economics import SiteEconomics
from edgeloop.ledger.entries import Entry, EntryKind
from edgeloop.ledger.holdout import Arm
from edgeloop.ledger.money import ZERO, money
from edgeloop.ledger.observations import DeviceDay
from edgeloop.ledger.uplift import METRICS, Uplift, estimate_uplift

NO_ACTION = "none"


@dataclass(frozen=True, slots=True)
class ArmSummary:
    arm: Arm
    devices: int
    device_days: int
    net_value: Decimal  # all entries of the arm's devices
    realized_net_value: Decimal  # without counterfactual entries
    failures: int
    downtime_h: float
    net_value_per_device_day: float | None  # from the observations
    downtime_h_per_device_day: float | None
    failures_per_device_day: float | None

    def to_json(self) -> dict[str, Any]:
        return {
            "arm": str(self.arm), "devices": self.devices, "device_days": self.device_days,
            "net_value": str(self.net_value), "realized_net_value": str(self.realized_net_value),
            "failures": self.failures, "downtime_h": self.downtime_h,
            "net_value_per_device_day": self.net_value_per_device_day,
            "downtime_h_per_device_day": self.downtime_h_per_device_day,
            "failures_per_device_day": self.failures_per_device_day,
        }  # fmt: skip


@dataclass(frozen=True, slots=True)
class RoiReport:
    currency: str
    first_day: int | None
    last_day: int | None
    days: int  # site-days the running cost is charged for
    entries: int
    net_value: Decimal  # the sum of all entries
    realized_net_value: Decimal  # without the counterfactual (avoided failure) entries
    claimed_avoided: Decimal  # the counterfactual entries alone
    false_alarm_cost: Decimal  # positive: what false alarms cost
    by_asset_type: dict[str, Decimal]
    by_action: dict[str, Decimal]  # the linked decision's command; "none" when no decision is linked
    by_kind: dict[str, Decimal]
    arms: dict[Arm, ArmSummary]
    uplift: dict[str, Uplift]
    running_cost: Decimal
    roi: float | None  # (measured net-value uplift of the treated fleet - running cost) / running cost
    roi_low: float | None
    roi_high: float | None

    def reconciles(self) -> bool:
        """Whether every breakdown of money sums to the net value."""
        breakdowns = [self.by_asset_type.values(), self.by_action.values(), self.by_kind.values()]
        sums = [sum(b, ZERO) for b in breakdowns] + [sum((a.net_value for a in self.arms.values()), ZERO)]
        split = self.realized_net_value + self.claimed_avoided
        return all(s == self.net_value for s in [*sums, split])

    def to_json(self) -> dict[str, Any]:
        """JSON-ready; money as strings so it stays exact."""
        return {
            "currency": self.currency, "first_day": self.first_day, "last_day": self.last_day, "days": self.days,
            "entries": self.entries, "net_value": str(self.net_value),
            "realized_net_value": str(self.realized_net_value), "claimed_avoided": str(self.claimed_avoided),
            "false_alarm_cost": str(self.false_alarm_cost),
            "by_asset_type": _text(self.by_asset_type), "by_action": _text(self.by_action),
            "by_kind": _text(self.by_kind), "arms": {str(k): v.to_json() for k, v in self.arms.items()},
            "uplift": {k: v.to_json() for k, v in self.uplift.items()}, "running_cost": str(self.running_cost),
            "roi": self.roi, "roi_low": self.roi_low, "roi_high": self.roi_high, "reconciles": self.reconciles(),
        }  # fmt: skip


def build_report(
    entries: Iterable[Entry],
    observations: Iterable[DeviceDay],
    economics: SiteEconomics,
    since_day: int | None = None,
    seed: int = 0,
    n_boot: int = 2000,
) -> RoiReport:
    """The report over entries and observations from `since_day` on (all when None)."""
    kept = [e for e in entries if since_day is None or e.day >= since_day]
    obs = [o for o in observations if since_day is None or o.day >= since_day]
    days = sorted({o.day for o in obs} | {e.day for e in kept})
    net = _sum(kept)
    claimed = _sum(e for e in kept if e.kind.counterfactual)
    uplift: dict[str, Uplift] = {m: estimate_uplift(obs, m, seed=seed, n_boot=n_boot) for m in METRICS}
    running = money(economics.agent_running_cost_per_day * len(days))
    roi, low, high = _roi(uplift["net_value"], running)
    return RoiReport(
        currency=economics.currency,
        first_day=days[0] if days else None,
        last_day=days[-1] if days else None,
        days=len(days),
        entries=len(kept),
        net_value=net,
        realized_net_value=net - claimed,
        claimed_avoided=claimed,
        false_alarm_cost=-_sum(e for e in kept if e.kind is EntryKind.FALSE_ALARM),
        by_asset_type=_group(kept, lambda e: e.asset_type),
        by_action=_group(kept, lambda e: e.action or NO_ACTION),
        by_kind=_group(kept, lambda e: str(e.kind)),
        arms={arm: _arm(arm, kept, obs) for arm in Arm},
        uplift=uplift,
        running_cost=running,
        roi=roi,
        roi_low=low,
        roi_high=high,
    )


def _arm(arm: Arm, entries: Sequence[Entry], observations: Sequence[DeviceDay]) -> ArmSummary:
    mine = [e for e in entries if e.arm is arm]
    obs = [o for o in observations if o.arm is arm]
    failures = [e for e in mine if e.kind is EntryKind.FAILURE]
    n = len(obs)
    return ArmSummary(
        arm=arm,
        devices=len({o.device for o in obs} | {e.device for e in mine}),
        device_days=n,
        net_value=_sum(mine),
        realized_net_value=_sum(e for e in mine if not e.kind.counterfactual),
        failures=len(failures),
        downtime_h=sum(e.quantity for e in failures),
        net_value_per_device_day=sum(o.net_value for o in obs) / n if n else None,
        downtime_h_per_device_day=sum(o.downtime_h for o in obs) / n if n else None,
        failures_per_device_day=sum(o.failures for o in obs) / n if n else None,
    )


def _roi(value: Uplift, running: Decimal) -> tuple[float | None, float | None, float | None]:
    """(gain - cost) / cost for the estimate and both interval bounds; None without a cost or an estimate."""
    if not running or not value.asset_types:
        return None, None, None
    cost = float(running)
    return (value.fleet_total - cost) / cost, (value.fleet_ci_low - cost) / cost, (value.fleet_ci_high - cost) / cost


def _sum(entries: Iterable[Entry]) -> Decimal:
    return sum((e.amount for e in entries), ZERO)


def _group(entries: Iterable[Entry], key: Any) -> dict[str, Decimal]:
    groups: dict[str, Decimal] = {}
    for e in entries:
        groups[key(e)] = groups.get(key(e), ZERO) + e.amount
    return dict(sorted(groups.items()))


def _text(amounts: dict[str, Decimal]) -> dict[str, str]:
    return {k: str(v) for k, v in amounts.items()}
